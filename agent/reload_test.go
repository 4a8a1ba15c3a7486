package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/config"
	"github.com/vigil-detect/vigil/internal/kafkatest"
)

func ruleText(id, needle string) string {
	return fmt.Sprintf("title: Rule %s\nid: %s\nlogsource: {product: test}\ndetection:\n  sel: {CommandLine|contains: %s}\n  condition: sel\nlevel: high\n", id, id, needle)
}

const (
	ruleA = "aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa"
	ruleB = "bbbbbbbb-bbbb-bbbb-bbbb-bbbbbbbbbbbb"
)

// writeRule replaces a rule file and moves its modification time forward, so that a change is
// seen even within the file system's time resolution.
func writeRule(t *testing.T, path, text string, step int) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	mt := time.Now().Add(time.Duration(step) * time.Second)
	if err := os.Chtimes(path, mt, mt); err != nil {
		t.Fatal(err)
	}
}

func reloadAgent(t *testing.T, dir string, watch bool) (*Agent, string, chan os.Signal, func()) {
	t.Helper()
	b := testBroker(t, "events", "vigil-alerts", "vigil-dead-letter")
	cfg := config.Default()
	cfg.Rules = []string{dir}
	cfg.Kafka.Brokers = []string{b.Addr}
	cfg.Kafka.Group = "reload"
	cfg.Metrics.Addr = "127.0.0.1:0"
	cfg.Reload.Watch = &watch
	cfg.Reload.Interval = 100 * time.Millisecond
	sig := make(chan os.Signal, 1)
	a := &Agent{Config: cfg, Log: testLog(t), ReloadRequests: sig}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return a, b.Addr, sig, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	}
}

func waitFor(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReloadOnFileChange: a changed rule file is picked up; a rule set that does not compile to
// any rule, or (strict) has a failing rule, is refused and the running set stays.
func TestReloadOnFileChange(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rule.yml")
	writeRule(t, path, ruleText(ruleA, "alpha"), 0)
	a, _, _, stop := reloadAgent(t, dir, true)
	defer stop()
	reloads := func(result string) float64 { return metricValue(a, "vigil_rule_reloads_total", result) }
	current := func() string { return a.Runner().Rules().Detect.Rules[0].ID }

	writeRule(t, path, ruleText(ruleB, "beta"), 1)
	waitFor(t, "the reload of rule B", 10*time.Second, func() bool { return reloads("ok") == 1 })
	if current() != ruleB {
		t.Fatalf("running rule %s after the reload, want %s", current(), ruleB)
	}

	writeRule(t, path, "title: broken\ndetection: [\n", 2)
	waitFor(t, "the refused reload", 10*time.Second, func() bool { return reloads("error") == 1 })
	if current() != ruleB {
		t.Fatalf("a broken rule file replaced the running rules")
	}

	// With reload.strict a set with any failing rule is refused, even if others compile.
	a.Config.Reload.Strict = true
	writeRule(t, path, ruleText(ruleA, "alpha")+"---\ntitle: bad\ndetection: {sel: {a: b}, condition: nope}\n", 3)
	waitFor(t, "the strict refusal", 10*time.Second, func() bool { return reloads("error") == 2 })
	if current() != ruleB {
		t.Fatalf("strict reload accepted a failing rule")
	}
	a.Config.Reload.Strict = false
	writeRule(t, path, ruleText(ruleA, "alpha")+"---\ntitle: bad\ndetection: {sel: {a: b}, condition: nope}\n", 4)
	waitFor(t, "the lenient reload", 10*time.Second, func() bool { return reloads("ok") == 2 })
	if current() != ruleA || metricValue(a, "vigil_rule_load_errors", "") != 1 {
		t.Fatalf("running %s with %v load errors", current(), metricValue(a, "vigil_rule_load_errors", ""))
	}
}

// TestReloadUnderLoad swaps between two rules that match the same events, by SIGHUP, while events
// stream through the agent: every event yields exactly one alert, from one rule or the other, so
// no event was lost or evaluated twice across the swaps.
func TestReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rule.yml")
	writeRule(t, path, ruleText(ruleA, "needle"), 0)
	a, addr, sig, stop := reloadAgent(t, dir, false)

	const batches, per = 20, 250
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; i < batches; i++ {
			vals := make([][]byte, per)
			for j := range vals {
				vals[j] = []byte(fmt.Sprintf(`{"CommandLine":"needle %d-%d"}`, i, j))
			}
			kafkatest.Produce(t, addr, "events", vals)
		}
	}()
	swaps := 0
	for {
		select {
		case <-produced:
		default:
			id := ruleA
			if swaps%2 == 0 {
				id = ruleB
			}
			writeRule(t, path, ruleText(id, "needle"), swaps+1)
			sig <- os.Interrupt // any signal value asks for a reload
			swaps++
			waitFor(t, "a reload", 10*time.Second, func() bool {
				return metricValue(a, "vigil_rule_reloads_total", "ok") == float64(swaps)
			})
			time.Sleep(30 * time.Millisecond)
			continue
		}
		break
	}
	waitFor(t, "every event committed", 30*time.Second, func() bool {
		return kafkatest.AllCommitted(committed(t, addr, "reload", "events"), kafkatest.EndOffsets(t, addr, "events", 3))
	})
	stop()
	got := kafkatest.ReadToEnd(t, addr, "vigil-alerts", 3)
	perEvent := map[string]int{}
	byRule := map[string]int{}
	for _, m := range got {
		var al struct {
			Rule  struct{ ID string }
			Event struct{ CommandLine string }
		}
		if err := json.Unmarshal(m.Value, &al); err != nil {
			t.Fatal(err)
		}
		perEvent[al.Event.CommandLine]++
		byRule[al.Rule.ID]++
	}
	if len(perEvent) != batches*per || len(got) != batches*per {
		t.Fatalf("%d alerts for %d distinct events, want %d each", len(got), len(perEvent), batches*per)
	}
	for ev, n := range perEvent {
		if n != 1 {
			t.Fatalf("%s alerted %d times", ev, n)
		}
	}
	if swaps < 2 || byRule[ruleA] == 0 || byRule[ruleB] == 0 {
		t.Fatalf("%d swaps; alerts by rule %v: the test did not exercise a swap under load", swaps, byRule)
	}
	t.Logf("%d swaps under load; alerts by rule: %v", swaps, byRule)
}

// metricValue reads a counter or gauge from the agent's registry; label is the value of its one
// label ("" for none).
func metricValue(a *Agent, name, label string) float64 {
	mfs, err := a.Metrics.Registry.Gather()
	if err != nil {
		return -1
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// testLog logs through t (shown when a test fails or with -v).
func testLog(t *testing.T) *slog.Logger { return slog.New(slog.NewTextHandler(testWriter{t}, nil)) }
