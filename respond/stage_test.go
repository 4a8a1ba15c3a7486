package respond

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/broker"
	"github.com/vigil-detect/vigil/metrics"
	"github.com/vigil-detect/vigil/stream"
)

// TestProcessOrderRiskSuppressionAndEnrichment runs the whole stage over batches: enrichment and
// scores on every alert, duplicates withheld and summarised, a risk alert right after the alert
// that crossed the threshold, playbooks on risk alerts, and nothing done to alerts that only
// feed correlations.
func TestProcessOrderRiskSuppressionAndEnrichment(t *testing.T) {
	dir := t.TempDir()
	feed := filepath.Join(dir, "feed.txt")
	os.WriteFile(feed, []byte("203.0.113.50\n"), 0o644)
	assets := filepath.Join(dir, "assets.csv")
	os.WriteFile(assets, []byte("user,anna,critical,hr\n"), 0o644)
	rc := newReceiver(t)
	m := metrics.New("test")
	r, rec := newResponder(t, fmt.Sprintf(`
enrichment: {indicators: [{file: '%s'}], assets: ['%s'], reload_interval: 0s}
risk: {threshold: 150, entities: [user]}
suppress: {window: 10m, key: [user, ip]}
actions: {disable_account: {type: webhook, url: '%s'}}
playbooks:
  - {name: risky-users, mode: enforce, match: {kinds: [risk], entity: user}, actions: [{action: disable_account}]}
`, feed, assets, rc.URL), func(o *Options) { o.Metrics = m })

	feeder := mk(alertSpec{rule: "feeder", user: []string{"anna"}})
	feeder.Suppressed = true
	a1 := mk(alertSpec{rule: "lateral", level: "high", user: []string{"anna"}, ip: []string{"203.0.113.50"}})
	a2 := mk(alertSpec{rule: "lateral", level: "high", user: []string{"anna"}, ip: []string{"203.0.113.50"}, at: time.Minute})
	a3 := mk(alertSpec{rule: "dump", level: "critical", user: []string{"anna"}, at: 2 * time.Minute})
	out := process(t, r, feeder, a1, a2, a3)

	if feeder.Enrichment != nil || feeder.Score != 0 {
		t.Error("a correlation feeder was scored")
	}
	// a1: high 75 + one indicator 15 + critical asset 20 = 110, clamped to 100.
	if a1.Enrichment == nil || len(a1.Enrichment.Indicators) != 1 || len(a1.Enrichment.Assets) != 1 {
		t.Fatalf("a1 enrichment %+v", a1.Enrichment)
	}
	if a1.Score != 100 || a1.Enrichment.ScoreParts["indicators"] != 15 || a1.Enrichment.ScoreParts["asset"] != 20 {
		t.Errorf("a1 score %d parts %v", a1.Score, a1.Enrichment.ScoreParts)
	}
	if !a2.Suppressed || a1.Suppressed || a3.Suppressed {
		t.Errorf("suppression: a1 %v a2 %v a3 %v", a1.Suppressed, a2.Suppressed, a3.Suppressed)
	}
	// a1 gives anna 100, a2 is withheld, a3 (critical 95 + asset 20 = 100, clamped) crosses 150.
	var kinds []string
	for _, a := range out {
		kinds = append(kinds, a.Kind+":"+a.Rule.Name)
	}
	want := "detection:feeder detection:lateral detection:lateral detection:dump risk:entity_risk"
	if strings.Join(kinds, " ") != want {
		t.Fatalf("output %v, want %s", kinds, want)
	}
	ra := out[4]
	if ra.Group["user"] != "anna" || ra.Score == 0 || ra.Enrichment == nil || len(ra.Enrichment.Assets) != 1 {
		t.Errorf("risk alert %+v", ra)
	}
	// The window closes when the watermark passes it: a summary with the count.
	later := mk(alertSpec{rule: "other", user: []string{"bob"}, at: 11 * time.Minute})
	out = process(t, r, later)
	if len(out) != 2 || out[1].Count != 2 || out[1].Rule.Name != "lateral" || out[1].Suppressed {
		t.Fatalf("summary: %+v", out)
	}
	// Flush closes what is left (bob's window has no duplicate: nothing).
	process(t, r, mk(alertSpec{rule: "other", user: []string{"bob"}, at: 12 * time.Minute}))
	fl, _ := r.Flush(context.Background())
	if len(fl) != 1 || fl[0].Count != 2 {
		t.Errorf("flush %+v", fl)
	}
	r.Close()
	if got := rc.targets(); len(got) != 1 || got[0] != "anna" {
		t.Errorf("risk playbook acted on %v", got)
	}
	if len(rec.with(OutcomeExecuted)) != 1 {
		t.Errorf("records %+v", rec.all())
	}
	for _, c := range []struct {
		name, labels string
		want         float64
	}{
		{"vigil_alerts_suppressed_total", `rule_id="lateral-id"`, 1},
		{"vigil_alerts_suppressed_total", `rule_id="other-id"`, 1},
		{"vigil_alerts_merged_total", "", 2},
		{"vigil_risk_alerts_total", `entity_type="user"`, 1},
		{"vigil_indicator_hits_total", `list="feed"`, 2}, // a1, and a2 before it was merged
		{"vigil_risk_entities", "", 2},
	} {
		if got := metricValue(t, m, c.name, c.labels); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// metricValue reads one series from the registry (labels as `k="v",...` in name order).
func metricValue(t *testing.T, m *metrics.Metrics, name, labels string) float64 {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, mt := range f.GetMetric() {
			var ls []string
			for _, l := range mt.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			if strings.Join(ls, ",") != labels {
				continue
			}
			switch {
			case mt.Counter != nil:
				return mt.Counter.GetValue()
			case mt.Gauge != nil:
				return mt.Gauge.GetValue()
			case mt.Histogram != nil:
				return float64(mt.Histogram.GetSampleCount())
			}
		}
	}
	return -1
}

func TestDecisionMetricsAndLatency(t *testing.T) {
	rc := newReceiver(t)
	m := metrics.New("test")
	r, _ := newResponder(t, fmt.Sprintf(`
allowlist: {cidrs: [198.51.100.0/24]}
actions: {block_ip: {type: webhook, url: '%s'}}
playbooks: [{name: p, mode: enforce, actions: [{action: block_ip}]}]
`, rc.URL), func(o *Options) { o.Metrics = m })
	process(t, r, bruteAlert(0, []string{"198.51.100.7", "203.0.113.50"}, nil, nil))
	r.Close()
	for _, c := range []struct {
		name, labels string
		want         float64
	}{
		{"vigil_response_decisions_total", `action="block_ip",outcome="executed"`, 1},
		{"vigil_response_decisions_total", `action="block_ip",outcome="skipped"`, 1},
		{"vigil_response_decisions_total", `action="block_ip",outcome="queued"`, 1},
		{"vigil_response_latency_seconds", `action="block_ip"`, 1},
		{"vigil_response_queue_depth", "", 0},
	} {
		if got := metricValue(t, m, c.name, c.labels); got != c.want {
			t.Errorf("%s{%s} = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// TestKafkaActionAndAuditTopic produces an action and the audit records to a real (in-process)
// Kafka broker.
func TestKafkaActionAndAuditTopic(t *testing.T) {
	b, err := broker.Start(broker.Options{Topics: []string{"soar", "vigil-audit"}, Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	r, rec := newResponder(t, `
audit: {kafka_topic: vigil-audit}
actions:
  isolate_host: {type: kafka, topic: soar, body: '{"host": {{json .Target}}, "op": {{json .Operation}}}'}
playbooks: [{name: p, mode: enforce, actions: [{action: isolate_host}]}]
`, func(o *Options) {
		o.Kafka = func() (stream.KafkaConfig, error) { return stream.KafkaConfig{Brokers: []string{b.Addr}}, nil }
	})
	process(t, r, bruteAlert(0, nil, nil, []string{"WS7"}))
	r.Close()
	if ex := rec.with(OutcomeExecuted); len(ex) != 1 || ex[0].Result != "produced to soar" {
		t.Fatalf("records %+v", rec.all())
	}
	read := func(topic string, n int) []kafka.Message {
		rd := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{b.Addr}, Topic: topic, Partition: 0, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond})
		defer rd.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var out []kafka.Message
		for len(out) < n {
			m, err := rd.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("reading %s: %v (got %d)", topic, err, len(out))
			}
			out = append(out, m)
		}
		return out
	}
	msg := read("soar", 1)[0]
	if string(msg.Key) != "WS7" || string(msg.Value) != `{"host": "WS7", "op": "isolate_host"}` {
		t.Errorf("action message %s = %s", msg.Key, msg.Value)
	}
	var outcomes []string
	for _, m := range read("vigil-audit", 2) {
		var d Decision
		if err := json.Unmarshal(m.Value, &d); err != nil {
			t.Fatal(err)
		}
		outcomes = append(outcomes, d.Outcome)
	}
	if strings.Join(outcomes, ",") != "queued,executed" {
		t.Errorf("audit topic %v", outcomes)
	}
}

func TestEnrichmentReloadsWhileRunning(t *testing.T) {
	dir := t.TempDir()
	feed := filepath.Join(dir, "feed.txt")
	os.WriteFile(feed, []byte("203.0.113.1\n"), 0o644)
	r, _ := newResponder(t, fmt.Sprintf("enrichment: {indicators: [{file: '%s'}], reload_interval: 20ms}\n", feed))
	hit := func(ip string) bool {
		a := mk(alertSpec{rule: "x", ip: []string{ip}})
		process(t, r, a)
		return a.Enrichment != nil && len(a.Enrichment.Indicators) == 1
	}
	if !hit("203.0.113.1") || hit("203.0.113.2") {
		t.Fatal("initial list")
	}
	os.WriteFile(feed, []byte("203.0.113.2\n"), 0o644)
	os.Chtimes(feed, time.Now().Add(time.Minute), time.Now().Add(time.Minute))
	waitFor(t, "the reload", func() bool { return hit("203.0.113.2") })
	if hit("203.0.113.1") {
		t.Error("old indicator still matches")
	}
	if err := r.Reload(); err != nil {
		t.Error(err)
	}
}

func TestRiskAlertIsDeterministicAcrossRuns(t *testing.T) {
	run := func() []string {
		r, _ := newResponder(t, "risk: {threshold: 100}\n")
		var ids []string
		for i := 0; i < 3; i++ {
			for _, a := range process(t, r, mk(alertSpec{rule: "x", level: "medium", host: []string{"WS1"}, at: time.Duration(i) * time.Second})) {
				if a.Kind == alert.KindRisk {
					ids = append(ids, a.ID)
				}
			}
		}
		return ids
	}
	a, b := run(), run()
	if len(a) != 1 || strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("risk alert ids %v and %v", a, b)
	}
}
