package correlate

import (
	"container/heap"
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"sort"
	"strconv"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-detect/vigil/alert"
)

// alertID is a contributing alert's id (alert.ID: 32 hex digits) in 16 bytes.
type alertID [16]byte

func parseAlertID(s string) alertID {
	var id alertID
	for i := 0; i < len(id) && 2*i+1 < len(s); i++ {
		id[i] = hexValue[s[2*i]]<<4 | hexValue[s[2*i+1]]
	}
	return id
}

// hexValue maps a hex digit to its value (other bytes to 0).
var hexValue = func() (t [256]byte) {
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
		if i >= 10 {
			t[c-'a'+'A'] = byte(i)
		}
	}
	return t
}()

func (id alertID) String() string {
	const digits = "0123456789abcdef"
	var b [32]byte
	for i, c := range id {
		b[2*i], b[2*i+1] = digits[c>>4], digits[c&15]
	}
	return string(b[:])
}

// key identifies a group: FNV-1a (128 bits) of its group-by values, so that a group costs 16
// bytes of key whatever its values. Two groups share state only if their hashes collide, which
// for a million groups has a probability around 1e-27.
type key struct{ hi, lo uint64 }

// hasher is FNV-1a 128 (hash/fnv's, without the allocation).
type hasher key

func newHasher() hasher { return hasher{0x6c62272e07bb0142, 0x62b821756295c58d} }

func (h *hasher) write(b []byte) {
	for _, c := range b {
		h.lo ^= uint64(c)
		hi, lo := bits.Mul64(0x13b, h.lo)
		hi += h.lo<<24 + 0x13b*h.hi
		h.hi, h.lo = hi, lo
	}
}

// groupValues encodes group-by values (uvarint length, bytes, for each) into buf.
func groupValues(buf []byte, vals []string) []byte {
	for _, v := range vals {
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
	}
	return buf
}

// decodeGroup splits what groupValues encoded.
func decodeGroup(b []byte) []string {
	var out []string
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return out
		}
		out = append(out, string(b[k:k+int(n)]))
		b = b[k+int(n):]
	}
	return out
}

// entry is one contributing alert (or, for value types, one value of it).
type entry[P any] struct {
	t  int64 // event time, Unix nanoseconds
	id alertID
	p  P
}

// group is the state of one group of one rule: its recent entries, sorted by event time (ties
// in arrival order).
type group[P any] struct {
	es []entry[P]
	// mute: after an eager rule fired, entries at or before this time belong to the burst that
	// fired and are not counted again.
	mute int64
}

const noMute = math.MinInt64

// pend is an eager group's earliest window known to meet the condition (ending at due), to be
// decided when the watermark is more than the allowed lateness past due: no alert that may still
// count can then make an earlier window meet it, so the decision does not depend on the order
// alerts arrived in.
type pend struct {
	due  int64
	gv   string
	done *alert.Alert // the alert that completed it, for its entities and fields
}

// kind is what differs between correlation types: the payload an entry keeps and the aggregate.
type kind[P any] interface {
	// payloads appends the payload(s) alert a contributes through its field to dst; it returns
	// why there is none ("" when there is).
	payloads(a *alert.Alert, field string, ref int, dst []P) ([]P, string)
	// agg computes the aggregate of a window.
	agg(w *window[P], es []entry[P]) float64
	// dedup: entries with equal payloads only matter for presence (value_count, temporal), so
	// the middle one of three within one timespan can go.
	dedup() bool
	equal(a, b P) bool
	// describe fills the type-specific part of an alert.
	describe(w *window[P], es []entry[P], agg float64, c *alert.Correlation)
	put(b []byte, p P) []byte
	get(b []byte) (P, []byte, bool)
}

// window is the state of one correlation rule: its groups, bounded by an LRU, and (for rules
// decided when a window closes) the queue of windows by closing time.
type window[P any] struct {
	r   *Rule
	e   *Engine
	k   kind[P]
	lru *simplelru.LRU[key, *group[P]]
	due closeQueue // closing rules only
	// gvs holds the encoded group values of closing rules' groups: their alerts have no
	// completing alert to take them from. (Eager groups do without, 16 bytes each.)
	gvs map[key]string
	// pending holds the eager groups that have a window meeting the condition, until it is
	// final; few groups at a time, so kept apart from the groups.
	pending map[key]pend
	span    int64 // timespan in ns
	dedups  bool  // drop presence-only repeats (see dedup)

	keys      prometheus.Gauge
	evictions prometheus.Counter
	late      prometheus.Counter
	fired     prometheus.Counter
	lateLog   int64

	strs []string  // scratch
	nums []float64 // scratch
	ps   []P       // scratch
}

func newWindow[P any](e *Engine, r *Rule, k kind[P]) *window[P] {
	w := &window[P]{r: r, e: e, k: k, span: int64(r.Timespan)}
	w.gvs, w.pending = map[key]string{}, map[key]pend{}
	forget := func(k key, _ *group[P]) {
		delete(w.gvs, k)
		delete(w.pending, k)
	}
	w.lru, _ = simplelru.NewLRU[key, *group[P]](e.cfg.MaxKeys, forget)
	// Dedup is exact for eager rules fed by detections (see dedup); a rule fed by correlations
	// gets entries decided long after their time, which the argument does not cover.
	w.dedups = k.dedup() && r.Eager
	for _, ref := range r.Refs {
		if ref.Correlation != nil {
			w.dedups = false
		}
	}
	w.bindMetrics()
	return w
}

func (w *window[P]) rule() *Rule        { return w.r }
func (w *window[P]) setRule(r *Rule)    { w.r = r; w.bindMetrics() }
func (w *window[P]) size() int          { return w.lru.Len() }
func (w *window[P]) updateGauges()      { w.keys.Set(float64(w.lru.Len())) }
func (w *window[P]) lateness() int64    { return int64(w.e.cfg.AllowedLateness) }
func (w *window[P]) skip(reason string) { w.e.met.skipped.WithLabelValues(w.r.Key, reason).Inc() }
func (w *window[P]) closing() bool      { return !w.r.Eager }
func (w *window[P]) horizon(wm int64) int64 {
	// No event accepted from now on (t >= wm-lateness) shares a window with an older entry.
	return satSub(satSub(wm, w.lateness()), w.span)
}

func (w *window[P]) bindMetrics() {
	m := w.e.met
	w.keys = m.keys.WithLabelValues(w.r.Key)
	w.evictions = m.evictions.WithLabelValues(w.r.Key)
	w.late = m.late.WithLabelValues(w.r.Key)
	w.fired = m.fired.WithLabelValues(w.r.Key)
}

func satSub(a, b int64) int64 {
	if b > 0 && a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// feed adds alert a (from the rule at position ref of this correlation); alerts it makes the
// rule fire are queued on the engine (Engine.emit).
func (w *window[P]) feed(a *alert.Alert, ref int) {
	e := w.e
	vals := e.vals[:0]
	for _, f := range w.r.groupFields[ref] {
		v := a.Fields[f]
		if len(v) == 0 {
			w.skip("missing_group_field")
			return
		}
		vals = append(vals, v[0])
	}
	e.vals = vals
	// Lateness is measured against the alert's own partition's clock (the engine's watermark
	// when it has none); correlation alerts are decided when final and are never late.
	t, clock := a.Time.UnixNano(), e.wm
	if !a.Watermark.IsZero() {
		clock = a.Watermark.UnixNano()
	}
	if a.Kind == alert.KindDetection && t < satSub(clock, w.lateness()) {
		w.tooLate(a, clock)
		return
	}
	e.buf = groupValues(e.buf[:0], vals)
	h := newHasher()
	h.write(e.buf)
	k := key(h)
	id := parseAlertID(a.ID)
	ps, why := w.k.payloads(a, w.r.valueField[ref], ref, w.ps[:0])
	w.ps = ps
	if why != "" {
		w.skip(why)
		return
	}
	for _, p := range ps {
		w.add(k, vals, entry[P]{t: t, id: id, p: p}, a)
	}
}

func (w *window[P]) tooLate(a *alert.Alert, clock int64) {
	w.late.Inc()
	w.lateLog++
	if w.lateLog == 1 || w.lateLog%10000 == 0 {
		w.e.log.Warn("alert arrived later than the allowed lateness; the correlation ignores it",
			"rule", w.r.Key, "alert", a.ID, "time", a.Time, "watermark", unixTime(clock),
			"allowed_lateness", w.e.cfg.AllowedLateness, "late_so_far", w.lateLog)
	}
}

// add inserts one entry into its group and evaluates eager rules.
func (w *window[P]) add(k key, vals []string, en entry[P], a *alert.Alert) {
	g, ok := w.lru.Get(k)
	if !ok {
		g = &group[P]{mute: noMute}
		if w.closing() {
			w.gvs[k] = string(w.e.buf)
		}
		if w.lru.Add(k, g) {
			w.evictions.Inc()
		}
	}
	if !w.closing() {
		if en.t <= g.mute {
			return // part of the burst that already fired
		}
		// Drop what no window with this or a future entry can hold. (A correlation alert may be
		// older than the lateness allows detections: it was decided once final.)
		hz := satSub(min(satSub(w.e.wm, w.lateness()), en.t), w.span)
		n := 0
		for n < len(g.es) && g.es[n].t < hz {
			n++
		}
		if n > 0 {
			g.es = slices.Delete(g.es, 0, n)
		}
	}
	x := sort.Search(len(g.es), func(i int) bool { return g.es[i].t > en.t })
	g.es = slices.Insert(g.es, x, en)
	if w.dedups {
		// Entries newer than this may still outlive an older twin that a firing's mute
		// removes (only when the timespan is shorter than the allowed lateness).
		limit := satAdd(satSub(w.e.wm, w.lateness()), w.span)
		if x = w.dedup(g, x, limit); x < 0 {
			return
		}
	}
	if len(g.es) > w.e.cfg.MaxEventsPerKey {
		g.es = slices.Delete(g.es, 0, 1)
		x--
		w.skip("state_full")
		if x < 0 {
			return
		}
		if w.closing() {
			w.schedule(k, g)
		}
	}
	if w.closing() {
		if x == 0 {
			w.schedule(k, g) // a new (or earlier) window start
		}
		return
	}
	// Eager: the earliest-ending window of one timespan that holds the new entry and meets the
	// condition. Windows ending before it were checked when their entries arrived.
	for j := x; j < len(g.es); j++ {
		i := sort.Search(j+1, func(i int) bool { return g.es[i].t >= g.es[j].t-w.span })
		if i > x {
			break
		}
		if w.r.Cond.Match(w.k.agg(w, g.es[i:j+1])) {
			if p, ok := w.pending[k]; !ok || g.es[j].t < p.due {
				w.pending[k] = pend{due: g.es[j].t, gv: string(w.e.buf), done: a}
				heap.Push(&w.due, closing{at: satAdd(g.es[j].t, w.lateness()), k: k})
			}
			return
		}
	}
}

// earliest finds the earliest-ending window of g that meets the condition.
func (w *window[P]) earliest(g *group[P]) (i, j int, agg float64, ok bool) {
	for j = range g.es {
		i = sort.Search(j+1, func(i int) bool { return g.es[i].t >= g.es[j].t-w.span })
		if agg = w.k.agg(w, g.es[i:j+1]); w.r.Cond.Match(agg) {
			return i, j, agg, true
		}
	}
	return 0, 0, 0, false
}

// decideEager fires an eager group's earliest window meeting the condition, now final. The
// group then mutes: its entries up to the window's end plus one timespan belong to the burst
// that fired. A window among the later entries that meets the condition becomes pending.
func (w *window[P]) decideEager(c closing, g *group[P]) {
	p, ok := w.pending[c.k]
	if !ok || satAdd(p.due, w.lateness()) != c.at {
		return // superseded by an earlier window
	}
	delete(w.pending, c.k)
	i, j, agg, ok := w.earliest(g)
	if !ok {
		return
	}
	w.fire(g.es[i:j+1], agg, decodeGroup([]byte(p.gv)), p.gv, p.done, false)
	g.mute = satAdd(g.es[j].t, w.span)
	n := 0
	for n < len(g.es) && g.es[n].t <= g.mute {
		n++
	}
	g.es = slices.Delete(g.es, 0, n)
	if _, j, _, ok := w.earliest(g); ok {
		w.pending[c.k] = pend{due: g.es[j].t, gv: p.gv}
		heap.Push(&w.due, closing{at: satAdd(g.es[j].t, w.lateness()), k: c.k})
	}
}

// dedup drops entries whose payload only matters for presence (value_count values, temporal
// rules). Of three consecutive entries with equal payloads spanning at most one timespan, every
// window of one timespan that holds the middle one also holds one of the others, so the middle
// one can go. The groups keep no such triple; inserting the entry at x can only make the
// triples around it, which this removes (only middles at or before limit). It returns x's new
// position, or -1 when the new entry itself was the redundant one.
//
// Closing rules do not dedup: a middle entry may become the start of a later window.
func (w *window[P]) dedup(g *group[P], x int, limit int64) int {
	b1, b2 := w.twoEqual(g, x, -1) // the nearest entries before x with x's payload
	a1, a2 := w.twoEqual(g, x, +1) // and after it
	t := func(i int) int64 { return g.es[i].t }
	if b1 >= 0 && a1 >= 0 && t(a1)-t(b1) <= w.span && t(x) <= limit {
		g.es = slices.Delete(g.es, x, x+1)
		return -1
	}
	if a2 >= 0 && t(a2)-t(x) <= w.span && t(a1) <= limit {
		g.es = slices.Delete(g.es, a1, a1+1)
	}
	if b2 >= 0 && t(x)-t(b2) <= w.span && t(b1) <= limit {
		g.es = slices.Delete(g.es, b1, b1+1)
		x--
	}
	return x
}

// twoEqual returns the positions of the two entries nearest to x, walking from it in direction
// step (-1 or +1), whose payload equals x's; -1 for each not found.
func (w *window[P]) twoEqual(g *group[P], x, step int) (first, second int) {
	first, second = -1, -1
	p := g.es[x].p
	for i := x + step; i >= 0 && i < len(g.es); i += step {
		if w.k.equal(g.es[i].p, p) {
			if first >= 0 {
				return first, i
			}
			first = i
		}
	}
	return first, second
}

// schedule queues a closing rule's group to be decided when its current window closes.
func (w *window[P]) schedule(k key, g *group[P]) {
	if len(g.es) == 0 {
		return
	}
	heap.Push(&w.due, closing{at: w.closeAt(g), k: k})
}

func (w *window[P]) closeAt(g *group[P]) int64 {
	return satAdd(satAdd(g.es[0].t, w.span), w.lateness())
}

// closeDue decides every window that closed by watermark wm (all of them when flush is set): a
// window of one timespan from its first entry closes when the watermark is more than the
// allowed lateness past its end, for then no event that may still count can fall in it.
func (w *window[P]) closeDue(wm int64, flush bool) {
	for len(w.due) > 0 && (flush || w.due[0].at < wm) {
		c := heap.Pop(&w.due).(closing)
		g, ok := w.lru.Peek(c.k)
		if ok && !w.closing() {
			w.decideEager(c, g)
			continue
		}
		if !ok || len(g.es) == 0 || w.closeAt(g) != c.at {
			continue // evicted, or rescheduled since
		}
		end := satAdd(g.es[0].t, w.span)
		n := sort.Search(len(g.es), func(i int) bool { return g.es[i].t > end })
		es := g.es[:n]
		agg := w.k.agg(w, es)
		if w.r.Cond.Match(agg) {
			gv := w.gvs[c.k]
			w.fire(es, agg, decodeGroup([]byte(gv)), gv, nil, true)
		}
		g.es = slices.Delete(g.es, 0, n)
		if len(g.es) == 0 {
			w.lru.Remove(c.k)
			continue
		}
		w.schedule(c.k, g)
	}
}

// expire removes groups that hold nothing that can still matter, oldest first.
func (w *window[P]) expire(wm int64) {
	hz := w.horizon(wm)
	for {
		k, g, ok := w.lru.GetOldest()
		if !ok {
			return
		}
		var dead bool
		if w.closing() {
			dead = len(g.es) == 0
		} else {
			_, pending := w.pending[k]
			dead = !pending && (len(g.es) == 0 || g.es[len(g.es)-1].t < hz) && g.mute < satSub(wm, w.lateness())
		}
		if !dead {
			return
		}
		w.lru.Remove(k)
	}
}

// fire builds the correlation alert for window es (sorted by time) with aggregate agg. done is
// the alert that completed the window, if known.
func (w *window[P]) fire(es []entry[P], agg float64, vals []string, gv string, done *alert.Alert, closing bool) {
	e, r := w.e, w.r
	first, last := es[0].t, es[len(es)-1].t
	at := last
	if closing {
		at = satAdd(first, w.span) // decided at the window's end
	}
	c := &alert.Correlation{Type: r.Type.String(), First: unixTime(first), Last: unixTime(last)}
	w.k.describe(w, es, agg, c)
	// The last max_alert_ids contributing alerts, each once.
	maxIDs := e.cfg.MaxAlertIDs
	for i := len(es) - 1; i >= 0 && len(c.AlertIDs) <= maxIDs; i-- {
		if i+1 < len(es) && es[i].id == es[i+1].id {
			continue
		}
		c.AlertIDs = append(c.AlertIDs, es[i].id.String())
	}
	if len(c.AlertIDs) > maxIDs {
		c.AlertIDs, c.Truncated = c.AlertIDs[:maxIDs], true
	}
	slices.Reverse(c.AlertIDs)

	tags := r.Tags
	if tags == nil {
		tags = []string{}
	}
	a := &alert.Alert{
		ID:          alert.ID([]byte(alert.KindCorrelation), []byte(r.Key), []byte(gv), strconv.AppendInt(nil, first, 10)),
		Time:        unixTime(at),
		Kind:        alert.KindCorrelation,
		Rule:        alert.Rule{ID: r.ID, Title: r.Title, Level: r.Level, Tags: tags, Name: r.Name},
		Score:       score(r, c),
		Group:       make(map[string]string, len(r.GroupBy)),
		Correlation: c,
		RuleIndex:   -1,
		Suppressed:  r.Suppressed,
		Fields:      map[string][]string{},
	}
	if done != nil {
		a.Entities = copyEntities(done.Entities)
		a.Source = done.Source
		for f, v := range done.Fields {
			a.Fields[f] = v
		}
	} else {
		a.Entities = alert.Entities{User: []string{}, Host: []string{}, IP: []string{}}
	}
	for i, g := range r.GroupBy {
		if i < len(vals) {
			a.Group[g] = vals[i]
			a.Fields[g] = []string{vals[i]}
			e.ents.add(&a.Entities, r.groupEntity[i], vals[i])
		}
	}
	if r.valueEntity != "" {
		for _, v := range c.Values {
			e.ents.add(&a.Entities, r.valueEntity, v)
		}
	}
	e.ents.bound(&a.Entities, e.cfg.MaxValues)
	w.fired.Inc()
	e.emit(r, a)
}

func copyEntities(x alert.Entities) alert.Entities {
	return alert.Entities{User: slices.Clone(x.User), Host: slices.Clone(x.Host), IP: slices.Clone(x.IP)}
}

// score is the correlation rule's level score plus a bonus for correlated evidence: 10, and 5
// more per additional distinct rule seen by temporal correlations; at most 100.
func score(r *Rule, c *alert.Correlation) int {
	bonus := 10
	if r.Type == Temporal || r.Type == TemporalOrdered {
		bonus += 5 * max(len(c.Rules)-1, 0)
	}
	return min(100, alert.LevelScore(r.Level)+min(bonus, 25))
}

// ---- closing queue -------------------------------------------------------------------------

type closing struct {
	at int64
	k  key
}

type closeQueue []closing

func (q closeQueue) Len() int           { return len(q) }
func (q closeQueue) Less(i, j int) bool { return q[i].at < q[j].at }
func (q closeQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *closeQueue) Push(x any)        { *q = append(*q, x.(closing)) }
func (q *closeQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}
