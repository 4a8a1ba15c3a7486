package respond

import (
	"strings"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/respond/enrich"
)

// Scorer computes an alert's 0-100 score:
//
//	score = clamp(base + correlation + indicators + asset, 0, 100)
//	base        = scoring.rules[rule id, name or title], else scoring.levels[level]
//	              (default informational 10, low 30, medium 50, high 75, critical 95; no level 40)
//	correlation = scoring.correlation (default 10) for correlation alerts
//	indicators  = scoring.indicator (default 15) per distinct indicator value hit,
//	              at most scoring.indicator_max (default 30)
//	asset       = scoring.asset[the highest criticality among the alert's assets]
//	              (default low 0, medium 5, high 10, critical 20)
//
// The parts are recorded in alert.Enrichment.ScoreParts.
type Scorer struct {
	levels       map[string]int
	unknown      int
	rules        map[string]int
	correlation  int
	indicator    int
	indicatorMax int
	asset        map[string]int
}

func intOr(p *int, d int) int {
	if p != nil {
		return *p
	}
	return d
}

func newScorer(c Scoring) *Scorer {
	s := &Scorer{
		levels:       map[string]int{},
		unknown:      intOr(c.UnknownLevel, alert.LevelScore("")),
		rules:        map[string]int{},
		correlation:  intOr(c.Correlation, 10),
		indicator:    intOr(c.Indicator, 15),
		indicatorMax: intOr(c.IndicatorMax, 30),
		asset:        map[string]int{"low": 0, "medium": 5, "high": 10, "critical": 20},
	}
	for _, l := range alert.Levels {
		s.levels[l] = alert.LevelScore(l)
	}
	for l, v := range c.Levels {
		s.levels[strings.ToLower(l)] = v
	}
	for r, v := range c.Rules {
		s.rules[strings.ToLower(r)] = v
	}
	for k, v := range c.Asset {
		s.asset[strings.ToLower(k)] = v
	}
	return s
}

// ruleValue looks a rule up by id, name or title (case-insensitive).
func ruleValue[V any](m map[string]V, r *alert.Rule) (V, bool) {
	for _, k := range []string{r.ID, r.Name, r.Title} {
		if k == "" {
			continue
		}
		if v, ok := m[strings.ToLower(k)]; ok {
			return v, true
		}
	}
	var zero V
	return zero, false
}

// Score sets a.Score and records its parts.
func (s *Scorer) Score(a *alert.Alert) {
	parts := map[string]int{}
	total := 0
	if v, ok := ruleValue(s.rules, &a.Rule); ok {
		parts["rule"] = v
		total += v
	} else {
		v, ok := s.levels[strings.ToLower(a.Rule.Level)]
		if !ok {
			v = s.unknown
		}
		parts["level"] = v
		total += v
	}
	if a.Kind == alert.KindCorrelation && s.correlation != 0 {
		parts["correlation"] = s.correlation
		total += s.correlation
	}
	if a.Enrichment != nil {
		values := map[string]bool{}
		for _, h := range a.Enrichment.Indicators {
			values[h.Type+":"+h.Value] = true
		}
		if n := min(len(values)*s.indicator, s.indicatorMax); n > 0 {
			parts["indicators"] = n
			total += n
		}
		best := -1
		for _, h := range a.Enrichment.Assets {
			if r := enrich.CriticalityRank(h.Criticality); r > best {
				best = r
			}
		}
		if best >= 0 {
			if v := s.asset[enrich.Criticalities[best]]; v != 0 {
				parts["asset"] = v
				total += v
			}
		}
	}
	a.Score = max(0, min(100, total))
	if a.Enrichment == nil {
		a.Enrichment = &alert.Enrichment{}
	}
	a.Enrichment.ScoreParts = parts
}
