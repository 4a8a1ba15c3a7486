package correlate_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-detect/vigil/alert"
)

// Each case: a correlation over the test detections, an event stream, and the groups (group
// values @ alert time in seconds after t0) that must fire, no more.
func TestCorrelationSemantics(t *testing.T) {
	fail := func(sec float64, user string, more ...string) string {
		return ev(sec, append([]string{"action=fail", "user=" + user}, more...)...)
	}
	// tick advances event time (an event no rule matches).
	tick := func(sec float64) string { return ev(sec, "action=noise") }
	countRule := func(cond string) string {
		return corr("Count", "c", "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 1m\n  condition: "+cond)
	}
	cases := []struct {
		name   string
		rule   string
		events []string
		want   []string
	}{
		{"gte fires at the third event", countRule("{gte: 3}"),
			[]string{fail(0, "a"), fail(0, "b"), fail(10, "a"), fail(20, "a"), fail(30, "b"), fail(61, "b")},
			[]string{"a@20"}},
		{"gt is strict", countRule("{gt: 3}"),
			[]string{fail(0, "a"), fail(1, "b"), fail(2, "b"), fail(3, "b"), fail(4, "b"), fail(10, "a"), fail(20, "a")},
			[]string{"b@4"}},
		{"window of exactly the timespan counts", countRule("{gte: 3}"),
			[]string{fail(0, "a"), fail(30, "a"), fail(60, "a")},
			[]string{"a@60"}},
		{"window just too long", countRule("{gte: 3}"),
			[]string{fail(0, "a"), fail(30, "a"), fail(60.001, "a")},
			nil},
		{"sliding: fires across what would be a minute boundary", countRule("{gte: 10}"),
			func() []string {
				out := []string{fail(0, "a")} // a stray event opening any first-event-anchored window early
				for i := range 10 {
					out = append(out, fail(55+float64(i), "a")) // 0:55 to 1:04
				}
				return out
			}(),
			[]string{"a@64"}},
		{"lt fires when a window closes with too few", countRule("{lt: 3}"),
			[]string{fail(0, "a"), fail(10, "a"), fail(0, "b"), fail(5, "b"), fail(6, "b"), tick(200)},
			[]string{"a@60"}},
		{"lt decided at the end of the input", countRule("{lt: 3}"),
			[]string{fail(0, "a"), fail(10, "a"), fail(0, "b"), fail(5, "b"), fail(6, "b")},
			[]string{"a@60"}},
		{"lte", countRule("{lte: 2}"),
			[]string{fail(0, "a"), fail(10, "a"), fail(0, "b"), fail(5, "b"), fail(6, "b"), tick(200)},
			[]string{"a@60"}},
		{"lt waits for the allowed lateness", countRule("{lt: 3}"),
			// The window of a ends at 60 s; until 90 s a late event may still fall in it.
			[]string{fail(0, "a"), fail(10, "a"), tick(85), fail(59, "a"), tick(200)},
			nil},
		{"an event at the window's end, exactly the allowed lateness late, still counts", countRule("{lt: 3}"),
			[]string{fail(0, "a"), fail(10, "a"), tick(90), fail(60, "a"), tick(200)},
			nil},
		{"value_count: a repeated value still counts after an out-of-order firing",
			corr("Values", "c", "  type: value_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 5s\n  condition: {field: val, gte: 2}"),
			// v, v, v (the middle one looks redundant); u and w, late, fire at 16 s and mute the
			// group to 21 s, taking the first v; x at 24 s pairs with the middle v (23 s).
			[]string{fail(20, "a", "val=v"), fail(23, "a", "val=v"), fail(25, "a", "val=v"),
				fail(14, "a", "val=u"), fail(16, "a", "val=w"), fail(24, "a", "val=x")},
			[]string{"a@16", "a@24"}},
		{"eq", countRule("{eq: 3}"),
			[]string{fail(0, "a"), fail(1, "a"), fail(2, "a"), fail(0, "b"), fail(1, "b"), fail(2, "b"), fail(3, "b"), fail(0, "c"), tick(300)},
			[]string{"a@60"}},
		{"neq", countRule("{neq: 3}"),
			[]string{fail(0, "a"), fail(1, "a"), fail(2, "a"), fail(0, "b"), fail(1, "b"), tick(300)},
			[]string{"b@60"}},
		{"range", countRule("{gt: 2, lte: 4}"),
			[]string{
				fail(0, "two"), fail(1, "two"),
				fail(0, "three"), fail(1, "three"), fail(2, "three"),
				fail(0, "five"), fail(1, "five"), fail(2, "five"), fail(3, "five"), fail(4, "five"),
				tick(300)},
			[]string{"three@60"}},
		{"later windows are decided on their own", countRule("{lt: 2}"),
			// a: one event, then two in a later window: only the first window fires.
			[]string{fail(0, "a"), fail(100, "a"), fail(110, "a"), tick(400)},
			[]string{"a@60"}},
		{"out of order within the lateness counts", countRule("{gte: 3}"),
			[]string{fail(0, "a"), fail(20, "a"), tick(30), fail(10, "a")},
			[]string{"a@20"}},
		{"too late is not counted", corr("Count", "c", "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 10m\n  condition: {gte: 3}"),
			[]string{fail(0, "a"), fail(10, "a"), tick(100), fail(20, "a")},
			nil},
		{"missing group field is not grouped", countRule("{gte: 2}"),
			[]string{ev(0, "action=fail"), ev(1, "action=fail")},
			nil},
		{"value_count", corr("Spray", "c", "  type: value_count\n  rules: [fail]\n  group-by: [ip]\n  timespan: 5m\n  condition: {field: user, gte: 3}"),
			[]string{
				fail(0, "u1", "ip=1.1.1.1"), fail(1, "u2", "ip=1.1.1.1"), fail(2, "u2", "ip=1.1.1.1"), fail(3, "u3", "ip=1.1.1.1"),
				fail(0, "u1", "ip=2.2.2.2"), fail(1, "u1", "ip=2.2.2.2"), fail(2, "u1", "ip=2.2.2.2"), fail(3, "u2", "ip=2.2.2.2"),
			},
			[]string{"1.1.1.1@3"}},
		{"value_count distinct values must share one window", corr("Spray", "c", "  type: value_count\n  rules: [fail]\n  group-by: [ip]\n  timespan: 1m\n  condition: {field: user, gte: 3}"),
			[]string{
				fail(0, "u1", "ip=1.1.1.1"), fail(30, "u2", "ip=1.1.1.1"), fail(61, "u3", "ip=1.1.1.1"), // u1 has left
				fail(62, "u2", "ip=1.1.1.1"), fail(80, "u1", "ip=1.1.1.1"), // u2, u3, u1 within 30..90
			},
			[]string{"1.1.1.1@80"}},
		{"temporal in any order", corr("Temporal", "c", "  type: temporal\n  rules: [recon, success]\n  group-by: [user]\n  timespan: 5m"),
			[]string{
				ev(0, "action=success", "user=a"),
				ev(0, "action=recon", "user=b"), ev(1, "action=recon", "user=b"), // one rule only
				ev(0, "action=recon", "user=c"),
				ev(100, "action=recon", "user=a"),
				ev(301, "action=success", "user=c"), // too far apart
			},
			[]string{"a@100"}},
		{"temporal_ordered needs the order", corr("Ordered", "c", "  type: temporal_ordered\n  rules: [fail, success]\n  group-by: [user]\n  timespan: 5m"),
			[]string{
				ev(0, "action=fail", "user=a"), ev(0, "action=success", "user=b"), ev(0, "action=fail", "user=c"), ev(0, "action=success", "user=d"),
				ev(10, "action=success", "user=a"), ev(10, "action=fail", "user=b"), // b: wrong order
				ev(10, "action=fail", "user=d"), ev(20, "action=success", "user=d"),
				ev(301, "action=success", "user=c"), // c: too far apart
			},
			[]string{"a@10", "d@20"}},
		{"temporal_ordered orders by event time, not arrival", corr("Ordered", "c", "  type: temporal_ordered\n  rules: [fail, success]\n  group-by: [user]\n  timespan: 5m"),
			[]string{ev(10, "action=success", "user=a"), ev(5, "action=fail", "user=a"),
				ev(5, "action=success", "user=b"), ev(10, "action=fail", "user=b")},
			[]string{"a@10"}},
		{"temporal_ordered with a partial condition", corr("Ordered", "c", "  type: temporal_ordered\n  rules: [fail, recon, success]\n  group-by: [user]\n  timespan: 5m\n  condition: {gte: 2}"),
			[]string{ev(0, "action=recon", "user=a"), ev(5, "action=fail", "user=a"), ev(9, "action=recon", "user=a")},
			[]string{"a@9"}},
		{"value_sum", corr("Sum", "c", "  type: value_sum\n  rules: [transfer]\n  group-by: [user]\n  timespan: 1h\n  condition: {field: bytes, gt: 100}"),
			[]string{ev(0, "action=transfer", "user=a", "bytes=60"), ev(10, "action=transfer", "user=a", "bytes=50"),
				ev(0, "action=transfer", "user=b", "bytes=60"), ev(10, "action=transfer", "user=b", "bytes=abc"), ev(11, "action=transfer", "user=b", "bytes=40")},
			[]string{"a@10"}},
		{"value_avg over the whole window", corr("Avg", "c", "  type: value_avg\n  rules: [transfer]\n  group-by: [user]\n  timespan: 1m\n  condition: {field: bytes, gt: 100}"),
			[]string{ev(0, "action=transfer", "user=a", "bytes=200"), ev(10, "action=transfer", "user=a", "bytes=10"), ev(20, "action=transfer", "user=a", "bytes=10"),
				ev(0, "action=transfer", "user=b", "bytes=150"), ev(10, "action=transfer", "user=b", "bytes=120"), tick(300)},
			[]string{"b@60"}},
		{"value_median", corr("Median", "c", "  type: value_median\n  rules: [transfer]\n  group-by: [user]\n  timespan: 1m\n  condition: {field: bytes, gte: 20}"),
			[]string{ev(0, "action=transfer", "user=a", "bytes=1"), ev(1, "action=transfer", "user=a", "bytes=100"), ev(2, "action=transfer", "user=a", "bytes=2"),
				ev(0, "action=transfer", "user=b", "bytes=10"), ev(1, "action=transfer", "user=b", "bytes=30"), tick(300)},
			[]string{"b@60"}},
		{"value_percentile", corr("P90", "c", "  type: value_percentile\n  rules: [transfer]\n  group-by: [user]\n  timespan: 1m\n  condition: {field: bytes, percentile: 90, gte: 500}"),
			func() []string {
				var out []string
				for i := range 10 { // a: 1..10 then 1000: p90 = 10 + 0.9*... stays low
					out = append(out, ev(float64(i), "action=transfer", "user=a", fmt.Sprintf("bytes=%d", i+1)))
				}
				out = append(out, ev(10, "action=transfer", "user=a", "bytes=1000"))                                               // p90 of 11 values: 10+(1000-10)*0 = 10
				out = append(out, ev(0, "action=transfer", "user=b", "bytes=1"), ev(1, "action=transfer", "user=b", "bytes=1000")) // p90 = 900.1
				return append(out, tick(300))
			}(),
			[]string{"b@60"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, detections+c.rule, "")
			got := groups(h.run(c.events, false), "c")
			if !slices.Equal(got, c.want) {
				t.Errorf("fired %v, want %v", got, c.want)
			}
		})
	}
}

func TestOncePerBurst(t *testing.T) {
	rule := corr("Brute", "c", "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 1m\n  condition: {gte: 10}")
	h := newHarness(t, detections+rule, "")
	// A sustained attack: one failure a second for 200 s. The group fires at the 10th (9 s), is
	// quiet for one timespan (to 69 s), counts afresh from 70 s, fires at 79 s, then 149 s.
	var evs []string
	for i := range 200 {
		evs = append(evs, ev(float64(i), "action=fail", "user=a"))
	}
	got := groups(h.run(evs, false), "c")
	want := []string{"a@149", "a@79", "a@9"}
	if !slices.Equal(got, want) {
		t.Errorf("fired %v, want %v", got, want)
	}
}

func TestAlertContents(t *testing.T) {
	rule := corr("Spray", "c", "  type: value_count\n  rules: [fail]\n  group-by: [IpAddress]\n  timespan: 5m\n  condition: {field: TargetUserName, gte: 3}")
	h := newHarness(t, detections+rule, "max_alert_ids: 2\nmax_values: 2\n")
	var evs []string
	for i, u := range []string{"ann", "bob", "bob", "cid"} {
		evs = append(evs, ev(float64(i), "action=fail", "IpAddress=203.0.113.7", "TargetUserName="+u, "Computer=dc1"))
	}
	out := h.run(evs, false)
	cs := fired(out, "c")
	if len(cs) != 1 {
		t.Fatalf("want 1 correlation alert, got %d", len(cs))
	}
	a := cs[0]
	c := a.Correlation
	if a.Kind != alert.KindCorrelation || c.Type != "value_count" || c.Count != 3 {
		t.Errorf("kind %q type %q count %d", a.Kind, c.Type, c.Count)
	}
	if !slices.Equal(c.Values, []string{"ann", "bob"}) || !c.Truncated || len(c.AlertIDs) != 2 {
		t.Errorf("values %v alert_ids %v truncated %v", c.Values, c.AlertIDs, c.Truncated)
	}
	if !c.First.Equal(t0) || !c.Last.Equal(t0.Add(3e9)) || !a.Time.Equal(c.Last) {
		t.Errorf("first %v last %v time %v", c.First, c.Last, a.Time)
	}
	if a.Group["IpAddress"] != "203.0.113.7" || a.Rule.Title != "Spray" || a.Rule.Level != "high" {
		t.Errorf("group %v rule %+v", a.Group, a.Rule)
	}
	if a.Score != alert.LevelScore("high")+10 {
		t.Errorf("score %d", a.Score)
	}
	if !slices.Equal(a.Entities.IP, []string{"203.0.113.7"}) || len(a.Entities.User) != 2 {
		t.Errorf("entities %+v", a.Entities)
	}
	// The detection alerts it used are suppressed (no generate), so not written.
	for _, x := range out {
		if x.Kind == alert.KindDetection {
			t.Errorf("suppressed detection alert written: %s", x.Rule.Title)
		}
	}
	// Deterministic: the same input gives the same id.
	h2 := newHarness(t, detections+rule, "")
	if again := fired(h2.run(evs, false), "c"); len(again) != 1 || again[0].ID != a.ID {
		t.Errorf("id not deterministic")
	}
}

func TestGenerate(t *testing.T) {
	body := "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 1m\n  condition: {gte: 2}"
	evs := []string{ev(0, "action=fail", "user=a"), ev(1, "action=fail", "user=a")}
	for _, gen := range []string{"", "\n  generate: false", "\n  generate: true"} {
		h := newHarness(t, detections+corr("Count", "c", body+gen), "")
		out := h.run(evs, false)
		det := 0
		for _, a := range out {
			if a.Kind == alert.KindDetection {
				det++
			}
		}
		want := 0
		if gen == "\n  generate: true" {
			want = 2
		}
		if det != want || len(fired(out, "c")) != 1 {
			t.Errorf("generate %q: %d detection alerts (want %d), %d correlation", gen, det, want, len(fired(out, "c")))
		}
	}
}

func TestChainAndAliases(t *testing.T) {
	rules := detections +
		corr("Brute", "brute", "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 1m\n  condition: {gte: 3}") +
		// The successful logon names the user `account`: an alias joins the two.
		corr("Brute then success", "c", "  type: temporal_ordered\n  rules: [brute, success]\n  group-by: [who]\n  timespan: 10m\n"+
			"  aliases:\n    who:\n      brute: user\n      success: account")
	h := newHarness(t, rules, "")
	out := h.run([]string{
		ev(0, "action=fail", "user=a"), ev(1, "action=fail", "user=a"), ev(2, "action=fail", "user=a"),
		ev(3, "action=fail", "user=b"), ev(4, "action=fail", "user=b"), ev(5, "action=fail", "user=b"),
		ev(100, "action=success", "account=a"),
		ev(101, "action=success", "account=zz"),
	}, false)
	if got := groups(out, "c"); !slices.Equal(got, []string{"a@100"}) {
		t.Errorf("chain fired %v", got)
	}
	// The intermediate correlation is used without generate: its alerts are not written.
	if n := len(fired(out, "brute")); n != 0 {
		t.Errorf("%d intermediate alerts written", n)
	}
	if a := fired(out, "c"); len(a) == 1 && a[0].Group["who"] != "a" {
		t.Errorf("group %v", a[0].Group)
	}
}

func TestLateEventsAreCountedAndLogged(t *testing.T) {
	rule := corr("Count", "c", "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 1m\n  condition: {gte: 3}")
	h := newHarness(t, detections+rule, "allowed_lateness: 5s\n")
	out := h.run([]string{ev(0, "action=fail", "user=a"), ev(10, "action=fail", "user=a"),
		ev(20, "action=noise"), ev(14, "action=fail", "user=a")}, false) // 6 s late
	if len(fired(out, "c")) != 0 {
		t.Error("a too-late event was counted")
	}
	if v := metricValue(t, h.met, "vigil_correlation_late_events_total", map[string]string{"rule_id": ruleID(h)}); v != 1 {
		t.Errorf("late events metric %v", v)
	}
	if !strings.Contains(h.log.String(), "later than the allowed lateness") {
		t.Errorf("late event not logged: %s", h.log.String())
	}
}

func ruleID(h *harness) string { return h.eng.Rules()[0].Key }

func TestMaxKeysEvicts(t *testing.T) {
	rule := corr("Count", "c", "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 1m\n  condition: {gte: 2}")
	h := newHarness(t, detections+rule, "max_keys: 2\n")
	out := h.run([]string{ev(0, "action=fail", "user=a"), ev(1, "action=fail", "user=b"), ev(2, "action=fail", "user=c"),
		ev(3, "action=fail", "user=a"), // a was evicted by c: this is its first event again
		ev(4, "action=fail", "user=c")}, false)
	if got := groups(out, "c"); !slices.Equal(got, []string{"c@4"}) {
		t.Errorf("fired %v", got)
	}
	id := ruleID(h)
	if v := metricValue(t, h.met, "vigil_correlation_evictions_total", map[string]string{"rule_id": id}); v < 2 {
		t.Errorf("evictions %v", v)
	}
	if v := metricValue(t, h.met, "vigil_correlation_keys", map[string]string{"rule_id": id}); v > 2 {
		t.Errorf("live keys %v above max_keys", v)
	}
	if v := metricValue(t, h.met, "vigil_correlation_alerts_total", map[string]string{"rule_id": id}); v != 1 {
		t.Errorf("alerts metric %v", v)
	}
}
