package pipeline

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-detect/vigil/detect"
	"github.com/vigil-detect/vigil/metrics"
	"github.com/vigil-detect/vigil/rules"
)

// TestRuleCostsBoundedSeries: sampled costs reach the metrics, and rules beyond the series cap
// share "_other" instead of adding label values.
func TestRuleCostsBoundedSeries(t *testing.T) {
	var docs []string
	for _, id := range []string{"a", "b", "c"} {
		docs = append(docs, "title: "+id+"\nid: "+id+"\nlogsource: {product: test}\ndetection:\n  sel: {F|contains: x}\n  condition: sel\n")
	}
	set := &rules.Set{}
	set.Add("r.yml", []byte(strings.Join(docs, "---\n")))
	rs := Compile(set, RuleOptions{Detect: detect.Options{NoRouting: true}})
	m := metrics.New("test")
	costs := newRuleCosts(m, 2)
	matcher := rs.Detect.NewMatcher()
	matcher.SampleCosts(1)
	for i := 0; i < 5; i++ {
		if _, err := matcher.Match([]byte(`{"F":"xyz"}`)); err != nil {
			t.Fatal(err)
		}
	}
	s := costSampler{costs: costs}
	s.flush(rs, matcher, true)
	if got := testutil.ToFloat64(m.RuleEvals.WithLabelValues("a")); got != 5 {
		t.Errorf("rule a: %v evaluations, want 5", got)
	}
	if got := testutil.ToFloat64(m.RuleEvals.WithLabelValues("_other")); got != 5 {
		t.Errorf("_other: %v evaluations, want 5 (rule c past the cap)", got)
	}
	if n := testutil.CollectAndCount(m.RuleEvals); n != 3 {
		t.Errorf("%d series, want 3 (a, b, _other)", n)
	}
	if testutil.ToFloat64(m.RuleEvalTime.WithLabelValues("a")) <= 0 {
		t.Error("no time recorded")
	}
}

// The value cache's counts reach the metrics with the costs, as increments since the last flush.
func TestValueCacheMetrics(t *testing.T) {
	set := &rules.Set{}
	set.Add("r.yml", []byte("title: a\nid: a\nlogsource: {product: test}\ndetection:\n  sel: {F|contains: needle}\n  condition: sel\n"))
	rs := Compile(set, RuleOptions{Detect: detect.Options{NoRouting: true}})
	m := metrics.New("test")
	s := costSampler{costs: newRuleCosts(m, 2)}
	matcher := rs.Detect.NewMatcher()
	s.attach(matcher, 1)
	for range 2 {
		for range 3 {
			if _, err := matcher.Match([]byte(`{"F":"a needle in a long haystack"}`)); err != nil {
				t.Fatal(err)
			}
		}
		s.flush(rs, matcher, true)
	}
	hit, miss := testutil.ToFloat64(m.ValueCache.WithLabelValues("hit")), testutil.ToFloat64(m.ValueCache.WithLabelValues("miss"))
	if hit != 5 || miss != 1 {
		t.Errorf("value cache: %v hits and %v misses, want 5 and 1", hit, miss)
	}
}
