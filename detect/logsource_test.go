package detect

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/vigil-detect/vigil/internal/race"
	"github.com/vigil-detect/vigil/rules"
)

func compileRouted(t *testing.T, src string, opts Options) *Engine {
	t.Helper()
	set := &rules.Set{}
	set.Add("test.yml", []byte(src))
	if len(set.Errors) > 0 {
		t.Fatalf("parse: %v", set.Errors)
	}
	e := Compile(set.Rules, opts)
	if len(e.Errors) > 0 {
		t.Fatalf("compile: %v", e.Errors)
	}
	return e
}

func ruleWithLogsource(logsource, detection string) string {
	return "title: t\nid: 00000000-0000-0000-0000-000000000001\nlogsource: " + logsource + "\ndetection:\n" + detection + "\n"
}

func matchTopic(t *testing.T, e *Engine, topic, ev string) bool {
	t.Helper()
	got, err := e.NewMatcher().MatchTopic(topic, []byte(ev))
	if err != nil {
		t.Fatal(err)
	}
	return len(got) > 0
}

func TestRoutingIsCaseInsensitive(t *testing.T) {
	e := compileRouted(t, ruleWithLogsource("{category: Process_Creation, product: Windows}",
		"  sel: {Image|endswith: '\\whoami.exe'}\n  condition: sel"), Options{})
	if got := e.Rules[0].Routes; !slices.Contains(got, "sysmon_process_creation") || !slices.Contains(got, "security_process_creation") {
		t.Fatalf("routes %v", got)
	}
	for _, ev := range []string{
		`{"Channel":"microsoft-windows-sysmon/operational","EventID":1,"Image":"C:\\whoami.exe"}`,
		`{"Channel":"SECURITY","EventID":"4688","NewProcessName":"C:\\whoami.exe"}`,
	} {
		if !matchTopic(t, e, "", ev) {
			t.Errorf("should match %s", ev)
		}
	}
	if matchTopic(t, e, "", `{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":3,"Image":"C:\\whoami.exe"}`) {
		t.Error("a network connection event is not process_creation")
	}
}

// Unmapped rules run on events of their own product only (or on events no entry recognised);
// the product comparison ignores case on both sides.
func TestUnmappedRulesFollowTheEventsProductCaseInsensitively(t *testing.T) {
	routing, err := ParseLogsources("custom.yml", []byte(`logsources:
  - name: auth
    product: Linux
    service: auth
    conditions: {source: auth.log}
`))
	if err != nil {
		t.Fatal(err)
	}
	src := ruleWithLogsource("{category: process_creation, product: linux}", "  sel: {cmd|contains: nc}\n  condition: sel") +
		"---\n" + strings.Replace(ruleWithLogsource("{category: process_creation, product: macos}", "  sel: {cmd|contains: nc}\n  condition: sel"), "0001", "0002", 1)
	e := compileRouted(t, src, Options{Logsources: routing})
	m := e.NewMatcher()
	got, _ := m.Match([]byte(`{"source":"auth.log","cmd":"nc -l"}`))
	if len(got) != 1 || e.Rules[got[0]].Logsource.Product != "linux" {
		t.Fatalf("a Linux event should run the unmapped linux rule only: %v", got)
	}
	got, _ = m.Match([]byte(`{"cmd":"nc -l"}`))
	if len(got) != 2 {
		t.Fatalf("an unrecognised event runs every unmapped rule: %v", got)
	}
	if len(e.Warnings) != 2 || !strings.Contains(e.Warnings[0], "has no mapping; the rule runs on linux events and events no logsource entry recognises") {
		t.Fatalf("warnings %q", e.Warnings)
	}
}

// Unmapped rules naming a category or service but no product (SigmaHQ's webserver, apache,
// database rules) run only on events no entry recognised: not on Sysmon events, say, whatever
// their command lines contain.
func TestUnmappedCategoryRulesSkipRecognisedEvents(t *testing.T) {
	src := ruleWithLogsource("{category: webserver}", "  keywords: ['or 1=1']\n  condition: keywords")
	e := compileRouted(t, src, Options{})
	m := e.NewMatcher()
	sysmon := `{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"CommandLine":"sqlcmd -Q \"select * from t where a=1 or 1=1\""}`
	if got, _ := m.Match([]byte(sysmon)); len(got) != 0 {
		t.Fatalf("a webserver rule ran on a Sysmon event: %v", got)
	}
	if got, _ := m.Match([]byte(`{"cs-uri-query":"id=1 or 1=1"}`)); len(got) != 1 {
		t.Fatalf("an unrecognised event should run the webserver rule: %v", got)
	}
	if len(e.Warnings) != 1 || !strings.Contains(e.Warnings[0], "has no mapping; the rule runs on events no logsource entry recognises") {
		t.Fatalf("warnings %q", e.Warnings)
	}
}

func TestTopicRouting(t *testing.T) {
	routing, err := ParseLogsources("topics.yml", []byte(`logsources:
  - name: edr_process
    category: process_creation
    product: windows
    topics: [edr-a, edr-b]
  - name: fw
    category: firewall
    topics: [fw]
    conditions: {type: traffic}
`))
	if err != nil {
		t.Fatal(err)
	}
	src := ruleWithLogsource("{category: process_creation, product: windows}", "  sel: {Image|endswith: '\\x.exe'}\n  condition: sel") +
		"---\n" + strings.Replace(ruleWithLogsource("{category: firewall}", "  sel: {dst_port: 445}\n  condition: sel"), "0001", "0002", 1)
	e := compileRouted(t, src, Options{Logsources: routing})
	cases := []struct {
		topic, ev string
		want      int
	}{
		{"edr-a", `{"Image":"C:\\x.exe"}`, 1},
		{"edr-b", `{"Image":"C:\\x.exe"}`, 1},
		{"EDR-A", `{"Image":"C:\\x.exe"}`, 0}, // Kafka topic names are case-sensitive
		{"other", `{"Image":"C:\\x.exe"}`, 0},
		{"", `{"Image":"C:\\x.exe"}`, 0},
		{"fw", `{"type":"traffic","dst_port":445}`, 1},
		{"fw", `{"type":"dns","dst_port":445}`, 0},
		{"edr-a", `{"type":"traffic","dst_port":445}`, 0},
	}
	for _, c := range cases {
		got, err := e.NewMatcher().MatchTopic(c.topic, []byte(c.ev))
		if err != nil || len(got) != c.want {
			t.Errorf("topic %q %s: matched %v (%v), want %d", c.topic, c.ev, got, err, c.want)
		}
	}
}

func TestTopicRoutingAllocatesNothing(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	routing, _ := ParseLogsources("topics.yml", []byte("logsources:\n  - {name: a, category: process_creation, product: windows, topics: [t1, t2], conditions: {EventID: 1}}\n"))
	e := compileRouted(t, ruleWithLogsource("{category: process_creation, product: windows}", "  sel: {CommandLine|contains: ' -enc '}\n  condition: sel"), Options{Logsources: routing})
	m := e.NewMatcher()
	raw := []byte(`{"EventID":1,"CommandLine":"powershell -enc AAAA"}`)
	if got, _ := m.MatchTopic("t2", raw); len(got) != 1 {
		t.Fatalf("got %v", got)
	}
	if a := testing.AllocsPerRun(200, func() { _, _ = m.MatchTopic("t2", raw) }); a != 0 {
		t.Fatalf("MatchTopic allocates %v times per event", a)
	}
}

func TestRoutingFileErrors(t *testing.T) {
	cases := map[string]string{
		"logsources:\n  - name: a\n    category: x\n    topic: [t]\n":              "custom.yml:4: field topic not found",
		"logsources:\n  - name: a\n    conditions: {EventID: 1}\n":                 "custom.yml:2: logsource \"a\" names no category, product or service",
		"logsources:\n  - name: a\n    category: x\n    conditions: {E|nope: 1}\n": "unknown modifier",
		"logsources:\n  - name: a\n    category: x\n    topics: ['']\n":            "custom.yml:2: logsource \"a\": empty topic name",
		"logsources: [\n": "custom.yml:",
		"logsources:\n  - name: a\n    category: x\n    conditions: {EventID: []}\n": "empty value list",
	}
	for src, want := range cases {
		ls, err := ParseLogsources("custom.yml", []byte(src))
		if err == nil {
			e := Compile(nil, Options{Logsources: ls})
			if len(e.Errors) > 0 {
				err = e.Errors[0]
			}
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}

// TestBuiltinRoutingAgreesWithThor checks the built-in table against SigmaHQ's tests/thor.yml:
// every category THOR gates by EventID is served with the same ids (and field mappings), and
// every service THOR names by event log channel is served by that channel.
func TestBuiltinRoutingAgreesWithThor(t *testing.T) {
	dir := shared(t, "sigmahq-regression")
	data, err := os.ReadFile(filepath.Join(dir, "thor.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var thor struct {
		Logsources map[string]struct {
			Category      string            `yaml:"category"`
			Product       string            `yaml:"product"`
			Service       string            `yaml:"service"`
			Conditions    map[string]any    `yaml:"conditions"`
			Sources       []string          `yaml:"sources"`
			FieldMappings map[string]string `yaml:"fieldmappings"`
		} `yaml:"logsources"`
	}
	if err := yaml.Unmarshal(data, &thor); err != nil {
		t.Fatal(err)
	}
	builtin := BuiltinLogsources()
	values := func(ls Logsource, field string) []string {
		var out []string
		for _, f := range ls.Conditions.Maps[0] {
			if f.Field == field {
				for _, v := range f.Values {
					out = append(out, strings.ToLower(v.Text))
				}
			}
		}
		return out
	}
	// Union of what the built-in entries serving a logsource accept.
	accepted := func(cat, prod, svc, field string) (vals []string, maps []map[string]string) {
		for _, ls := range builtin {
			if strings.EqualFold(ls.Category, cat) && strings.EqualFold(ls.Service, svc) && (prod == "" || strings.EqualFold(ls.Product, prod)) {
				vals = append(vals, values(ls, field)...)
				maps = append(maps, ls.FieldMappings)
			}
		}
		return vals, maps
	}
	checked := 0
	for name, l := range thor.Logsources {
		switch {
		case l.Conditions["EventID"] != nil && l.Category != "":
			var want []string
			switch v := l.Conditions["EventID"].(type) {
			case int:
				want = []string{strings.ToLower(yamlScalar(v))}
			case []any:
				for _, x := range v {
					want = append(want, yamlScalar(x))
				}
			}
			got, maps := accepted(l.Category, l.Product, "", "EventID")
			for _, id := range want {
				if !slices.Contains(got, id) {
					t.Errorf("thor %s: category %s EventID %s not served (built-in accepts %v)", name, l.Category, id, got)
				}
			}
			if len(l.FieldMappings) > 0 && !slices.ContainsFunc(maps, func(m map[string]string) bool { return equalMaps(m, l.FieldMappings) }) {
				t.Errorf("thor %s: field mappings %v not in the built-in table (%v)", name, l.FieldMappings, maps)
			}
			if et, ok := l.Conditions["EventType"].(string); ok {
				types, _ := accepted(l.Category, l.Product, "", "EventType")
				if !slices.Contains(types, strings.ToLower(et)) {
					t.Errorf("thor %s: EventType %s not in %v", name, et, types)
				}
			}
			checked++
		case len(l.Sources) > 0 && l.Product == "windows":
			got, _ := accepted("", l.Product, l.Service, "Channel")
			for _, src := range l.Sources {
				ch := strings.ToLower(strings.TrimPrefix(src, "WinEventLog:"))
				if !slices.Contains(got, ch) {
					t.Errorf("thor %s: service %s channel %q not served (built-in accepts %v)", name, l.Service, ch, got)
				}
			}
			checked++
		}
	}
	if checked < 80 {
		t.Fatalf("checked only %d THOR entries", checked)
	}
}

func yamlScalar(v any) string {
	out, _ := yaml.Marshal(v)
	return strings.TrimSpace(string(out))
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestBuiltinRoutingCoversSigmaHQWindows: every Windows logsource used in the SigmaHQ corpus has
// a built-in mapping, except the two ETW-only categories.
func TestBuiltinRoutingCoversSigmaHQWindows(t *testing.T) {
	dir := shared(t, "sigmahq")
	set := rules.Load(filepath.Join(dir, "rules"), filepath.Join(dir, "rules-threat-hunting"),
		filepath.Join(dir, "rules-emerging-threats"), filepath.Join(dir, "rules-placeholder"))
	builtin := BuiltinLogsources()
	unmapped := map[string]bool{}
	for _, r := range set.Rules {
		if !strings.EqualFold(r.Logsource.Product, "windows") {
			continue
		}
		served := false
		for i := range builtin {
			served = served || builtin[i].serves(r.Logsource)
		}
		if !served {
			unmapped[logsourceString(r.Logsource.Category, r.Logsource.Product, r.Logsource.Service)] = true
		}
	}
	var got []string
	for k := range unmapped {
		got = append(got, k)
	}
	sort.Strings(got)
	want := []string{"(category=file_access, product=windows)", "(category=file_rename, product=windows)"}
	if !slices.Equal(got, want) {
		t.Fatalf("unmapped Windows logsources %v, want %v", got, want)
	}
}

// Keyword searches of other products' rules are kept out of the main product's field indexes
// (see mergesKeywords); each rule still finds its keywords on the events it runs on.
func TestKeywordRulesOfEveryProductFindTheirKeywords(t *testing.T) {
	rule := func(n int, logsource, keyword string) string {
		return strings.Replace(ruleWithLogsource(logsource, "  keywords: ['"+keyword+"']\n  condition: keywords"), "0001", fmt.Sprintf("%04d", n), 1)
	}
	src := rule(1, "{product: windows}", "sekurlsa::") + "---\n" +
		rule(2, "{product: linux, service: auditd}", "nc -e /bin/sh") + "---\n" +
		rule(3, "{category: webserver}", "/etc/passwd") + "---\n" +
		rule(4, "{category: process_creation, product: windows}", "wevtutil cl") + "---\n" +
		strings.Replace(ruleWithLogsource("{category: process_creation, product: windows}", "  sel: {CommandLine|contains: 'vssadmin delete'}\n  condition: sel"), "0001", "0005", 1)
	e := compileRouted(t, src, Options{})
	everything := `"sekurlsa:: nc -e /bin/sh /etc/passwd wevtutil cl vssadmin delete"`
	for _, c := range []struct {
		event string
		want  []string // rule ids' last digit
	}{
		{`{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"CommandLine":` + everything + `}`, []string{"1", "4", "5"}},
		{`{"Channel":"Microsoft-Windows-Sysmon/Operational","EventID":1,"Image":"c:\\x.exe","Description":` + everything + `}`, []string{"1", "4"}},
		{`{"message":` + everything + `}`, []string{"2", "3"}},
	} {
		got, err := e.NewMatcher().Match([]byte(c.event))
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range got {
			ids = append(ids, e.Rules[r].ID[len(e.Rules[r].ID)-1:])
		}
		if !slices.Equal(ids, c.want) {
			t.Errorf("%s: matched rules %v, want %v", c.event, ids, c.want)
		}
	}
}
