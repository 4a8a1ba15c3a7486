package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/rules"
	"github.com/vigil-detect/vigil/stream"
)

// memSource serves records in batches of at most batch; before serving batch i it calls
// before(i) (the test swaps rule sets there). Done and Commit record what was marked.
type memSource struct {
	recs   []stream.Record
	pos    int
	batch  int
	n      int
	before func(i int)
	mu     sync.Mutex
	done   []int64
}

func (s *memSource) Fetch(ctx context.Context, dst []stream.Record, max int) ([]stream.Record, error) {
	if s.pos >= len(s.recs) {
		return dst, io.EOF
	}
	if s.before != nil {
		s.before(s.n)
	}
	s.n++
	end := min(s.pos+min(max, s.batch), len(s.recs))
	dst = append(dst, s.recs[s.pos:end]...)
	s.pos = end
	return dst, nil
}

func (s *memSource) Done(recs []stream.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.done = append(s.done, r.Offset)
	}
}
func (s *memSource) Commit(context.Context) error { return nil }
func (s *memSource) Close() error                 { return nil }

type memSink struct {
	mu     sync.Mutex
	alerts []*alert.Alert
}

func (s *memSink) Write(_ context.Context, a []*alert.Alert) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alerts = append(s.alerts, a...)
	return nil
}
func (s *memSink) Close() error { return nil }

type memDead struct {
	mu   sync.Mutex
	recs []stream.Rejected
}

func (d *memDead) Reject(_ context.Context, r []stream.Rejected) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.recs = append(d.recs, r...)
	return nil
}
func (d *memDead) Close() error { return nil }

// reloadStage records, in stream order, which rule set each alert's batch was evaluated with
// as the stage was told by Reload.
type reloadStage struct {
	current *Ruleset
	reloads []*Ruleset
	seen    map[string]*Ruleset // alert rule id → rule set current when it passed
	fail    bool
}

func (s *reloadStage) Reload(rs *Ruleset) error {
	s.reloads = append(s.reloads, rs)
	if s.fail {
		return fmt.Errorf("refused")
	}
	s.current = rs
	return nil
}

func (s *reloadStage) Process(_ context.Context, alerts []*alert.Alert, _ time.Time) ([]*alert.Alert, error) {
	for _, a := range alerts {
		if s.seen == nil {
			s.seen = map[string]*Ruleset{}
		}
		s.seen[fmt.Sprint(a.Source.Offset)] = s.current
	}
	return alerts, nil
}

func ruleset(t *testing.T, id, needle string) *Ruleset {
	t.Helper()
	set := &rules.Set{}
	set.Add(id+".yml", []byte(fmt.Sprintf("title: %s\nid: %s\nlogsource: {product: test}\n"+
		"detection:\n  sel: {CommandLine|contains: %s}\n  condition: sel\nlevel: high\n", id, id, needle)))
	rs := Compile(set, RuleOptions{})
	if len(rs.Detect.Rules) != 1 {
		t.Fatalf("rule %s: %v", id, rs.Errors())
	}
	return rs
}

// TestReloadSwapsBetweenBatches swaps rule sets while records flow through several workers and
// checks that every record is evaluated exactly once, with the rule set of its batch, and that
// a Reloader stage is told of the swap in stream order, before the first batch of the new set.
func TestReloadSwapsBetweenBatches(t *testing.T) {
	oldRS := ruleset(t, "11111111-1111-1111-1111-111111111111", "mimikatz")
	newRS := ruleset(t, "22222222-2222-2222-2222-222222222222", "mimikatz")
	const n, batch, swapAt = 2000, 7, 150
	src := &memSource{batch: batch}
	for i := 0; i < n; i++ {
		src.recs = append(src.recs, stream.Record{Value: []byte(`{"CommandLine":"run mimikatz"}`), Offset: int64(i), Topic: "t", HighWater: -1})
	}
	sink, stage := &memSink{}, &reloadStage{}
	stage.current = oldRS
	r := &Runner{Source: src, Sinks: []stream.Sink{sink}, Stages: []Stage{stage},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Config: Config{Workers: 4, BatchSize: batch}}
	src.before = func(i int) {
		if i == swapAt {
			r.SetRules(newRS)
		}
	}
	r.SetRules(oldRS)
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sink.alerts) != n {
		t.Fatalf("%d alerts for %d matching records", len(sink.alerts), n)
	}
	seen := map[int64]bool{}
	for _, a := range sink.alerts {
		off := a.Source.Offset
		if seen[off] {
			t.Fatalf("record %d evaluated twice", off)
		}
		seen[off] = true
		wantRule := oldRS.Detect.Rules[0].ID
		wantRS := oldRS
		if off >= swapAt*batch {
			wantRule, wantRS = newRS.Detect.Rules[0].ID, newRS
		}
		if a.Rule.ID != wantRule {
			t.Fatalf("record %d evaluated by %s, want %s", off, a.Rule.ID, wantRule)
		}
		if stage.seen[fmt.Sprint(off)] != wantRS {
			t.Fatalf("record %d reached the stage before it was told of its rule set", off)
		}
	}
	if len(stage.reloads) != 1 || stage.reloads[0] != newRS {
		t.Fatalf("Reload calls: %d, want 1 with the new set", len(stage.reloads))
	}
	if len(src.done) != n {
		t.Fatalf("%d records marked done, want %d", len(src.done), n)
	}
}

// TestFailedStageReloadKeepsRunning: a stage that refuses a reload does not stop the pipeline.
func TestFailedStageReloadKeepsRunning(t *testing.T) {
	oldRS := ruleset(t, "11111111-1111-1111-1111-111111111111", "mimikatz")
	newRS := ruleset(t, "22222222-2222-2222-2222-222222222222", "mimikatz")
	src := &memSource{batch: 10}
	for i := 0; i < 100; i++ {
		src.recs = append(src.recs, stream.Record{Value: []byte(`{"CommandLine":"mimikatz"}`), Offset: int64(i), Topic: "t", HighWater: -1})
	}
	sink, stage := &memSink{}, &reloadStage{fail: true, current: oldRS}
	r := &Runner{Source: src, Sinks: []stream.Sink{sink}, Stages: []Stage{stage},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Config: Config{Workers: 2}}
	src.before = func(i int) {
		if i == 3 {
			r.SetRules(newRS)
		}
	}
	r.SetRules(oldRS)
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(sink.alerts) != 100 || len(stage.reloads) != 1 {
		t.Fatalf("%d alerts, %d reloads", len(sink.alerts), len(stage.reloads))
	}
}

// TestAnomaliesAreEvaluatedAndDeadLettered: records with an unparseable timestamp or a field of
// an unexpected type are evaluated (their alerts written) and copied to the dead-letter
// destination with a reason; malformed records are only dead-lettered.
func TestAnomaliesAreEvaluatedAndDeadLettered(t *testing.T) {
	rs := ruleset(t, "11111111-1111-1111-1111-111111111111", "mimikatz")
	cases := []struct {
		raw, reason string
		alert       bool
	}{
		{`{"CommandLine":"mimikatz","@timestamp":"2026-01-01T00:00:00Z"}`, "", true},
		{`{"CommandLine":"mimikatz","@timestamp":"half past nine"}`, ReasonBadTimestamp, true},
		{`{"CommandLine":"mimikatz","UtcTime":true}`, ReasonBadTimestamp, true},
		{`{"CommandLine":"mimikatz","@timestamp":null}`, "", true},
		{`{"CommandLine":"nothing","@timestamp":"garbage"}`, ReasonBadTimestamp, false},
		{`{"CommandLine":{"text":"mimikatz"}}`, ReasonUnexpectedType, false},
		{`{"CommandLine":["mimikatz",{"a":1}]}`, ReasonUnexpectedType, true},
		{`{"CommandLine":"mimikatz","time":"x","Image":1}`, ReasonBadTimestamp, true},
		{`{"CommandLine":"mimikatz","User":{"name":"x"}}`, "", true}, // an entity field, not compared by rules
		{`not json`, "invalid_json", false},
		{`[1]`, "not_object", false},
	}
	src := &memSource{batch: 3}
	for i, c := range cases {
		src.recs = append(src.recs, stream.Record{Value: []byte(c.raw), Offset: int64(i), Topic: "t", HighWater: -1,
			Time: time.Date(2026, 2, 2, 0, 0, 0, 0, time.UTC)})
	}
	sink, dead := &memSink{}, &memDead{}
	r := &Runner{Source: src, Sinks: []stream.Sink{sink}, DeadLetter: dead,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Config: Config{Workers: 2}}
	r.SetRules(rs)
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	alerts := map[int64]*alert.Alert{}
	for _, a := range sink.alerts {
		alerts[a.Source.Offset] = a
	}
	rejected := map[int64]stream.Rejected{}
	for _, d := range dead.recs {
		rejected[d.Record.Offset] = d
	}
	for i, c := range cases {
		a, rj := alerts[int64(i)], rejected[int64(i)]
		if (a != nil) != c.alert {
			t.Errorf("%s: alerted %v, want %v", c.raw, a != nil, c.alert)
		}
		if rj.Reason != c.reason {
			t.Errorf("%s: dead-letter reason %q, want %q (%s)", c.raw, rj.Reason, c.reason, rj.Error)
		}
		wantEvaluated := c.reason == ReasonBadTimestamp || c.reason == ReasonUnexpectedType
		if c.reason != "" && rj.Evaluated != wantEvaluated {
			t.Errorf("%s: Evaluated %v", c.raw, rj.Evaluated)
		}
		if c.reason == ReasonBadTimestamp && a != nil && !a.Time.Equal(src.recs[i].Time) {
			t.Errorf("%s: alert time %v, want the record time", c.raw, a.Time)
		}
	}
	if got := r.Stats().Records.Load(); got != int64(len(cases)) {
		t.Errorf("%d records counted, want %d", got, len(cases))
	}
}
