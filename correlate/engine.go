package correlate

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/detect"
	"github.com/vigil-detect/vigil/metrics"
	"github.com/vigil-detect/vigil/pipeline"
)

// Options are what the engine needs besides its configuration.
type Options struct {
	Log      *slog.Logger
	Metrics  *metrics.Metrics    // nil: metrics are kept but not served
	Entities *alert.EntityFields // which group-by fields name users, hosts, addresses (nil: alert's defaults)
}

// Engine is the correlation stage (pipeline.Stage): it receives every detection alert in source
// order, suppressed ones included, and adds the correlation alerts the Sigma correlation rules
// make. See the package documentation for when a group fires.
type Engine struct {
	cfg  Config
	log  *slog.Logger
	met  *engineMetrics
	ents entityIndex

	set      *Set
	windows  map[*Rule]ruleWindow
	order    []ruleWindow // dependencies first: a correlation after those it refers to
	detRules []*detect.Rule
	byDet    [][]consumer          // per detection rule index
	byName   map[string][]consumer // per detection rule id (else name, else title)
	byCorr   map[*Rule][]consumer

	wm      int64 // highest event time seen, Unix ns
	offsets map[partition]int64
	replay  map[partition]int64 // restored: alerts at or below these offsets were counted already
	pending []pendingAlert
	dirty   bool
	saved   time.Time

	vals []string // scratch
	buf  []byte   // scratch
}

type partition struct {
	topic string
	id    int
}

type pendingAlert struct {
	a *alert.Alert
	r *Rule
}

// ruleWindow is a window[P] of any payload type.
type ruleWindow interface {
	rule() *Rule
	setRule(r *Rule)
	feed(a *alert.Alert, ref int)
	closeDue(wm int64, flush bool)
	expire(wm int64)
	size() int
	updateGauges()
	save(b []byte) []byte
	load(b []byte) ([]byte, error)
}

// New builds the engine for a compiled rule set and restores the state saved in
// cfg.Snapshot.Path, if any, for the rules that did not change.
func New(rs *pipeline.Ruleset, cfg Config, o Options) (*Engine, error) {
	cfg.defaults()
	if o.Log == nil {
		o.Log = slog.Default()
	}
	ef := alert.DefaultEntityFields()
	if o.Entities != nil {
		ef = *o.Entities
	}
	e := &Engine{
		cfg: cfg, log: o.Log, met: newEngineMetrics(o.Metrics), ents: newEntityIndex(ef),
		wm: math.MinInt64, offsets: map[partition]int64{}, saved: time.Now(),
	}
	e.install(rs, nil)
	if p := cfg.Snapshot.Path; p != "" {
		if err := checkWritable(p); err != nil {
			return nil, fmt.Errorf("correlation.snapshot.path: %w", err)
		}
		if err := e.restore(p); err != nil {
			// The state cannot be used; keep the file for a look and start empty.
			bad := p + ".bad"
			_ = os.Rename(p, bad)
			e.log.Error("correlation snapshot unreadable; starting with empty state", "path", p, "moved_to", bad, "error", err)
			e.install(rs, nil)
			e.replay, e.wm = nil, math.MinInt64
		}
	}
	return e, nil
}

// install compiles the correlations of rs and sets up their windows, carrying over the windows
// of old rules whose key and fingerprint are unchanged.
func (e *Engine) install(rs *pipeline.Ruleset, old map[*Rule]ruleWindow) {
	set := CompileBound(rs.Set, rs.Detect.Rules)
	byKey := map[string]ruleWindow{}
	for r, w := range old {
		byKey[r.Key+"\x00"+r.Fingerprint] = w
	}
	e.set, e.windows, e.order = set, map[*Rule]ruleWindow{}, nil
	for _, r := range dependencyOrder(set.Rules) {
		e.bindEntities(r)
		w, ok := byKey[r.Key+"\x00"+r.Fingerprint]
		if ok {
			delete(byKey, r.Key+"\x00"+r.Fingerprint)
			w.setRule(r)
		} else {
			w = e.newWindow(r)
		}
		e.windows[r] = w
		e.order = append(e.order, w)
		e.checkCapacity(r)
	}
	for _, w := range byKey {
		e.met.forget(w.rule().Key)
	}
	e.detRules = rs.Detect.Rules
	e.byDet = make([][]consumer, len(rs.Detect.Rules))
	e.byName = map[string][]consumer{}
	for i, d := range rs.Detect.Rules {
		cs := set.consumers[d.Rule]
		e.byDet[i] = cs
		if len(cs) > 0 {
			e.byName[d.Meta.Key()] = cs
		}
	}
	e.byCorr = map[*Rule][]consumer{}
	for _, r := range set.Rules {
		e.byCorr[r] = set.consumers[r]
	}
}

// dependencyOrder lists rules after the correlations they refer to, so that a window decided
// at some watermark feeds the correlations that use it before they decide at the same one.
func dependencyOrder(rules []*Rule) []*Rule {
	var out []*Rule
	seen := map[*Rule]bool{}
	var visit func(r *Rule)
	visit = func(r *Rule) {
		if seen[r] {
			return
		}
		seen[r] = true
		for _, ref := range r.Refs {
			if ref.Correlation != nil {
				visit(ref.Correlation)
			}
		}
		out = append(out, r)
	}
	for _, r := range rules {
		visit(r)
	}
	return out
}

func (e *Engine) newWindow(r *Rule) ruleWindow {
	switch r.Type {
	case EventCount:
		return newWindow[struct{}](e, r, countKind{})
	case ValueCount:
		return newWindow[string](e, r, valueKind{})
	case Temporal, TemporalOrdered:
		return newWindow[uint8](e, r, ruleKind{ordered: r.Type == TemporalOrdered})
	}
	return newWindow[float64](e, r, numKind{t: r.Type, pct: r.Cond.Percentile})
}

// checkCapacity warns when an event_count threshold needs more events per group than
// max_events_per_key allows (the rule could then never fire).
func (e *Engine) checkCapacity(r *Rule) {
	if r.Type != EventCount || !r.Eager {
		return
	}
	spans := int(math.Ceil(float64(r.Timespan+e.cfg.AllowedLateness) / float64(r.Timespan)))
	need := float64(spans)*(r.Cond.threshold()-1) + 1
	if need > float64(e.cfg.MaxEventsPerKey) {
		e.log.Warn("correlation threshold needs more events per group than correlation.max_events_per_key keeps; raise it",
			"rule", r.Key, "path", r.Path, "needs", need, "max_events_per_key", e.cfg.MaxEventsPerKey)
	}
}

// Rules returns the correlation rules the engine runs.
func (e *Engine) Rules() []*Rule { return e.set.Rules }

// Errors returns the problems of the correlation rules the engine left out.
func (e *Engine) Errors() []error { return e.set.Errors }

// Process implements pipeline.Stage: it feeds the alerts, in order, to the correlations that
// refer to their rules and returns them with the correlation alerts they made fire (each right
// after the alert that completed it; those decided when a window closed come before the alert
// whose time closed it).
func (e *Engine) Process(_ context.Context, alerts []*alert.Alert, watermark time.Time) ([]*alert.Alert, error) {
	if len(e.order) == 0 {
		return alerts, nil
	}
	res := make([]*alert.Alert, 0, len(alerts)+4)
	var latest time.Time // callers without a stream watermark: the alerts' own times
	for _, a := range alerts {
		latest = later(latest, later(a.Watermark, a.Time))
		res = append(res, a)
		if a.Kind != alert.KindDetection {
			continue
		}
		cs := e.consumersOf(a)
		if a.Source != nil {
			p := partition{a.Source.Topic, a.Source.Partition}
			if lim, ok := e.replay[p]; ok {
				if a.Source.Offset <= lim {
					for _, c := range cs {
						e.met.skipped.WithLabelValues(c.rule.Key, "replayed").Inc()
					}
					continue
				}
				delete(e.replay, p)
			}
			if cur, ok := e.offsets[p]; !ok || a.Source.Offset > cur {
				e.offsets[p] = a.Source.Offset
			}
		}
		if len(cs) == 0 {
			continue
		}
		e.dirty = true
		for _, c := range cs {
			e.windows[c.rule].feed(a, c.ref)
		}
		e.drain(&res)
	}
	// Windows are decided on the stream's watermark, after the batch: the result is the same as
	// alert by alert (an alert that can still count cannot change a window that is final).
	if watermark.IsZero() {
		watermark = latest
	}
	e.advance(watermark)
	e.decide(false, &res)
	for _, w := range e.order {
		w.expire(e.wm)
		w.updateGauges()
	}
	return res, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// advance raises the watermark to t; it reports whether it rose.
func (e *Engine) advance(t time.Time) bool {
	if t.IsZero() {
		return false
	}
	if ns := t.UnixNano(); ns > e.wm {
		e.wm = ns
		return true
	}
	return false
}

// decide fires the windows that are final at the watermark (all of them when flush is set),
// rule by rule in dependency order, feeding each rule's alerts on before the next decides.
func (e *Engine) decide(flush bool, res *[]*alert.Alert) {
	for _, w := range e.order {
		w.closeDue(e.wm, flush)
		e.drain(res)
	}
}

// emit queues a correlation alert: it is output, then fed to the correlations that refer to r.
func (e *Engine) emit(r *Rule, a *alert.Alert) {
	e.pending = append(e.pending, pendingAlert{a, r})
}

// drain outputs the queued correlation alerts, feeding each to its consumers (chains) in turn.
func (e *Engine) drain(res *[]*alert.Alert) {
	for i := 0; i < len(e.pending); i++ {
		p := e.pending[i]
		*res = append(*res, p.a)
		for _, c := range e.byCorr[p.r] {
			e.windows[c.rule].feed(p.a, c.ref)
		}
	}
	clear(e.pending)
	e.pending = e.pending[:0]
}

// consumersOf finds the correlations fed by a detection alert: by its rule's index, checked
// against the rule's identity, else by the rule's id (alerts of an older rule set).
func (e *Engine) consumersOf(a *alert.Alert) []consumer {
	if i := a.RuleIndex; i >= 0 && i < len(e.detRules) {
		d := e.detRules[i]
		if d.ID == a.Rule.ID && d.Title == a.Rule.Title && d.Name == a.Rule.Name {
			return e.byDet[i]
		}
	}
	k := a.Rule.ID
	switch {
	case k != "":
	case a.Rule.Name != "":
		k = a.Rule.Name
	default:
		k = a.Rule.Title
	}
	return e.byName[k]
}

// EndInput implements pipeline.InputEnder: at the end of the input (a file or stdin) nothing
// more can come, so every window is decided. It is not called when a Kafka agent stops: its
// windows go on after the restart, from the snapshot.
func (e *Engine) EndInput(_ context.Context) ([]*alert.Alert, error) {
	var res []*alert.Alert
	e.decide(true, &res)
	return res, nil
}

// Checkpoint implements pipeline.Checkpointer: before Kafka offsets are committed, the state is
// saved when the snapshot interval has passed (or final is set); until then the commit is held
// back, so that a crash never loses what the committed offsets claim was processed.
func (e *Engine) Checkpoint(_ context.Context, final bool) (bool, error) {
	if e.cfg.Snapshot.Path == "" {
		return true, nil
	}
	if !final && time.Since(e.saved) < e.cfg.Snapshot.Interval {
		return false, nil
	}
	e.saved = time.Now()
	if !e.dirty {
		return true, nil
	}
	if err := e.Snapshot(); err != nil {
		e.met.snapshots.WithLabelValues("error").Inc()
		return false, err
	}
	e.met.snapshots.WithLabelValues("ok").Inc()
	e.dirty = false
	return true, nil
}

// Reload carries the state of unchanged rules (same key and fingerprint) over to a new rule set
// and starts the others empty. It runs on the ordered stages' goroutine, before the first batch
// evaluated with rs (see pipeline.Reloader).
func (e *Engine) Reload(rs *pipeline.Ruleset) error {
	e.install(rs, e.windows)
	return nil
}

// Close releases nothing; the state is saved by the final Checkpoint.
func (e *Engine) Close() {}

// Watermark is the highest event time the engine has seen.
func (e *Engine) Watermark() time.Time {
	if e.wm == math.MinInt64 {
		return time.Time{}
	}
	return unixTime(e.wm)
}

// Keys returns the number of live groups per correlation rule key.
func (e *Engine) Keys() map[string]int {
	out := map[string]int{}
	for _, w := range e.order {
		out[w.rule().Key] = w.size()
	}
	return out
}

func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

// checkWritable makes sure the snapshot's directory exists and takes files.
func checkWritable(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".vigil-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// ---- entities ------------------------------------------------------------------------------

// entityIndex tells which fields hold users, hosts and addresses.
type entityIndex map[string]string

func newEntityIndex(f alert.EntityFields) entityIndex {
	x := entityIndex{}
	for kind, names := range map[string][]string{"user": f.User, "host": f.Host, "ip": f.IP} {
		for _, n := range names {
			x[n] = kind
		}
	}
	return x
}

// bindEntities notes which of r's group-by fields (and value_count field) hold entities.
func (e *Engine) bindEntities(r *Rule) {
	r.groupEntity = make([]string, len(r.GroupBy))
	for i := range r.GroupBy {
		for k := range r.Refs {
			if kind := e.ents[r.groupFields[k][i]]; kind != "" {
				r.groupEntity[i] = kind
				break
			}
		}
	}
	r.valueEntity = ""
	if r.Type == ValueCount {
		for k := range r.Refs {
			if kind := e.ents[r.valueField[k]]; kind != "" {
				r.valueEntity = kind
				break
			}
		}
	}
}

// add puts v in the list of its kind, keeping it sorted and unique.
func (entityIndex) add(ents *alert.Entities, kind, v string) {
	var l *[]string
	switch kind {
	case "user":
		l = &ents.User
	case "host":
		l = &ents.Host
	case "ip":
		a, err := netip.ParseAddr(v)
		if err != nil {
			return
		}
		v, l = a.Unmap().String(), &ents.IP
	default:
		return
	}
	if v == "" || v == "-" {
		return
	}
	i := sort.SearchStrings(*l, v)
	if i < len(*l) && (*l)[i] == v {
		return
	}
	*l = slices.Insert(*l, i, v)
}

// bound keeps at most n of each kind.
func (entityIndex) bound(ents *alert.Entities, n int) {
	for _, l := range []*[]string{&ents.User, &ents.Host, &ents.IP} {
		if len(*l) > n {
			*l = (*l)[:n]
		}
		if *l == nil {
			*l = []string{}
		}
	}
}

// ---- metrics -------------------------------------------------------------------------------

type engineMetrics struct {
	keys      *prometheus.GaugeVec
	evictions *prometheus.CounterVec
	late      *prometheus.CounterVec
	fired     *prometheus.CounterVec
	skipped   *prometheus.CounterVec
	snapshots *prometheus.CounterVec
}

func newEngineMetrics(m *metrics.Metrics) *engineMetrics {
	em := &engineMetrics{
		keys: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_correlation_keys", Help: "Live groups (group-by value combinations) held, by correlation rule.",
		}, []string{"rule_id"}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_correlation_evictions_total", Help: "Groups evicted because a rule held correlation.max_keys groups, by correlation rule.",
		}, []string{"rule_id"}),
		late: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_correlation_late_events_total", Help: "Alerts ignored by a correlation because they arrived later than correlation.allowed_lateness, by correlation rule.",
		}, []string{"rule_id"}),
		fired: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_correlation_alerts_total", Help: "Correlation alerts fired, by correlation rule.",
		}, []string{"rule_id"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_correlation_skipped_total", Help: "Alerts (or their values) a correlation did not count, by rule and reason (missing_group_field, missing_value, not_numeric, state_full, replayed).",
		}, []string{"rule_id", "reason"}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_correlation_snapshots_total", Help: "Correlation state snapshots written, by result (ok, error).",
		}, []string{"result"}),
	}
	if m != nil {
		em.keys = m.Register("correlation_keys", em.keys).(*prometheus.GaugeVec)
		em.evictions = m.Register("correlation_evictions", em.evictions).(*prometheus.CounterVec)
		em.late = m.Register("correlation_late", em.late).(*prometheus.CounterVec)
		em.fired = m.Register("correlation_fired", em.fired).(*prometheus.CounterVec)
		em.skipped = m.Register("correlation_skipped", em.skipped).(*prometheus.CounterVec)
		em.snapshots = m.Register("correlation_snapshots", em.snapshots).(*prometheus.CounterVec)
	}
	return em
}

// forget removes the series of a rule that is gone.
func (m *engineMetrics) forget(rule string) {
	m.keys.DeleteLabelValues(rule)
}
