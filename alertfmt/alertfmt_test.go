package alertfmt

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/alert"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func detection() *alert.Alert {
	return &alert.Alert{
		ID: "35123b679009705c6be3672291ffba53", Time: t0, Kind: alert.KindDetection,
		Rule:     alert.Rule{ID: "2b938519-0000-4000-8000-000000000001", Title: "SSH Failed Password", Level: "medium", Tags: []string{"attack.credential_access", "attack.t1110.001"}},
		Score:    50,
		Entities: alert.Entities{User: []string{"root"}, Host: []string{"web-1"}, IP: []string{"203.0.113.50"}},
		Event:    json.RawMessage(`{"message":"Failed password for root from 203.0.113.50 port 22 ssh2","src_ip":"203.0.113.50"}`),
		Source:   &alert.Source{Topic: "auth", Partition: 1, Offset: 42},
	}
}

func correlation() *alert.Alert {
	return &alert.Alert{
		ID: "aa11", Time: t0.Add(time.Minute), Kind: alert.KindCorrelation,
		Rule:     alert.Rule{ID: "c0ffee00-0000-4000-8000-000000000002", Title: "SSH Brute Force", Level: "high", Tags: []string{"attack.t1110"}},
		Score:    80,
		Entities: alert.Entities{User: []string{"admin", "root"}, Host: []string{}, IP: []string{"203.0.113.50"}},
		Group:    map[string]string{"src_ip": "203.0.113.50"},
		Correlation: &alert.Correlation{Type: "event_count", Count: 10, First: t0, Last: t0.Add(time.Minute),
			AlertIDs: []string{"35123b679009705c6be3672291ffba53", "b2"}},
	}
}

func encode(t *testing.T, format string, a *alert.Alert) map[string]any {
	t.Helper()
	enc, err := New(format, Options{Version: "1.2.3", Now: func() time.Time { return t0.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	b, err := enc.Append([]byte("prefix"), a)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "prefix{") || strings.Contains(string(b), "\n") {
		t.Fatalf("Append must append one line: %q", b)
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(string(b[len("prefix"):])))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestVigilIsTheContract(t *testing.T) {
	for _, a := range []*alert.Alert{detection(), correlation()} {
		got, err := Vigil{}.Append(nil, a)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(a)
		if string(got) != string(want) {
			t.Errorf("vigil format differs from the alert JSON:\n%s\n%s", got, want)
		}
	}
	if _, err := New("xml", Options{}); err == nil {
		t.Error("unknown format accepted")
	}
}

// The event is spliced in rather than marshalled (see Vigil.Append): the result must be
// byte for byte what encoding/json writes, whatever the event's spacing and escapes and whatever
// the other fields hold.
func TestVigilSplicesTheEventAsEncodingJSONWould(t *testing.T) {
	events := []string{
		`{"a":1}`, `{ "a" : 1 , "b" : [ 1 , 2 ] }`, "{\n\t\"a\": \"x y\",\r\n \"b\": {\"c\": null}\n}",
		`{"CommandLine":"cmd /c \"echo \\\" > x\" & <y>","Image":"C:\\Windows\\","q":"\\"}`,
		`{"u":"é ü \u2028 \ud83d\ude00","n":-1.5e3,"t":true,"f":false,"z":null,"e":"","s":" "}`,
		`{"nested":{"deep":[{"x":"\"event\":0"},[],{}]}}`,
	}
	// The decoder tolerates raw control characters in strings, which JSON and encoding/json do
	// not: they come out escaped, the alert valid JSON.
	for _, ev := range []string{"{\"a\":\"tab\there\",\"b\": \"\x01\"}", "{\"a\":\"x\ny\"}"} {
		a := detection()
		a.Event = json.RawMessage(ev)
		got, err := Vigil{}.Append(nil, a)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(got, &m); err != nil {
			t.Fatalf("%q: alert is not JSON: %v\n%s", ev, err, got)
		}
		if e := m["event"].(map[string]any); !strings.Contains(e["a"].(string), "\t") && !strings.Contains(e["a"].(string), "\n") {
			t.Errorf("%q: control character lost: %q", ev, e["a"])
		}
	}
	var indented bytes.Buffer
	for _, ev := range events[:len(events):len(events)] {
		indented.Reset()
		if err := json.Indent(&indented, []byte(ev), "", "   "); err != nil {
			t.Fatalf("%s: %v", ev, err)
		}
		events = append(events, indented.String())
	}
	for i, ev := range events {
		a := detection()
		a.Event = json.RawMessage(ev)
		var compact bytes.Buffer
		a.EventCompact = json.Compact(&compact, []byte(ev)) == nil && compact.String() == ev
		switch i % 4 {
		case 1:
			a.Rule.Title = "odd \"title\" \\ <&> \b\f\n\r\t\x01\x7f \u2028\u2029 é \xff end"
			a.Rule.Name, a.Rule.Tags = "named", nil
			a.Score, a.Count = 0, 3
			a.Group = map[string]string{"z": "1", "a\"b": "2", "m": ""}
			a.Entities = alert.Entities{User: nil, Host: []string{}, IP: []string{"::1", "1.2.3.4"}}
		case 2:
			a.Source = nil
			a.Time = time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("x", -3*3600-1800))
		case 3:
			a.Event = nil
			a.Time = time.Time{}
		}
		got, err := Vigil{}.Append([]byte("x"), a)
		if err != nil {
			t.Fatal(err)
		}
		want, err := appendJSON([]byte("x"), a)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("event %q:\n got %s\nwant %s", ev, got, want)
		}
	}
}

func get(m map[string]any, path string) any {
	var v any = m
	for _, p := range strings.Split(path, ".") {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

func TestECS(t *testing.T) {
	m := encode(t, "ecs", detection())
	want := map[string]string{
		"@timestamp": "2026-01-02T03:04:05Z", "event.kind": "alert", "event.id": "35123b679009705c6be3672291ffba53",
		"event.severity": "50", "rule.name": "SSH Failed Password", "rule.ruleset": "sigma", "user.name": "root",
		"host.name": "web-1", "threat.framework": "MITRE ATT&CK", "ecs.version": ECSVersion, "vigil.kind": "detection",
		"vigil.source.offset": "42", "labels.sigma_level": "medium", "observer.version": "1.2.3",
		"event.original":      `{"message":"Failed password for root from 203.0.113.50 port 22 ssh2","src_ip":"203.0.113.50"}`,
		"threat.technique.id": "[T1110.001]", "threat.tactic.id": "[TA0006]", "related.ip": "[203.0.113.50]",
		"event.category": "[intrusion_detection]",
	}
	for path, w := range want {
		if got := fmt.Sprint(get(m, path)); got != w {
			t.Errorf("%s = %s, want %s", path, got, w)
		}
	}
	c := encode(t, "ecs", correlation())
	if get(c, "user") != nil || fmt.Sprint(get(c, "related.user")) != "[admin root]" || fmt.Sprint(get(c, "vigil.group.src_ip")) != "203.0.113.50" ||
		get(c, "event.start") != "2026-01-02T03:04:05Z" || get(c, "event.end") != "2026-01-02T03:05:05Z" {
		t.Errorf("correlation as ECS: %v", c)
	}
}

// ocsfObject is the part of an OCSF 1.3.0 class or object definition the test checks: which
// attributes exist, their types, and which are required. Taken from the schema's
// events/base_event.json, events/findings/finding.json, events/findings/detection_finding.json and
// objects/{finding_info,analytic,attack,technique,tactic,related_event,metadata,product,observable}.json.
type ocsfObject struct {
	attrs    map[string]string // name → int, long, string, bool, timestamp, json, object:NAME, []TYPE
	required []string
	enums    map[string][]int
}

var ocsfSchema = map[string]ocsfObject{
	"detection_finding": {
		attrs: map[string]string{
			"activity_id": "int", "activity_name": "string", "category_uid": "int", "category_name": "string",
			"class_uid": "int", "class_name": "string", "type_uid": "long", "type_name": "string",
			"severity_id": "int", "severity": "string", "status_id": "int", "status": "string", "status_code": "string",
			"status_detail": "string", "time": "timestamp", "start_time": "timestamp", "end_time": "timestamp",
			"count": "int", "duration": "long", "message": "string", "risk_score": "int", "risk_level": "string",
			"risk_level_id": "int", "confidence_id": "int", "confidence": "string", "confidence_score": "int",
			"finding_info": "object:finding_info", "metadata": "object:metadata", "observables": "[]object:observable",
			"raw_data": "string", "unmapped": "json", "timezone_offset": "int", "enrichments": "json",
			"evidences": "json", "resources": "json", "remediation": "json", "vulnerabilities": "json",
			"malware": "json", "impact": "string", "impact_id": "int", "impact_score": "int", "comment": "string",
			"device": "json", "api": "json", "cloud": "json", "actor": "json",
		},
		required: []string{"activity_id", "category_uid", "class_uid", "type_uid", "severity_id", "time", "finding_info", "metadata"},
		enums: map[string][]int{"activity_id": {0, 1, 2, 3, 99}, "severity_id": {0, 1, 2, 3, 4, 5, 6, 99},
			"status_id": {0, 1, 2, 3, 4, 5, 6, 99}, "category_uid": {2}, "class_uid": {2004}},
	},
	"finding_info": {
		attrs: map[string]string{"uid": "string", "title": "string", "desc": "string", "types": "[]string",
			"analytic": "object:analytic", "attacks": "[]object:attack", "created_time": "timestamp",
			"modified_time": "timestamp", "first_seen_time": "timestamp", "last_seen_time": "timestamp",
			"related_events": "[]object:related_event", "related_analytics": "json", "src_url": "string",
			"product_uid": "string", "data_sources": "[]string", "kill_chain": "json", "uid_alt": "string"},
		required: []string{"uid"},
	},
	"analytic": {
		attrs:    map[string]string{"uid": "string", "name": "string", "type_id": "int", "type": "string", "category": "string", "desc": "string", "version": "string"},
		required: []string{"type_id"},
		enums:    map[string][]int{"type_id": {0, 1, 2, 3, 4, 99}},
	},
	"attack": {
		attrs: map[string]string{"technique": "object:technique", "tactic": "object:tactic", "tactics": "json",
			"sub_technique": "json", "version": "string"},
	},
	"technique":     {attrs: map[string]string{"uid": "string", "name": "string", "src_url": "string"}},
	"tactic":        {attrs: map[string]string{"uid": "string", "name": "string", "src_url": "string"}},
	"related_event": {attrs: map[string]string{"uid": "string", "type_uid": "long", "type": "string", "product_uid": "string"}, required: []string{"uid"}},
	"metadata": {
		attrs: map[string]string{"version": "string", "product": "object:product", "labels": "[]string", "uid": "string",
			"correlation_uid": "string", "event_code": "string", "log_name": "string", "log_provider": "string",
			"logged_time": "timestamp", "original_time": "string", "processed_time": "timestamp", "profiles": "[]string"},
		required: []string{"version", "product"},
	},
	"product": {
		attrs:    map[string]string{"name": "string", "vendor_name": "string", "version": "string", "uid": "string", "lang": "string"},
		required: []string{"vendor_name"},
	},
	"observable": {
		attrs:    map[string]string{"name": "string", "type": "string", "type_id": "int", "value": "string", "reputation": "json"},
		required: []string{"name", "type_id"},
		enums:    map[string][]int{"type_id": {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 99}},
	},
}

// validateOCSF checks v against object def, strictly: no attribute outside the definition, every
// required one present, types and enumerations right.
func validateOCSF(path, def string, v any) []string {
	o, ok := ocsfSchema[def]
	if !ok {
		return []string{path + ": no definition " + def}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: want an object, got %T", path, v)}
	}
	var errs []string
	for _, r := range o.required {
		if _, ok := m[r]; !ok {
			errs = append(errs, path+"."+r+": required attribute missing")
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		typ, ok := o.attrs[k]
		if !ok {
			errs = append(errs, path+"."+k+": not an attribute of "+def)
			continue
		}
		errs = append(errs, checkType(path+"."+k, typ, m[k])...)
		if allowed, ok := o.enums[k]; ok {
			n, _ := m[k].(json.Number).Int64()
			if !slices.Contains(allowed, int(n)) {
				errs = append(errs, fmt.Sprintf("%s.%s: %d is not in the enumeration", path, k, n))
			}
		}
	}
	return errs
}

func checkType(path, typ string, v any) []string {
	if elem, ok := strings.CutPrefix(typ, "[]"); ok {
		list, ok := v.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: want an array, got %T", path, v)}
		}
		var errs []string
		for i, x := range list {
			errs = append(errs, checkType(fmt.Sprintf("%s[%d]", path, i), elem, x)...)
		}
		return errs
	}
	if def, ok := strings.CutPrefix(typ, "object:"); ok {
		return validateOCSF(path, def, v)
	}
	switch typ {
	case "int", "long", "timestamp":
		n, ok := v.(json.Number)
		if !ok {
			return []string{fmt.Sprintf("%s: want an integer, got %T", path, v)}
		}
		i, err := n.Int64()
		if err != nil {
			return []string{fmt.Sprintf("%s: %s is not an integer", path, n)}
		}
		if typ == "timestamp" && (i < 1e12 || i > 1e13) {
			return []string{fmt.Sprintf("%s: %d is not epoch milliseconds", path, i)}
		}
	case "string":
		if _, ok := v.(string); !ok {
			return []string{fmt.Sprintf("%s: want a string, got %T", path, v)}
		}
	case "json":
	default:
		return []string{path + ": unknown type " + typ}
	}
	return nil
}

func TestOCSFDetectionFinding(t *testing.T) {
	for _, a := range []*alert.Alert{detection(), correlation()} {
		m := encode(t, "ocsf", a)
		for _, e := range validateOCSF("finding", "detection_finding", m) {
			t.Error(e)
		}
		n := func(path string) string { return fmt.Sprint(get(m, path)) }
		if n("type_uid") != "200401" || n("class_uid") != "2004" || n("finding_info.uid") != a.ID ||
			n("metadata.version") != OCSFVersion || n("time") != fmt.Sprint(t0.Add(time.Hour).UnixMilli()) {
			t.Errorf("classification: %v", m)
		}
	}
	d := encode(t, "ocsf", detection())
	if fmt.Sprint(get(d, "severity_id")) != "3" || get(d, "raw_data") != string(detection().Event) ||
		fmt.Sprint(get(d, "start_time")) != fmt.Sprint(t0.UnixMilli()) || get(d, "finding_info.analytic.uid") != detection().Rule.ID {
		t.Errorf("detection finding: %v", d)
	}
	attacks := get(d, "finding_info").(map[string]any)["attacks"].([]any)
	if len(attacks) != 2 || fmt.Sprint(attacks[0]) != "map[technique:map[uid:T1110.001]]" ||
		fmt.Sprint(attacks[1]) != "map[tactic:map[name:Credential Access uid:TA0006]]" {
		t.Errorf("attacks: %v", attacks)
	}
	c := encode(t, "ocsf", correlation())
	rel := get(c, "finding_info").(map[string]any)["related_events"].([]any)
	if len(rel) != 2 || fmt.Sprint(get(c, "severity_id")) != "4" || fmt.Sprint(get(c, "end_time")) != fmt.Sprint(t0.Add(time.Minute).UnixMilli()) {
		t.Errorf("correlation finding: %v", c)
	}
	obs := c["observables"].([]any)
	if len(obs) != 3 {
		t.Errorf("observables: %v", obs)
	}
}

// TestOCSFValidatorCatchesMistakes proves the strict check fails on what it must.
func TestOCSFValidatorCatchesMistakes(t *testing.T) {
	m := encode(t, "ocsf", detection())
	m["nonsense"] = "x"
	delete(m, "class_uid")
	m["severity_id"] = json.Number("7")
	m["time"] = "2026-01-01"
	errs := strings.Join(validateOCSF("f", "detection_finding", m), "\n")
	for _, w := range []string{"f.nonsense: not an attribute", "f.class_uid: required", "f.severity_id: 7 is not in the enumeration", "f.time: want an integer"} {
		if !strings.Contains(errs, w) {
			t.Errorf("validator missed %q:\n%s", w, errs)
		}
	}
}

// BenchmarkVigilAppend: one detection alert carrying a 1.5 KB Sysmon event, as written to Kafka,
// for an event the decoder found compact and for one it did not.
func BenchmarkVigilAppend(b *testing.B) {
	a := detection()
	a.Event = json.RawMessage(`{"Channel":"Microsoft-Windows-Sysmon/Operational","CommandLine":"reg  query \"HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\" /v CurrentBuildNumber","Company":"Microsoft Corporation","Computer":"ar-win-dc.attackrange.local","CurrentDirectory":"C:\\Users\\Administrator\\Downloads\\","Description":"Registry Console Tool","EventID":1,"EventRecordID":8999629,"FileVersion":"10.0.20348.1 (WinBuild.160101.0800)","Hashes":"SHA1=E65FAA187D27D84106B78B909C06D405837EC64E,MD5=EB20E119AAF500E2752DC5A588B54C12,SHA256=C6A168C81654F5901E864C8FD61FA54F084CD8B2E0A8AC1B83EACF9EB4484F75,IMPHASH=E23A24F7BA9B35B3E9706724F6749860","Image":"C:\\Windows\\System32\\reg.exe","IntegrityLevel":"High","LogonGuid":"5AA13A44-568F-68FB-E39A-520000000000","LogonId":"0x529ae3","OriginalFileName":"reg.exe","ParentCommandLine":"\"C:\\Windows\\System32\\cmd.exe\" ","ParentImage":"C:\\Windows\\System32\\cmd.exe","ParentProcessGuid":"5AA13A44-0FEC-68FC-281E-000000004002","ParentProcessId":"6304","ProcessGuid":"5AA13A44-D441-68FC-E330-000000004002","ProcessId":"7112","Product":"Microsoft® Windows® Operating System","User":"ATTACKRANGE\\Administrator","UtcTime":"2025-10-25 13:44:33.433"}`)
	for _, compact := range []bool{true, false} {
		b.Run(fmt.Sprintf("compact=%v", compact), func(b *testing.B) {
			a.EventCompact = compact // false: the event is compacted on the way
			var buf []byte
			b.SetBytes(int64(len(a.Event)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = (Vigil{}).Append(buf[:0], a); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
