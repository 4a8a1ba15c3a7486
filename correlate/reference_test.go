package correlate_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/alert"
)

// refEvent is one event of a random stream.
type refEvent struct {
	ms    int64 // event time after t0
	group string
	rule  int // 0 fail, 1 recon, 2 success, -1 noise
	value string
}

var refActions = []string{"fail", "recon", "success"}

func (e refEvent) json() string {
	m := map[string]any{"@timestamp": t0.Add(time.Duration(e.ms) * time.Millisecond).Format(time.RFC3339Nano)}
	if e.rule < 0 {
		m["action"] = "noise"
	} else {
		m["action"], m["user"], m["val"] = refActions[e.rule], e.group, e.value
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// refCase is a correlation and how the reference evaluates it.
type refCase struct {
	body    string // correlation section; %s is the timespan
	rules   []int  // which event rules feed it, by position in its `rules`
	eager   bool
	agg     func(es []refEvent, rules []int) float64
	cond    func(x float64) bool
	ordered bool
}

func countAgg(es []refEvent, _ []int) float64 { return float64(len(es)) }

func distinctAgg(es []refEvent, _ []int) float64 {
	m := map[string]bool{}
	for _, e := range es {
		m[e.value] = true
	}
	return float64(len(m))
}

func rulesAgg(es []refEvent, _ []int) float64 {
	m := map[int]bool{}
	for _, e := range es {
		m[e.rule] = true
	}
	return float64(len(m))
}

func orderedAgg(es []refEvent, rules []int) float64 {
	next := 0
	for _, e := range es {
		if next < len(rules) && e.rule == rules[next] {
			next++
		}
	}
	return float64(next)
}

// reference computes which groups fire, and when (group@ms), by the package's documented
// semantics, from scratch: an event is accepted unless it is more than the lateness behind the
// highest event time before it; the accepted events are then taken in event-time order (ties
// in arrival order), whatever order they came in.
func reference(c refCase, evs []refEvent, span, late int64) []string {
	feeds := map[int]bool{}
	for _, r := range c.rules {
		feeds[r] = true
	}
	wm := int64(math.MinInt64)
	var accepted []refEvent
	for _, e := range evs {
		wm = max(wm, e.ms)
		if e.rule >= 0 && feeds[e.rule] && e.ms >= wm-late {
			accepted = append(accepted, e)
		}
	}
	sort.SliceStable(accepted, func(i, j int) bool { return accepted[i].ms < accepted[j].ms })
	byGroup := map[string][]refEvent{}
	for _, e := range accepted {
		byGroup[e.group] = append(byGroup[e.group], e)
	}
	var out []string
	for name, es := range byGroup {
		if !c.eager {
			for len(es) > 0 {
				end := es[0].ms + span
				n := sort.Search(len(es), func(i int) bool { return es[i].ms > end })
				if c.cond(c.agg(es[:n], c.rules)) {
					out = append(out, fmt.Sprintf("%s@%d", name, end))
				}
				es = es[n:]
			}
			continue
		}
		// Eager: the first window (by its last event) that meets the condition fires; the
		// group's events up to that event plus one timespan are the burst; repeat after it.
		mute := int64(math.MinInt64)
		var kept []refEvent
		for _, e := range es {
			if e.ms <= mute {
				continue
			}
			kept = append(kept, e)
			i := sort.Search(len(kept), func(i int) bool { return kept[i].ms >= e.ms-span })
			if c.cond(c.agg(kept[i:], c.rules)) {
				out = append(out, fmt.Sprintf("%s@%d", name, e.ms))
				mute, kept = e.ms+span, nil
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestAgainstReference runs random streams (out-of-order and late events included) through the
// engine and through the reference, for every kind of condition.
func TestAgainstReference(t *testing.T) {
	cases := []refCase{
		{body: "type: event_count\n  rules: [fail, recon]\n  group-by: [user]\n  timespan: %s\n  condition: {gte: 3}", rules: []int{0, 1}, eager: true, agg: countAgg, cond: func(x float64) bool { return x >= 3 }},
		{body: "type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: %s\n  condition: {gt: 4}", rules: []int{0}, eager: true, agg: countAgg, cond: func(x float64) bool { return x > 4 }},
		{body: "type: value_count\n  rules: [fail, recon]\n  group-by: [user]\n  timespan: %s\n  condition: {field: val, gte: 3}", rules: []int{0, 1}, eager: true, agg: distinctAgg, cond: func(x float64) bool { return x >= 3 }},
		{body: "type: temporal\n  rules: [fail, recon, success]\n  group-by: [user]\n  timespan: %s", rules: []int{0, 1, 2}, eager: true, agg: rulesAgg, cond: func(x float64) bool { return x >= 3 }},
		{body: "type: temporal_ordered\n  rules: [fail, recon, success]\n  group-by: [user]\n  timespan: %s", rules: []int{0, 1, 2}, eager: true, agg: orderedAgg, cond: func(x float64) bool { return x >= 3 }},
		{body: "type: temporal_ordered\n  rules: [success, fail]\n  group-by: [user]\n  timespan: %s", rules: []int{2, 0}, eager: true, agg: orderedAgg, cond: func(x float64) bool { return x >= 2 }},
		{body: "type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: %s\n  condition: {lt: 3}", rules: []int{0}, agg: countAgg, cond: func(x float64) bool { return x < 3 }},
		{body: "type: event_count\n  rules: [fail, success]\n  group-by: [user]\n  timespan: %s\n  condition: {gte: 2, lte: 3}", rules: []int{0, 2}, agg: countAgg, cond: func(x float64) bool { return x >= 2 && x <= 3 }},
		{body: "type: value_count\n  rules: [fail]\n  group-by: [user]\n  timespan: %s\n  condition: {field: val, eq: 2}", rules: []int{0}, agg: distinctAgg, cond: func(x float64) bool { return x == 2 }},
		{body: "type: temporal\n  rules: [fail, recon, success]\n  group-by: [user]\n  timespan: %s\n  condition: {lte: 1}", rules: []int{0, 1, 2}, agg: rulesAgg, cond: func(x float64) bool { return x <= 1 }},
	}
	spans := []struct {
		spec string
		ms   int64
	}{{"5s", 5000}, {"20s", 20000}, {"1m", 60000}}
	rng := rand.New(rand.NewPCG(7, 11))
	trials := 0
	for ci, c := range cases {
		for _, sp := range spans {
			for _, late := range []int64{5000, 30000} {
				for range 4 {
					trials++
					evs := randomStream(rng, 60)
					rule := corr("Reference", "c", "  "+fmt.Sprintf(c.body, sp.spec))
					h := newHarness(t, detections+rule, fmt.Sprintf("allowed_lateness: %dms\n", late))
					var lines []string
					for _, e := range evs {
						lines = append(lines, e.json())
					}
					var got []string
					for _, a := range fired(h.run(lines, false), "c") {
						got = append(got, fmt.Sprintf("%s@%d", a.Group["user"], a.Time.Sub(t0).Milliseconds()))
					}
					sort.Strings(got)
					want := reference(c, evs, sp.ms, late)
					if !slices.Equal(got, want) {
						t.Fatalf("case %d (%s), timespan %s, lateness %dms:\nengine    %v\nreference %v\nstream %v",
							ci, c.body, sp.spec, late, got, want, evs)
					}
				}
			}
		}
	}
	t.Logf("%d random streams agree", trials)
	_ = alert.KindCorrelation
}

// randomStream makes n events over three groups: mostly in time order, some out of order (a
// few beyond any lateness), values from a small set so that repeats are common.
func randomStream(rng *rand.Rand, n int) []refEvent {
	var evs []refEvent
	cur := int64(0)
	for range n {
		cur += rng.Int64N(6000)
		e := refEvent{ms: cur, group: string(rune('a' + rng.IntN(3))), rule: rng.IntN(3), value: fmt.Sprint(rng.IntN(4))}
		switch r := rng.IntN(10); {
		case r < 2:
			e.ms = max(0, cur-rng.Int64N(40000))
		case r == 2:
			e.rule = -1
		}
		evs = append(evs, e)
	}
	return evs
}

// TestArrivalOrderDoesNotMatter: the same events delivered in different orders (each within
// the allowed lateness of the highest time before it) give the same correlation alerts, ids
// included, as partitions read at different speeds would.
func TestArrivalOrderDoesNotMatter(t *testing.T) {
	rules := detections +
		corr("Spray", "c", "  type: value_count\n  rules: [fail]\n  group-by: [ip]\n  timespan: 5m\n  condition: {field: user, gte: 5}") +
		corr("Brute", "brute", "  type: event_count\n  rules: [fail]\n  group-by: [ip, user]\n  timespan: 1m\n  condition: {gte: 4}") +
		corr("Then", "then", "  type: temporal_ordered\n  rules: [brute, success]\n  group-by: [ip, user]\n  timespan: 10m")
	var evs []string
	for i := range 40 {
		evs = append(evs, ev(float64(i)/2, "action=fail", "ip=203.0.113.9", fmt.Sprintf("user=u%d", i%7)))
	}
	evs = append(evs, ev(30, "action=success", "ip=203.0.113.9", "user=u3"), ev(200, "action=noise"))
	ids := func(lines []string) []string {
		h := newHarness(t, rules, "")
		var out []string
		for _, a := range h.run(lines, false) {
			if a.Kind == alert.KindCorrelation {
				out = append(out, a.Rule.Name+" "+a.ID+" "+a.Time.Format(time.RFC3339Nano))
			}
		}
		sort.Strings(out)
		return out
	}
	want := ids(evs)
	if len(want) < 2 { // spray and the chain (the intermediate brute force is not written)
		t.Fatalf("too few correlation alerts to compare: %v", want)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 20 {
		// Shuffle within blocks of 12 events (6 s of event time, well within 30 s).
		shuffled := slices.Clone(evs[:len(evs)-1])
		for b := 0; b < len(shuffled); b += 12 {
			blk := shuffled[b:min(b+12, len(shuffled))]
			rng.Shuffle(len(blk), func(i, j int) { blk[i], blk[j] = blk[j], blk[i] })
		}
		if got := ids(append(shuffled, evs[len(evs)-1])); !slices.Equal(got, want) {
			t.Fatalf("trial %d: %v, want %v", trial, got, want)
		}
	}
}
