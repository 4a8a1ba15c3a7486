package respond

import (
	"math"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/alert"
)

func TestScoreFormula(t *testing.T) {
	ten := 10
	cases := []struct {
		name  string
		cfg   Scoring
		a     *alert.Alert
		score int
		parts map[string]int
	}{
		{"level only", Scoring{}, &alert.Alert{Kind: "detection", Rule: alert.Rule{Level: "high"}}, 75, map[string]int{"level": 75}},
		{"unknown level", Scoring{}, &alert.Alert{Kind: "detection"}, 40, map[string]int{"level": 40}},
		{"correlation bonus", Scoring{}, &alert.Alert{Kind: "correlation", Rule: alert.Rule{Level: "high"}}, 85, map[string]int{"level": 75, "correlation": 10}},
		{"intel capped, asset, clamped", Scoring{}, &alert.Alert{Kind: "correlation", Rule: alert.Rule{Level: "critical"},
			Enrichment: &alert.Enrichment{
				Indicators: []alert.IndicatorHit{{Type: "ip", Value: "a", List: "x"}, {Type: "ip", Value: "a", List: "y"}, {Type: "domain", Value: "b"}, {Type: "hash", Value: "c"}},
				Assets:     []alert.AssetHit{{Criticality: "medium"}, {Criticality: "critical"}},
			}}, 100, map[string]int{"level": 95, "correlation": 10, "indicators": 30, "asset": 20}},
		{"one indicator counted once across lists", Scoring{}, &alert.Alert{Kind: "detection", Rule: alert.Rule{Level: "low"},
			Enrichment: &alert.Enrichment{Indicators: []alert.IndicatorHit{{Type: "ip", Value: "a", List: "x"}, {Type: "ip", Value: "a", List: "y"}}}},
			45, map[string]int{"level": 30, "indicators": 15}},
		{"configured", Scoring{Levels: map[string]int{"high": 60}, Correlation: &ten, Asset: map[string]int{"high": 25}},
			&alert.Alert{Kind: "correlation", Rule: alert.Rule{Level: "High"}, Enrichment: &alert.Enrichment{Assets: []alert.AssetHit{{Criticality: "high"}}}},
			95, map[string]int{"level": 60, "correlation": 10, "asset": 25}},
		{"rule override by name", Scoring{Rules: map[string]int{"noisy_rule": 5}},
			&alert.Alert{Kind: "detection", Rule: alert.Rule{Name: "noisy_rule", Level: "critical"}}, 5, map[string]int{"rule": 5}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			newScorer(tc.cfg).Score(tc.a)
			if tc.a.Score != tc.score {
				t.Errorf("score %d, want %d", tc.a.Score, tc.score)
			}
			if len(tc.a.Enrichment.ScoreParts) != len(tc.parts) {
				t.Errorf("parts %v, want %v", tc.a.Enrichment.ScoreParts, tc.parts)
			}
			for k, v := range tc.parts {
				if tc.a.Enrichment.ScoreParts[k] != v {
					t.Errorf("part %s = %d, want %d", k, tc.a.Enrichment.ScoreParts[k], v)
				}
			}
		})
	}
}

func scored(s alertSpec, score int) *alert.Alert {
	a := mk(s)
	a.Score = score
	return a
}

func TestRiskAccumulatesDecaysAndFiresOnce(t *testing.T) {
	half := 0.5
	r := newRiskTracker(&Risk{Threshold: 100, HalfLife: Duration(time.Hour), Rearm: &half, Entities: []string{"user", "ip"}})
	add := func(at time.Duration, score int) []*alert.Alert {
		return r.add(scored(alertSpec{rule: "r", user: []string{"anna"}, host: []string{"WS1"}, at: at}, score))
	}
	if out := add(0, 60); len(out) != 0 {
		t.Fatalf("fired at 60: %v", out)
	}
	// One hour later 60 has decayed to 30: 30 + 60 = 90 stays below 100.
	if out := add(time.Hour, 60); len(out) != 0 {
		t.Fatalf("fired at 90")
	}
	if v := r.Value("user", "anna", t0.Add(time.Hour)); math.Abs(v-90) > 0.01 {
		t.Fatalf("risk %.2f, want 90", v)
	}
	if r.Value("host", "WS1", t0) != 0 {
		t.Error("host risk tracked though not configured")
	}
	out := add(time.Hour, 20)
	if len(out) != 1 {
		t.Fatalf("want one risk alert at 110, got %d", len(out))
	}
	ra := out[0]
	if ra.Kind != alert.KindRisk || ra.Group["user"] != "anna" || len(ra.Entities.User) != 1 || ra.Correlation.Value != 110 || ra.Correlation.Count != 3 {
		t.Errorf("risk alert %+v %+v", ra, ra.Correlation)
	}
	again := newRiskTracker(&Risk{Threshold: 100, Entities: []string{"user"}})
	same := func(at time.Duration, score int) []*alert.Alert {
		return again.add(scored(alertSpec{rule: "r", user: []string{"anna"}, host: []string{"WS1"}, at: at}, score))
	}
	same(0, 60)
	same(time.Hour, 60)
	if out2 := same(time.Hour, 20); len(out2) != 1 || out2[0].ID != ra.ID {
		t.Error("risk alert id is not deterministic")
	}
	// Above the threshold it does not fire again...
	if out := add(time.Hour+time.Minute, 50); len(out) != 0 {
		t.Error("fired again while above threshold")
	}
	// ...until it decayed below threshold*rearm (50): ~160 needs > 1.7 h; at +3 h it is ~20.
	if out := add(4*time.Hour, 10); len(out) != 0 {
		t.Error("fired on re-arm")
	}
	if out := add(4*time.Hour, 90); len(out) != 1 {
		t.Error("did not fire again after re-arming")
	}
}

func TestRiskOutOfOrderAndBounded(t *testing.T) {
	r := newRiskTracker(&Risk{Threshold: 1000, HalfLife: Duration(time.Hour), MaxEntities: 3, Entities: []string{"ip"}})
	r.add(scored(alertSpec{rule: "r", ip: []string{"192.0.2.1"}, at: 2 * time.Hour}, 80))
	r.add(scored(alertSpec{rule: "r", ip: []string{"192.0.2.1"}, at: time.Hour}, 80)) // late: worth 40 at 2 h
	if v := r.Value("ip", "192.0.2.1", t0.Add(2*time.Hour)); math.Abs(v-120) > 0.01 {
		t.Errorf("risk %.2f, want 120", v)
	}
	for i := 2; i <= 5; i++ {
		r.add(scored(alertSpec{rule: "r", ip: []string{"192.0.2." + string(rune('0'+i))}}, 10))
	}
	if r.cache.Len() != 3 || r.evicted.Load() != 2 {
		t.Errorf("entities %d, evicted %d", r.cache.Len(), r.evicted.Load())
	}
	if r.Value("ip", "192.0.2.1", t0.Add(2*time.Hour)) != 0 {
		t.Error("least recently used entity not evicted")
	}
}

func TestRiskIgnoresRiskAlerts(t *testing.T) {
	r := newRiskTracker(&Risk{Threshold: 10, Kinds: []string{"detection", "risk"}})
	a := scored(alertSpec{rule: "r", kind: alert.KindRisk, user: []string{"u"}}, 100)
	if out := r.add(a); len(out) != 0 || r.cache.Len() != 0 {
		t.Error("risk alert fed risk")
	}
}

func TestSuppressMergesWithinWindow(t *testing.T) {
	d := newDeduper(&Suppress{Window: Duration(10 * time.Minute), Key: []string{"ip"},
		Rules: map[string]SuppressRule{"quiet": {Window: new(Duration)}}})
	var out []*alert.Alert
	first := mk(alertSpec{rule: "r", ip: []string{"203.0.113.50"}, user: []string{"a"}})
	if d.check(first, &out) {
		t.Fatal("first alert withheld")
	}
	// Same rule and IP, another user: the key is ip only, so it merges.
	var dups []*alert.Alert
	for i := 1; i <= 4; i++ {
		a := mk(alertSpec{rule: "r", ip: []string{"203.0.113.50"}, user: []string{"b"}, at: time.Duration(i) * time.Minute})
		if !d.check(a, &out) {
			t.Fatalf("duplicate %d passed", i)
		}
		dups = append(dups, a)
	}
	if other := mk(alertSpec{rule: "r", ip: []string{"203.0.113.51"}}); d.check(other, &out) {
		t.Error("another IP merged")
	}
	if q := mk(alertSpec{rule: "quiet", ip: []string{"203.0.113.50"}}); d.check(q, &out) || d.check(q, &out) {
		t.Error("rule with window 0 merged")
	}
	d.expire(t0.Add(9*time.Minute), &out)
	if len(out) != 0 {
		t.Fatalf("summary before the window closed: %v", out)
	}
	d.expire(t0.Add(10*time.Minute), &out)
	if len(out) != 1 {
		t.Fatalf("want one summary, got %d", len(out))
	}
	s := out[0]
	if s.Count != 5 || s.Time != dups[3].Time || s.Suppressed || s.ID == first.ID || s.ID == dups[3].ID {
		t.Errorf("summary %+v", s)
	}
	// A new window starts after the old one closed.
	if d.check(mk(alertSpec{rule: "r", ip: []string{"203.0.113.50"}, at: 11 * time.Minute}), &out) {
		t.Error("first alert of a new window withheld")
	}
	// Windows without duplicates close silently; flush closes the rest.
	out = nil
	d.check(mk(alertSpec{rule: "r", ip: []string{"203.0.113.50"}, at: 12 * time.Minute}), &out)
	d.flush(&out)
	if len(out) != 1 || out[0].Count != 2 || len(d.entries) != 0 {
		t.Errorf("flush: %d summaries, %d entries", len(out), len(d.entries))
	}
}

func TestSuppressBoundedEvictionEmitsSummary(t *testing.T) {
	d := newDeduper(&Suppress{Window: Duration(time.Hour), MaxEntries: 2})
	var out []*alert.Alert
	a := mk(alertSpec{rule: "r", ip: []string{"192.0.2.1"}})
	d.check(a, &out)
	d.check(mk(alertSpec{rule: "r", ip: []string{"192.0.2.1"}, at: time.Second}), &out)
	d.check(mk(alertSpec{rule: "r", ip: []string{"192.0.2.2"}, at: 2 * time.Second}), &out)
	d.check(mk(alertSpec{rule: "r", ip: []string{"192.0.2.3"}, at: 3 * time.Second}), &out) // evicts the oldest window
	if len(d.entries) != 2 || len(out) != 1 || out[0].Count != 2 {
		t.Errorf("entries %d, summaries %d", len(d.entries), len(out))
	}
}

func TestTargetsPreferCorrelationGroup(t *testing.T) {
	a := mk(alertSpec{rule: "r", kind: alert.KindCorrelation, ip: []string{"198.51.100.23", "10.0.0.5"},
		user: []string{"Administrator", "NW-WS101$"}, host: []string{"NW-WS101"},
		group: map[string]string{"IpAddress": "::ffff:198.51.100.23", "TargetUserName": "Administrator"}})
	for typ, want := range map[string]string{"ip": "198.51.100.23", "user": "Administrator", "host": "NW-WS101", "alert": ""} {
		if got := targets(a, typ); len(got) != 1 || got[0] != want {
			t.Errorf("%s targets %v, want [%s]", typ, got, want)
		}
	}
	b := mk(alertSpec{rule: "r", ip: []string{"192.0.2.2", "192.0.2.1", "192.0.2.2"}})
	if got := targets(b, "ip"); len(got) != 2 || got[0] != "192.0.2.1" {
		t.Errorf("entity targets %v", got)
	}
	if got := targets(b, "user"); len(got) != 0 {
		t.Errorf("user targets %v", got)
	}
}
