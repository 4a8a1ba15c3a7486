package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// TestMetricNamesLint runs client_golang's promlint over every metric Vigil registers (with a
// sample in each vector, so that every family is gathered).
func TestMetricNamesLint(t *testing.T) {
	m := New("test")
	m.Events.WithLabelValues("events").Inc()
	m.Rejected.WithLabelValues("invalid_json").Inc()
	m.RuleMatches.WithLabelValues("id", "title").Inc()
	m.Alerts.WithLabelValues("detection", "high").Inc()
	m.ConsumerLag.WithLabelValues("events", "0").Set(1)
	m.Commits.WithLabelValues("ok").Inc()
	m.SinkErrors.WithLabelValues("sink_0").Inc()
	m.RulesLoaded.WithLabelValues("detection").Set(1)
	m.Reloads.WithLabelValues("ok").Inc()
	m.RuleEvalTime.WithLabelValues("id").Add(1)
	m.RuleEvals.WithLabelValues("id").Inc()
	m.Up.WithLabelValues("kafka").Set(1)
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(families).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	if len(families) < 20 {
		t.Errorf("only %d metric families gathered", len(families))
	}
}
