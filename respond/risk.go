package respond

import (
	"math"
	"slices"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/vigil-detect/vigil/alert"
)

// Risk alert rule identity.
const (
	RiskRuleID    = "vigil-entity-risk"
	RiskRuleName  = "entity_risk"
	RiskRuleTitle = "Entity Risk Above Threshold"
	maxRiskItems  = 20 // contributing alert ids and rules kept per entity
)

// riskTracker accumulates alert scores per entity with exponential decay in event time and
// raises a risk alert when an entity crosses the threshold. State is an LRU of entities: the
// least recently touched are forgotten first.
type riskTracker struct {
	cache     *lru.Cache[string, *entityRisk]
	threshold float64
	factor    float64
	rearm     float64
	halfLife  time.Duration
	types     map[string]bool
	kinds     map[string]bool
	level     string
	evicted   atomic.Int64
}

type entityRisk struct {
	score       float64
	at          time.Time // event time score is valued at
	fired       bool      // above threshold and not yet re-armed
	count       int
	first, last time.Time
	rules       []string
	alertIDs    []string
}

func newRiskTracker(c *Risk) *riskTracker {
	r := &riskTracker{
		threshold: c.Threshold,
		factor:    1,
		rearm:     0.5,
		halfLife:  c.HalfLife.D(),
		types:     map[string]bool{},
		kinds:     map[string]bool{},
		level:     c.Level,
	}
	if c.Factor != nil {
		r.factor = *c.Factor
	}
	if c.Rearm != nil {
		r.rearm = *c.Rearm
	}
	if r.halfLife <= 0 {
		r.halfLife = time.Hour
	}
	if r.level == "" {
		r.level = "high"
	}
	types := c.Entities
	if len(types) == 0 {
		types = []string{TargetUser, TargetHost, TargetIP}
	}
	for _, t := range types {
		r.types[t] = true
	}
	kinds := c.Kinds
	if len(kinds) == 0 {
		kinds = []string{alert.KindDetection, alert.KindCorrelation}
	}
	for _, k := range kinds {
		if k != alert.KindRisk { // risk alerts never feed risk: no feedback loop
			r.kinds[k] = true
		}
	}
	size := c.MaxEntities
	if size <= 0 {
		size = 100000
	}
	r.cache, _ = lru.NewWithEvict(size, func(string, *entityRisk) { r.evicted.Add(1) })
	return r
}

// decay values score, known at from, at time to.
func (r *riskTracker) decay(score float64, from, to time.Time) float64 {
	return score * math.Exp2(-float64(to.Sub(from))/float64(r.halfLife))
}

// Value is an entity's current risk at event time t (0 when unknown).
func (r *riskTracker) Value(kind, value string, t time.Time) float64 {
	e, ok := r.cache.Peek(kind + "\x00" + value)
	if !ok {
		return 0
	}
	if t.Before(e.at) {
		return e.score
	}
	return r.decay(e.score, e.at, t)
}

// add credits a's score to each of its entities and returns the risk alerts it causes.
func (r *riskTracker) add(a *alert.Alert) []*alert.Alert {
	if !r.kinds[a.Kind] {
		return nil
	}
	contrib := float64(a.Score) * r.factor
	if contrib <= 0 {
		return nil
	}
	var out []*alert.Alert
	seen := map[string]bool{}
	a.Entities.Each(func(kind, value string) {
		if !r.types[kind] || value == "" {
			return
		}
		key := kind + "\x00" + value
		if seen[key] {
			return
		}
		seen[key] = true
		e, ok := r.cache.Get(key)
		if !ok {
			e = &entityRisk{at: a.Time, first: a.Time}
			r.cache.Add(key, e)
		}
		c := contrib
		if !a.Time.Before(e.at) {
			e.score = r.decay(e.score, e.at, a.Time)
			e.at = a.Time
		} else {
			// Out of order: the late alert's contribution has decayed by the time e is valued at.
			c = r.decay(contrib, a.Time, e.at)
		}
		if e.fired && e.score < r.threshold*r.rearm {
			e.fired = false
			e.count, e.rules, e.alertIDs, e.first = 0, nil, nil, a.Time
		}
		e.score += c
		e.count++
		if a.Time.Before(e.first) {
			e.first = a.Time
		}
		if a.Time.After(e.last) {
			e.last = a.Time
		}
		rk := a.Rule.Name
		if rk == "" {
			rk = a.Rule.ID
		}
		if !slices.Contains(e.rules, rk) && len(e.rules) < maxRiskItems {
			e.rules = append(e.rules, rk)
		}
		if len(e.alertIDs) < maxRiskItems {
			e.alertIDs = append(e.alertIDs, a.ID)
		}
		if !e.fired && e.score >= r.threshold {
			e.fired = true
			out = append(out, r.alert(kind, value, e, a))
		}
	})
	return out
}

func (r *riskTracker) alert(kind, value string, e *entityRisk, trigger *alert.Alert) *alert.Alert {
	ents := alert.Entities{User: []string{}, Host: []string{}, IP: []string{}}
	switch kind {
	case TargetUser:
		ents.User = []string{value}
	case TargetHost:
		ents.Host = []string{value}
	case TargetIP:
		ents.IP = []string{value}
	}
	return &alert.Alert{
		ID:       alert.ID([]byte(alert.KindRisk), []byte(kind), []byte(value), []byte(trigger.ID)),
		Time:     trigger.Time,
		Kind:     alert.KindRisk,
		Rule:     alert.Rule{ID: RiskRuleID, Title: RiskRuleTitle, Level: r.level, Tags: []string{"vigil.risk"}, Name: RiskRuleName},
		Entities: ents,
		Group:    map[string]string{kind: value},
		Correlation: &alert.Correlation{
			Type:      "risk",
			Count:     e.count,
			Value:     math.Round(e.score*100) / 100,
			Rules:     slices.Clone(e.rules),
			First:     e.first,
			Last:      e.last,
			AlertIDs:  slices.Clone(e.alertIDs),
			Truncated: e.count > len(e.alertIDs),
		},
		RuleIndex: -1,
	}
}
