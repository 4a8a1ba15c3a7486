package correlate_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/correlate"
	"github.com/vigil-detect/vigil/pipeline"
	"github.com/vigil-detect/vigil/rules"
)

// kafkaAlert is a detection alert as the pipeline makes it from a Kafka record.
func kafkaAlert(h *harness, rule string, sec float64, offset int64, fields map[string]string) *alert.Alert {
	for i, d := range h.rs.Detect.Rules {
		if d.Name != rule {
			continue
		}
		ts := t0.Add(time.Duration(sec * float64(time.Second)))
		f := map[string][]string{}
		for k, v := range fields {
			f[k] = []string{v}
		}
		return &alert.Alert{
			ID: alert.ID([]byte(rule), []byte(ts.String()), []byte{byte(offset)}), Time: ts, Watermark: ts,
			Kind: alert.KindDetection, Rule: alert.Rule{ID: d.ID, Title: d.Title, Name: d.Name},
			RuleIndex: i, Fields: f, Source: &alert.Source{Topic: "events", Partition: 0, Offset: offset},
		}
	}
	h.t.Fatalf("no rule %s", rule)
	return nil
}

func process(t *testing.T, e *correlate.Engine, as ...*alert.Alert) []*alert.Alert {
	t.Helper()
	out, err := e.Process(context.Background(), as, as[len(as)-1].Time)
	if err != nil {
		t.Fatal(err)
	}
	var cs []*alert.Alert
	for _, a := range out {
		if a.Kind == alert.KindCorrelation {
			cs = append(cs, a)
		}
	}
	return cs
}

// TestRestartStraddle: state saved mid-window is restored by a new engine, so the correlation
// fires after the restart; alerts replayed from before the snapshot are not counted twice.
func TestRestartStraddle(t *testing.T) {
	rule := detections + corr("Count", "c", "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 1m\n  condition: {gte: 4}") +
		corr("Few", "few", "  type: event_count\n  rules: [success]\n  group-by: [user]\n  timespan: 1m\n  condition: {lt: 2}")
	snap := filepath.Join(t.TempDir(), "state", "corr.snap")
	h := newHarness(t, rule, "snapshot: {path: "+snap+", interval: 1h}\n")
	fail := func(sec float64, off int64) *alert.Alert {
		return kafkaAlert(h, "fail", sec, off, map[string]string{"user": "a"})
	}
	e1 := h.eng
	if cs := process(t, e1, fail(0, 1), fail(10, 2), kafkaAlert(h, "success", 11, 3, map[string]string{"user": "s"})); len(cs) != 0 {
		t.Fatalf("fired early: %v", cs)
	}
	// Not due yet: the commit is held back. On shutdown (final) the state is saved.
	if ok, err := e1.Checkpoint(context.Background(), false); ok || err != nil {
		t.Fatalf("checkpoint before the interval: %v %v", ok, err)
	}
	if ok, err := e1.Checkpoint(context.Background(), true); !ok || err != nil {
		t.Fatalf("final checkpoint: %v %v", ok, err)
	}
	// A crash after the snapshot but before the commit: Kafka delivers offsets 1-3 again.
	e2 := h.newEngine()
	if got := e2.Keys()[e2.Rules()[0].Key]; got != 1 {
		t.Fatalf("restored %d groups, want 1", got)
	}
	if cs := process(t, e2, fail(0, 1), fail(10, 2), kafkaAlert(h, "success", 11, 3, map[string]string{"user": "s"})); len(cs) != 0 {
		t.Fatalf("replayed alerts counted again: %v", cs)
	}
	if cs := process(t, e2, fail(20, 4), fail(30, 5)); len(cs) != 0 {
		t.Fatalf("decided before the window is final: %+v", cs)
	}
	// Event time moves on (another group): the window meeting the condition is final, and so is
	// the closing rule's (a success of s at 11 s), which also survived the restart.
	cs := process(t, e2, kafkaAlert(h, "fail", 200, 6, map[string]string{"user": "z"}))
	byRule := map[string]*alert.Alert{}
	for _, c := range cs {
		byRule[c.Rule.Name] = c
	}
	if c := byRule["c"]; len(cs) != 2 || c == nil || c.Correlation.Count != 4 || !c.Correlation.First.Equal(t0) || !c.Time.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("after restart: %+v", cs)
	}
	if f := byRule["few"]; f == nil || f.Group["user"] != "s" {
		t.Fatalf("closing window after restart: %+v", cs)
	}
	if v := metricValue(t, h.met, "vigil_correlation_skipped_total", map[string]string{"reason": "replayed"}); v != 2 {
		t.Errorf("replayed metric %v, want 2", v)
	}
}

// TestSnapshotOfChangedRuleIsDropped: state saved for one definition is not restored into a
// rule whose definition changed; a corrupt snapshot is set aside and the engine starts empty.
func TestSnapshotOfChangedRuleIsDropped(t *testing.T) {
	snap := filepath.Join(t.TempDir(), "corr.snap")
	cfg := "snapshot: {path: " + snap + "}\n"
	h := newHarness(t, detections+corr("Count", "c", "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 1m\n  condition: {gte: 4}"), cfg)
	process(t, h.eng, kafkaAlert(h, "fail", 0, 1, map[string]string{"user": "a"}))
	if err := h.eng.Snapshot(); err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t, detections+corr("Count", "c", "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 2m\n  condition: {gte: 4}"), cfg)
	if n := h2.eng.Keys()[h2.eng.Rules()[0].Key]; n != 0 {
		t.Errorf("state of a changed rule restored (%d groups)", n)
	}
	if !strings.Contains(h2.log.String(), "not restored") {
		t.Errorf("not logged: %s", h2.log.String())
	}
	data, _ := os.ReadFile(snap)
	data[len(data)/2] ^= 0xff
	os.WriteFile(snap, data, 0o600)
	h3 := newHarness(t, detections+corr("Count", "c", "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 1m\n  condition: {gte: 4}"), cfg)
	if !strings.Contains(h3.log.String(), "unreadable") {
		t.Errorf("corrupt snapshot not reported: %s", h3.log.String())
	}
	if _, err := os.Stat(snap + ".bad"); err != nil {
		t.Errorf("corrupt snapshot not set aside: %v", err)
	}
}

// TestRunnerCommitsOnlyWithSnapshot: through the pipeline, offsets are committed after the
// state is saved, and the final commit writes a snapshot.
func TestRunnerCheckpointsBeforeCommit(t *testing.T) {
	snap := filepath.Join(t.TempDir(), "corr.snap")
	h := newHarness(t, detections+corr("Count", "c", "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 1m\n  condition: {gte: 9}"),
		"snapshot: {path: "+snap+", interval: 1h}\n")
	h.run([]string{ev(0, "action=fail", "user=a"), ev(1, "action=fail", "user=a")}, false)
	if _, err := os.Stat(snap); err != nil {
		t.Fatalf("no snapshot after the run: %v", err)
	}
	e2 := h.newEngine()
	if n := e2.Keys()[e2.Rules()[0].Key]; n != 1 {
		t.Errorf("restored %d groups", n)
	}
}

// TestReloadKeepsUnchangedRules: a reload carries the windows of unchanged rules over and
// starts changed ones empty.
func TestReloadKeepsUnchangedRules(t *testing.T) {
	keep := corr("Keep", "keep", "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 1m\n  condition: {gte: 3}")
	change := func(n string) string {
		return "---\ntitle: Change\nid: 20000000-0000-0000-0000-000000000001\nname: change\ncorrelation:\n  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 1m\n  condition: {gte: " + n + "}\n"
	}
	h := newHarness(t, detections+keep+change("3"), "")
	process(t, h.eng, kafkaAlert(h, "fail", 0, 1, map[string]string{"user": "a"}), kafkaAlert(h, "fail", 1, 2, map[string]string{"user": "a"}))

	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yml")
	os.WriteFile(path, []byte(detections+keep+change("4")), 0o644)
	rs := compileFile(t, path)
	if err := h.eng.Reload(rs); err != nil {
		t.Fatal(err)
	}
	h.rs = rs
	process(t, h.eng, kafkaAlert(h, "fail", 2, 3, map[string]string{"user": "a"}))
	cs, err := h.eng.EndInput(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cs {
		names = append(names, c.Rule.Name)
	}
	if !slices.Equal(names, []string{"keep"}) {
		t.Errorf("after reload fired %v, want [keep] (change restarted empty)", names)
	}
}

func compileFile(t *testing.T, path string) *pipeline.Ruleset {
	t.Helper()
	set := rules.Load(path)
	cs := correlate.Compile(set)
	rs := pipeline.Compile(set, pipeline.RuleOptions{ExtraFields: cs.ExtraFields, Suppress: cs.Suppress})
	if errs := append(rs.Errors(), cs.Errors...); len(errs) > 0 {
		t.Fatal(errs)
	}
	return rs
}
