package pipeline

import (
	"testing"

	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/ingest"
	"github.com/vigil-detect/vigil/internal/race"
	"github.com/vigil-detect/vigil/rules"
	"github.com/vigil-detect/vigil/stream"
)

// TestJSONPathStaysAllocationFree: with a syslog input configured for one topic, records of JSON
// topics are still evaluated without allocating; syslog records are converted and matched.
func TestJSONPathStaysAllocationFree(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector's instrumentation allocates")
	}
	set := rules.Load("../examples/rsyslog/rules")
	if len(set.Errors) > 0 {
		t.Fatal(set.Errors)
	}
	rs := Compile(set, RuleOptions{})
	router, err := ingest.NewRouter([]config.Input{{Topic: "auth", Format: "syslog",
		Extract: []config.Extract{{Field: "message", Pattern: `from (?P<src_ip>\S+) port`}}}})
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{Inputs: router}
	m := rs.Detect.NewMatcher()
	conv := converters{}
	jsonRec := stream.Record{Topic: "events", Value: []byte(`{"appname":"cron","message":"session opened for user root","hostname":"web-1"}`)}
	if res := r.evaluate(rs, m, conv, &jsonRec); res.reject != nil || len(res.alerts) != 0 {
		t.Fatalf("JSON record: %+v", res)
	}
	if n := testing.AllocsPerRun(200, func() { r.evaluate(rs, m, conv, &jsonRec) }); n != 0 {
		t.Errorf("JSON record on a topic without an input: %.1f allocations, want 0", n)
	}
	sys := stream.Record{Topic: "auth", Value: []byte("<38>Mar  9 08:15:02 web-1 sshd[1]: Failed password for root from 203.0.113.5 port 22 ssh2")}
	res := r.evaluate(rs, m, conv, &sys)
	if res.reject != nil || len(res.alerts) != 1 || res.alerts[0].Entities.IP[0] != "203.0.113.5" {
		t.Fatalf("syslog record: %+v", res)
	}
	bad := stream.Record{Topic: "auth", Value: []byte("garbage")}
	if res := r.evaluate(rs, m, conv, &bad); res.reject == nil || res.reject.Reason != "invalid_syslog" || string(res.reject.Record.Value) != "garbage" {
		t.Errorf("bad syslog record: %+v", res.reject)
	}
	// The alert keeps its event after the converter's buffer is reused.
	first := string(res.alerts[0].Event)
	r.evaluate(rs, m, conv, &stream.Record{Topic: "auth", Value: []byte("<38>Mar  9 08:15:03 web-2 sshd[2]: Failed password for x from 198.51.100.1 port 1 ssh2")})
	if string(res.alerts[0].Event) != first {
		t.Error("the alert's event changed when the converter was reused")
	}
}
