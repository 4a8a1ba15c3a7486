package pipeline

import (
	"sync"
	"time"

	"github.com/vigil-detect/vigil/detect"
	"github.com/vigil-detect/vigil/metrics"
)

// Per-rule cost: each worker's matcher times every rule evaluation of one event in
// CostSampleEvery, and the sums are published as vigil_rule_eval_seconds_total and
// vigil_rule_evals_total so users can find their expensive rules. Label cardinality is bounded:
// the first MaxCostSeries rules seen get their own series, the rest share rule_id="_other".

const (
	defaultCostSampleEvery = 128
	defaultMaxCostSeries   = 300
	costFlushInterval      = 2 * time.Second
)

// ruleCosts collects the workers' samples for the metrics.
type ruleCosts struct {
	mu     sync.Mutex
	m      *metrics.Metrics
	max    int
	series map[string]bool
}

func newRuleCosts(m *metrics.Metrics, max int) *ruleCosts {
	if max <= 0 {
		max = defaultMaxCostSeries
	}
	return &ruleCosts{m: m, max: max, series: map[string]bool{}}
}

// add publishes one worker's accumulated costs (indexed like rs.Detect.Rules).
func (c *ruleCosts) add(rs *Ruleset, costs []detect.RuleCost) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, rc := range costs {
		if rc.Evals == 0 {
			continue
		}
		id := rs.Detect.Rules[i].Key()
		if !c.series[id] {
			if len(c.series) >= c.max {
				id = "_other"
			} else {
				c.series[id] = true
			}
		}
		c.m.RuleEvals.WithLabelValues(id).Add(float64(rc.Evals))
		c.m.RuleEvalTime.WithLabelValues(id).Add(time.Duration(rc.Nanos).Seconds())
	}
}

// costSampler is a worker's side: it flushes its matcher's samples now and then, and its value
// cache counts with them.
type costSampler struct {
	costs *ruleCosts
	buf   []detect.RuleCost
	last  time.Time
	// the matcher's value cache counts already published
	lookups, hits uint64
}

// attach starts sampling on a new matcher.
func (s *costSampler) attach(m *detect.Matcher, every int) {
	if s.costs == nil {
		return
	}
	if every <= 0 {
		every = defaultCostSampleEvery
	}
	m.SampleCosts(every)
	s.lookups, s.hits = 0, 0
}

// flush publishes the matcher's samples when costFlushInterval has passed, or when force is set
// (the matcher is about to be replaced).
func (s *costSampler) flush(rs *Ruleset, m *detect.Matcher, force bool) {
	if s.costs == nil || m == nil || (!force && time.Since(s.last) < costFlushInterval) {
		return
	}
	s.last = time.Now()
	if cap(s.buf) < len(rs.Detect.Rules) {
		s.buf = make([]detect.RuleCost, len(rs.Detect.Rules))
	}
	buf := s.buf[:len(rs.Detect.Rules)]
	clear(buf)
	m.TakeCosts(buf)
	s.costs.add(rs, buf)
	lookups, hits := m.ValueCacheStats()
	s.costs.m.ValueCache.WithLabelValues("hit").Add(float64(hits - s.hits))
	s.costs.m.ValueCache.WithLabelValues("miss").Add(float64((lookups - hits) - (s.lookups - s.hits)))
	s.lookups, s.hits = lookups, hits
}
