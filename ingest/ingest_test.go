package ingest

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/event"
)

var recTime = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

const sshdPattern = `Failed password for (?:invalid user )?(?P<user>\S+) from (?P<src_ip>[0-9a-fA-F.:]+) port (?P<src_port>\d+)`

func convert(t *testing.T, in config.Input, raw string) (map[string]any, error) {
	t.Helper()
	i, err := New(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := i.NewConverter().Convert([]byte(raw), recTime, event.Limits{})
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("output is not a JSON object: %v\n%s", err, out)
	}
	// The engine must accept it too.
	var ev event.Event
	if err := event.NewSchema().Decode(out, &ev, event.Limits{}); err != nil {
		t.Fatalf("engine rejects output: %v\n%s", err, out)
	}
	return m, nil
}

func TestFormats(t *testing.T) {
	sshd := []config.Extract{{Field: "message", Pattern: sshdPattern}}
	cases := []struct {
		name   string
		in     config.Input
		raw    string
		want   map[string]any
		reason string // expected rejection
	}{
		{"rfc3164 with pri", config.Input{Format: "syslog", Extract: sshd},
			"<38>Mar  9 08:15:02 web-1 sshd[4121]: Failed password for invalid user admin from 203.0.113.50 port 52144 ssh2\n",
			map[string]any{"priority": "38", "facility": "auth", "severity": "info", "timestamp": "2026-03-09T08:15:02Z",
				"hostname": "web-1", "appname": "sshd", "procid": "4121",
				"message": "Failed password for invalid user admin from 203.0.113.50 port 52144 ssh2",
				"user":    "admin", "src_ip": "203.0.113.50", "src_port": "52144"}, ""},
		{"rfc3164 file format without pri, rfc3339 time", config.Input{Format: "syslog"},
			"2026-03-09T08:15:02.123456+01:00 web-1 sshd[4121]: Accepted publickey for bob",
			map[string]any{"timestamp": "2026-03-09T08:15:02.123456+01:00", "hostname": "web-1", "appname": "sshd",
				"procid": "4121", "message": "Accepted publickey for bob"}, ""},
		{"rfc3164 december line read in march is last year", config.Input{Format: "syslog", Timezone: "Europe/Berlin"},
			"Dec 31 23:59:59 h cron: x",
			map[string]any{"timestamp": "2025-12-31T23:59:59+01:00", "hostname": "h", "appname": "cron", "message": "x"}, ""},
		{"rfc3164 tag without pid and no host", config.Input{Format: "syslog"},
			"<13>Mar 10 11:00:00 su: pam_unix(su:auth): authentication failure",
			map[string]any{"priority": "13", "facility": "user", "severity": "notice", "timestamp": "2026-03-10T11:00:00Z",
				"appname": "su", "message": "pam_unix(su:auth): authentication failure"}, ""},
		{"rfc5424 with structured data and BOM", config.Input{Format: "syslog"},
			`<165>1 2026-03-09T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Appli\"cation"][meta seq="1"] ` + "\ufeff" + `An application event`,
			map[string]any{"priority": "165", "facility": "local4", "severity": "notice", "timestamp": "2026-03-09T22:14:15.003Z",
				"hostname": "mymachine.example.com", "appname": "evntslog", "msgid": "ID47",
				"structured_data": map[string]any{"exampleSDID@32473": map[string]any{"iut": "3", "eventSource": `Appli"cation`}, "meta": map[string]any{"seq": "1"}},
				"message":         "An application event"}, ""},
		{"rfc5424 nil fields and no message", config.Input{Format: "syslog"},
			"<34>1 2026-03-09T22:14:15Z - - - - -",
			map[string]any{"priority": "34", "facility": "auth", "severity": "crit", "timestamp": "2026-03-09T22:14:15Z"}, ""},
		{"pri without header is all message", config.Input{Format: "syslog"}, "<13>hello there",
			map[string]any{"priority": "13", "facility": "user", "severity": "notice", "message": "hello there"}, ""},
		{"not syslog", config.Input{Format: "syslog"}, "hello there", nil, "invalid_syslog"},
		{"bad pri", config.Input{Format: "syslog"}, "<999>Mar 10 11:00:00 h x: y", nil, "invalid_syslog"},
		{"bad rfc5424 timestamp", config.Input{Format: "syslog"}, "<34>1 2026-13-09T22:14:15Z h a p m - x", nil, "invalid_syslog"},
		{"unterminated sd", config.Input{Format: "syslog"}, `<34>1 2026-03-09T22:14:15Z h a p m [x a="1] m`, nil, "invalid_syslog"},
		{"invalid utf-8", config.Input{Format: "syslog"}, "<34>Mar 10 11:00:00 h x: \xff", nil, "invalid_utf8"},
		{"logfmt", config.Input{Format: "logfmt"},
			`level=warn msg="login failed for \"bob\"" user=bob src=198.51.100.7 retry dur=1.5s`,
			map[string]any{"level": "warn", "msg": `login failed for "bob"`, "user": "bob", "src": "198.51.100.7", "retry": "true", "dur": "1.5s"}, ""},
		{"logfmt free text", config.Input{Format: "logfmt"}, "just some words", nil, "invalid_logfmt"},
		{"logfmt unterminated", config.Input{Format: "logfmt"}, `a=1 b="oops`, nil, "invalid_logfmt"},
		{"cef after a syslog header", config.Input{Format: "cef"},
			`<134>Sep 19 08:26:10 fw-1 CEF:0|Security|threatmanager|1.0|100|detected a \| in message|10|src=10.0.0.1 act=blocked a \= dst=2.1.2.2 msg=multi word value spt=1232`,
			map[string]any{"syslog_priority": "134", "syslog_facility": "local0", "syslog_severity": "info", "severity": "10",
				"timestamp": "2025-09-19T08:26:10Z", "hostname": "fw-1",
				"cefVersion": "0", "deviceVendor": "Security", "deviceProduct": "threatmanager", "deviceVersion": "1.0",
				"deviceEventClassId": "100", "name": "detected a | in message",
				"src": "10.0.0.1", "act": "blocked a =", "dst": "2.1.2.2", "msg": "multi word value", "spt": "1232"}, ""},
		{"cef without extension", config.Input{Format: "cef"}, "CEF:1|V|P|1|sig|name|Low|",
			map[string]any{"cefVersion": "1", "deviceVendor": "V", "deviceProduct": "P", "deviceVersion": "1", "deviceEventClassId": "sig", "name": "name", "severity": "Low"}, ""},
		{"cef short header", config.Input{Format: "cef"}, "CEF:0|a|b|c", nil, "invalid_cef"},
		{"not cef", config.Input{Format: "cef"}, "hello", nil, "invalid_cef"},
		{"text", config.Input{Format: "text", Extract: []config.Extract{{Field: "message", Pattern: `user (?P<user>\w+)`}}},
			"login by user alice\tok", map[string]any{"message": "login by user alice\tok", "user": "alice"}, ""},
		{"json with extraction", config.Input{Format: "json", Extract: sshd},
			`{"host":"web-1","message":"Failed password for root from 2001:db8::1 port 22 ssh2"}`,
			map[string]any{"host": "web-1", "message": "Failed password for root from 2001:db8::1 port 22 ssh2",
				"user": "root", "src_ip": "2001:db8::1", "src_port": "22"}, ""},
		{"json empty object with extraction from an earlier extraction", config.Input{Format: "json", Extract: []config.Extract{
			{Field: "missing", Pattern: `(?P<a>.)`}}}, ` { } `, map[string]any{}, ""},
		{"json extraction chained", config.Input{Format: "json", Extract: []config.Extract{
			{Field: "m", Pattern: `id=(?P<id>\S+)`}, {Field: "id", Pattern: `^(?P<prefix>[a-z]+)-`}}},
			`{"m":"x id=abc-1"}`, map[string]any{"m": "x id=abc-1", "id": "abc-1", "prefix": "abc"}, ""},
		{"json invalid", config.Input{Format: "json", Extract: sshd}, `{"message":`, nil, "invalid_json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.in.Topic = "t"
			got, err := convert(t, c.in, c.raw)
			if c.reason != "" {
				var ie *Error
				var de *event.Error
				switch {
				case errors.As(err, &ie) && ie.Reason == c.reason:
				case errors.As(err, &de) && de.Reason == c.reason:
				default:
					t.Fatalf("want rejection %s, got %v (%v)", c.reason, err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %v\nwant %v", got, c.want)
			}
		})
	}
}

func TestRouterPassesJSONThrough(t *testing.T) {
	r, err := NewRouter([]config.Input{{Topic: "a", Format: "json"}, {Topic: "b"}})
	if err != nil || r != nil {
		t.Fatalf("JSON-only inputs need no router: %v %v", r, err)
	}
	r, err = NewRouter([]config.Input{{Topic: "a", Format: "json"}, {Topic: "s", Format: "syslog"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.For("a") != nil || r.For("other") != nil || r.For("s") == nil {
		t.Error("router: JSON topics must pass through, syslog topics convert")
	}
	if _, err := NewRouter([]config.Input{{Topic: "x", Format: "xml"}}); err == nil {
		t.Error("unknown format accepted")
	}
}

func BenchmarkConvert(b *testing.B) {
	for _, bc := range []struct {
		name, raw string
		in        config.Input
	}{
		{"syslog_sshd", "<38>Mar  9 08:15:02 web-1 sshd[4121]: Failed password for invalid user admin from 203.0.113.50 port 52144 ssh2",
			config.Input{Format: "syslog", Extract: []config.Extract{{Field: "message", Pattern: sshdPattern}}}},
		{"logfmt", `level=warn msg="login failed" user=bob src=198.51.100.7 dur=1.5s`, config.Input{Format: "logfmt"}},
		{"cef", `CEF:0|Security|threatmanager|1.0|100|worm stopped|10|src=10.0.0.1 dst=2.1.2.2 spt=1232 msg=multi word`, config.Input{Format: "cef"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in, err := New(bc.in)
			if err != nil {
				b.Fatal(err)
			}
			c := in.NewConverter()
			raw := []byte(bc.raw)
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Convert(raw, recTime, event.Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
