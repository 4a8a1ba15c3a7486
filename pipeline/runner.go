package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/detect"
	"github.com/vigil-detect/vigil/event"
	"github.com/vigil-detect/vigil/ingest"
	"github.com/vigil-detect/vigil/metrics"
	"github.com/vigil-detect/vigil/stream"
)

// Stage processes the alert stream in source order after detection: correlation, scoring,
// suppression, response. It returns the alerts to pass on (it may drop, change or add).
type Stage interface {
	Process(ctx context.Context, alerts []*alert.Alert, watermark time.Time) ([]*alert.Alert, error)
}

// Flusher is a Stage that holds alerts back (suppression windows) and releases them when the
// input ends: the runner calls Flush after the last batch, passes what it returns through the
// later stages and writes it before the final commit.
type Flusher interface {
	Flush(ctx context.Context) ([]*alert.Alert, error)
}

// InputEnder is a Stage that holds alerts back until event time has moved far enough (a
// correlation window is final allowed_lateness after its end). When the input ends (a file or
// stdin read to the end, unless Runner.KeepOpen is set) nothing more can come: the runner calls
// EndInput before the Flushers and passes what it returns through the later stages to the
// sinks. Unlike Flush, it is not called when a run stops for a shutdown: the stream goes on
// after a restart, and the stage's state with it.
type InputEnder interface {
	EndInput(ctx context.Context) ([]*alert.Alert, error)
}

// Checkpointer is a Stage whose state reflects the records processed so far (correlation
// windows) and must be saved before their offsets are committed. The Runner calls Checkpoint on
// the ordered stages' goroutine before every commit; final is set for the last commit of a run.
// A stage returns false to hold the commit back until its state is saved (the marked records
// are committed by a later commit); an error also holds it back and is logged.
type Checkpointer interface {
	Checkpoint(ctx context.Context, final bool) (bool, error)
}

// Reloader is implemented by stages that keep state across rule sets (correlation windows,
// suppression). When the first batch fetched with a new rule set (see Runner.SetRules) reaches
// the ordered stages, Reload is called on every Reloader, in stage order, before that batch is
// processed: every earlier record was processed with the old rule set, every later one with the
// new, so nothing is lost or seen twice across the swap. A stage keeps the state of rules that
// did not change. One that returns an error must keep working as before; the error is logged
// and counted in vigil_rule_reloads_total{result="stage_error"}.
type Reloader interface {
	Reload(rs *Ruleset) error
}

// Config tunes a Runner; zero values mean the defaults.
type Config struct {
	Workers        int           // parallel decode+detect workers (default GOMAXPROCS)
	BatchSize      int           // records per batch (default 512)
	CommitEvery    int           // commit after this many records (default 1000)
	CommitInterval time.Duration // or after this long (default 100ms)
	DrainTimeout   time.Duration // on shutdown, how long in-flight alerts may take to write (default 30s)
	Limits         event.Limits
	// CostSampleEvery times every rule evaluation of one event in this many, for the per-rule
	// cost metrics (default 128; negative disables). MaxCostSeries bounds their label values
	// (default 300 rules, the rest as "_other").
	CostSampleEvery int
	MaxCostSeries   int
}

// Runner runs the pipeline.
type Runner struct {
	Source     stream.Source
	Sinks      []stream.Sink
	DeadLetter stream.DeadLetter
	Stages     []Stage
	Metrics    *metrics.Metrics // optional
	Log        *slog.Logger
	Config     Config
	// Inputs converts the records of topics that are not JSON objects (nil: every record is JSON).
	Inputs *ingest.Router
	// KeepOpen: the source's end is not the stream's (more input follows through another
	// Runner sharing the stages), so InputEnder stages are not told.
	KeepOpen bool

	eof    atomic.Bool // the source ended with io.EOF
	rules  atomic.Pointer[Ruleset]
	active *Ruleset // the rule set the ordered stages last saw (sink goroutine only)
	stats  Stats
	costs  *ruleCosts
}

// Stats counts what a run processed.
type Stats struct {
	Records  atomic.Int64
	Rejected atomic.Int64
	Alerts   atomic.Int64
	Matches  atomic.Int64
}

// Stats returns the runner's counters.
func (r *Runner) Stats() *Stats { return &r.stats }

// SetRules installs a rule set; batches fetched afterwards use it. Safe while running.
func (r *Runner) SetRules(rs *Ruleset) { r.rules.Store(rs) }

// Rules returns the current rule set.
func (r *Runner) Rules() *Ruleset { return r.rules.Load() }

type recResult struct {
	alerts []*alert.Alert
	reject *stream.Rejected
	time   time.Time // event time (zero when unknown)
}

type batch struct {
	seq     uint64
	recs    []stream.Record
	results []recResult
	rs      *Ruleset
	fetched time.Time
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 512
	}
	if c.CommitEvery <= 0 {
		c.CommitEvery = 1000
	}
	if c.CommitInterval <= 0 {
		c.CommitInterval = 100 * time.Millisecond
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 30 * time.Second
	}
}

// Run processes records until the source ends (nil) or ctx is cancelled: then fetching stops,
// batches in flight are finished and written, and the processed positions are committed.
func (r *Runner) Run(ctx context.Context) error {
	r.Config.defaults()
	if r.Log == nil {
		r.Log = slog.Default()
	}
	if r.Metrics != nil && r.Config.CostSampleEvery >= 0 {
		r.costs = newRuleCosts(r.Metrics, r.Config.MaxCostSeries)
	}
	if r.rules.Load() == nil {
		return errors.New("pipeline: no rule set")
	}
	cfg := r.Config
	r.active = r.rules.Load()
	work := make(chan *batch, cfg.Workers*2)
	done := make(chan *batch, cfg.Workers*2)
	free := make(chan *batch, cfg.Workers*4+2)

	// Writing and committing outlive ctx so that a shutdown finishes what was fetched.
	outCtx, cancelOut := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelOut()
	finished := make(chan struct{})
	defer close(finished)
	go func() {
		select {
		case <-ctx.Done():
			select {
			case <-time.After(cfg.DrainTimeout):
				cancelOut()
			case <-finished:
			}
		case <-finished:
		}
	}()

	var fetchErr error
	go func() {
		defer close(work)
		fetchErr = r.fetch(ctx, work, free)
	}()
	var wg sync.WaitGroup
	for i := 0; i < cfg.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.work(work, done)
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	sinkErr := r.sink(outCtx, done, free)
	if sinkErr != nil {
		return sinkErr
	}
	if fetchErr != nil && !errors.Is(fetchErr, io.EOF) && !errors.Is(fetchErr, context.Canceled) && ctx.Err() == nil {
		return fetchErr
	}
	return nil
}

func (r *Runner) fetch(ctx context.Context, work chan<- *batch, free chan *batch) error {
	var seq uint64
	for {
		var b *batch
		select {
		case b = <-free:
			b.recs = b.recs[:0]
		default:
			b = &batch{recs: make([]stream.Record, 0, r.Config.BatchSize)}
		}
		recs, err := r.Source.Fetch(ctx, b.recs, r.Config.BatchSize)
		b.recs = recs
		if len(recs) > 0 {
			b.seq = seq
			seq++
			b.rs = r.rules.Load()
			b.fetched = time.Now()
			select {
			case work <- b:
			case <-ctx.Done():
				// Not handed over: these records are neither processed nor committed, so the
				// group delivers them again.
				return ctx.Err()
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				r.eof.Store(true)
			}
			return err
		}
	}
}

// work decodes and matches batches; each worker keeps a matcher per rule set.
func (r *Runner) work(work <-chan *batch, done chan<- *batch) {
	var m *detect.Matcher
	var mrs *Ruleset
	conv := converters{}
	sampler := costSampler{costs: r.costs}
	defer func() { sampler.flush(mrs, m, true) }()
	for b := range work {
		if b.rs != mrs {
			sampler.flush(mrs, m, true)
			mrs, m = b.rs, b.rs.Detect.NewMatcher()
			if r.Config.CostSampleEvery >= 0 {
				sampler.attach(m, r.Config.CostSampleEvery)
			}
		}
		sampler.flush(mrs, m, false)
		if cap(b.results) < len(b.recs) {
			b.results = make([]recResult, len(b.recs))
		}
		b.results = b.results[:len(b.recs)]
		for i := range b.recs {
			b.results[i] = r.evaluate(b.rs, m, conv, &b.recs[i])
		}
		done <- b
	}
}

// converters holds a worker's converter per non-JSON input.
type converters map[*ingest.Input]*ingest.Converter

func (r *Runner) evaluate(rs *Ruleset, m *detect.Matcher, conv converters, rec *stream.Record) recResult {
	raw := rec.Value
	converted := false
	if in := r.Inputs.For(rec.Topic); in != nil {
		c := conv[in]
		if c == nil {
			c = in.NewConverter()
			conv[in] = c
		}
		var err error
		if raw, err = c.Convert(rec.Value, rec.Time, r.Config.Limits); err != nil {
			return reject(rec, err)
		}
		converted = true
	}
	hits, err := m.MatchTopic(rec.Topic, raw)
	if err != nil {
		return reject(rec, err)
	}
	if len(hits) > 0 && converted {
		raw = bytes.Clone(raw) // the converter reuses its buffer; alerts keep the event
	}
	t, ok, badTime := rs.eventTime(&m.Event)
	var res recResult
	// A record with an odd field or time is still evaluated (detection must not lose it) and a
	// copy goes to the dead-letter destination so that the producer can be fixed.
	if reason, msg := rs.anomaly(&m.Event, badTime); reason != "" {
		res.reject = &stream.Rejected{Record: *rec, Reason: reason, Error: msg, Evaluated: true}
	}
	if !ok {
		t = rec.Time
	}
	res.time = t // every record's time moves the watermark, with or without alerts
	if len(hits) == 0 {
		return res
	}
	if t.IsZero() {
		t = time.Now().UTC()
	}
	res.time = t
	res.alerts = make([]*alert.Alert, len(hits))
	for i, ri := range hits {
		res.alerts[i] = rs.detectionAlert(ri, &m.Event, raw, t, rec.Topic, rec.Partition, rec.Offset)
		res.alerts[i].Headers = rec.Headers
	}
	return res
}

// reject explains why a record could not be evaluated; the record goes to the dead letter as
// it was read.
func reject(rec *stream.Record, err error) recResult {
	reason := "invalid"
	var de *event.Error
	var ie *ingest.Error
	switch {
	case errors.As(err, &de):
		reason = de.Reason
	case errors.As(err, &ie):
		reason = ie.Reason
	}
	return recResult{reject: &stream.Rejected{Record: *rec, Reason: reason, Error: err.Error()}}
}

// sink takes batches back in fetch order and, for each, runs the stages, writes alerts and
// rejects, and marks the records done; it commits every CommitEvery records or CommitInterval.
func (r *Runner) sink(ctx context.Context, done <-chan *batch, free chan<- *batch) error {
	pending := map[uint64]*batch{}
	var next uint64
	sinceCommit := 0
	lastCommit := time.Now()
	var clock watermark
	if pl, ok := r.Source.(partitionLister); ok {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		parts, err := pl.Partitions(lctx)
		cancel()
		if err != nil {
			r.Log.Warn("partitions unknown; the event-time watermark cannot wait for those that have not delivered yet", "error", err)
		}
		clock.expect(parts, time.Now())
	}
	var firstErr error
	commit := func(final bool) {
		lastCommit = time.Now()
		if !r.checkpoint(ctx, final) {
			return // held back: the ticker asks again
		}
		r.commit(ctx)
		sinceCommit = 0
	}
	// The ticker commits what an idle stream left marked but uncommitted.
	tick := time.NewTicker(r.Config.CommitInterval)
	defer tick.Stop()
	for {
		select {
		case b, ok := <-done:
			if !ok {
				if firstErr == nil && r.eof.Load() && !r.KeepOpen {
					firstErr = r.endInput(ctx, clock.wm)
				}
				if firstErr == nil {
					firstErr = r.flush(ctx, clock.wm)
				}
				if firstErr == nil {
					commit(true)
				}
				return firstErr
			}
			pending[b.seq] = b
			// Take whatever else is ready too: under load, several batches then share one
			// round trip to each sink.
			for drained := false; !drained; {
				select {
				case more, ok := <-done:
					if !ok {
						drained = true
						break
					}
					pending[more.seq] = more
				default:
					drained = true
				}
			}
		case <-tick.C:
			if firstErr == nil {
				firstErr = r.idle(ctx, &clock)
			}
			if sinceCommit > 0 && firstErr == nil && time.Since(lastCommit) >= r.Config.CommitInterval {
				commit(false)
			}
			continue
		}
		for {
			var group []*batch
			records := 0
			for len(group) < maxCoalesce && records < r.Config.CommitEvery*4 {
				b, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				group = append(group, b)
				records += len(b.recs)
			}
			if len(group) == 0 {
				break
			}
			if firstErr != nil {
				continue // a write failed for good: process nothing more, commit nothing more
			}
			if err := r.finish(ctx, group, &clock); err != nil {
				firstErr = err
				continue
			}
			clock.lastBatch = time.Now()
			for _, b := range group {
				r.Source.Done(b.recs)
				sinceCommit += len(b.recs)
				select {
				case free <- b:
				default:
				}
			}
			if sinceCommit >= r.Config.CommitEvery || time.Since(lastCommit) >= r.Config.CommitInterval {
				commit(false)
			}
		}
	}
}

// maxCoalesce bounds how many ready batches share one round of writes.
const maxCoalesce = 32

// flush collects what Flusher stages held back, runs it through the stages after them and
// writes it.
func (r *Runner) flush(ctx context.Context, watermark time.Time) error {
	return r.release(ctx, watermark, func(st Stage) ([]*alert.Alert, bool, error) {
		f, ok := st.(Flusher)
		if !ok {
			return nil, false, nil
		}
		alerts, err := f.Flush(ctx)
		return alerts, true, err
	})
}

// endInput collects what InputEnder stages held back now that the input ended, and writes it
// like flush.
func (r *Runner) endInput(ctx context.Context, watermark time.Time) error {
	return r.release(ctx, watermark, func(st Stage) ([]*alert.Alert, bool, error) {
		e, ok := st.(InputEnder)
		if !ok {
			return nil, false, nil
		}
		alerts, err := e.EndInput(ctx)
		return alerts, true, err
	})
}

// idle lets event time pass while nothing arrives: when no partition is behind and no record
// came for a tick, the watermark advances with the wall clock from the last one, and the
// stages see it (a correlation window then closes though the stream went quiet).
func (r *Runner) idle(ctx context.Context, clock *watermark) error {
	w, ok := clock.idle(time.Now(), r.Config.CommitInterval)
	if !ok || len(r.Stages) == 0 {
		return nil
	}
	return r.release(ctx, w, func(st Stage) ([]*alert.Alert, bool, error) {
		if st != r.Stages[0] {
			return nil, false, nil
		}
		alerts, err := st.Process(ctx, nil, w)
		return alerts, true, err
	})
}

// checkpoint asks the Checkpointer stages whether the commit may go ahead (their state saved).
func (r *Runner) checkpoint(ctx context.Context, final bool) bool {
	ok := true
	for _, st := range r.Stages {
		c, is := st.(Checkpointer)
		if !is {
			continue
		}
		saved, err := c.Checkpoint(ctx, final)
		if err != nil {
			r.Log.Error("stage state not saved; offsets not committed", "error", err)
		}
		ok = ok && saved && err == nil
	}
	return ok
}

// release asks each stage, in order, for alerts it holds back (get says whether it is one that
// does), runs them through the stages after it and writes them.
func (r *Runner) release(ctx context.Context, watermark time.Time, get func(Stage) ([]*alert.Alert, bool, error)) error {
	var out []*alert.Alert
	for i, st := range r.Stages {
		alerts, ok, err := get(st)
		if !ok {
			continue
		}
		if err != nil {
			return err
		}
		for _, later := range r.Stages[i+1:] {
			if len(alerts) == 0 {
				break
			}
			if alerts, err = later.Process(ctx, alerts, watermark); err != nil {
				return err
			}
		}
		for _, a := range alerts {
			if !a.Suppressed {
				out = append(out, a)
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	for i, s := range r.Sinks {
		if err := r.retry(ctx, "sink_"+strconv.Itoa(i), func() error { return s.Write(ctx, out) }); err != nil {
			return err
		}
	}
	r.stats.Alerts.Add(int64(len(out)))
	if r.Metrics != nil {
		for _, a := range out {
			r.Metrics.Alerts.WithLabelValues(a.Kind, levelLabel(a.Rule.Level)).Inc()
		}
	}
	return nil
}

func (r *Runner) commit(ctx context.Context) {
	err := r.Source.Commit(ctx)
	if r.Metrics != nil {
		if err != nil {
			r.Metrics.Commits.WithLabelValues("error").Inc()
		} else {
			r.Metrics.Commits.WithLabelValues("ok").Inc()
		}
	}
	if err != nil {
		r.Log.Warn("offset commit failed; the records will be delivered again", "error", err)
	}
}

// finish runs the ordered stages of one batch and writes its output. Writes are retried until
// they succeed or ctx ends: an alert is never dropped to keep the stream moving.
func (r *Runner) finish(ctx context.Context, group []*batch, clock *watermark) error {
	var out []*alert.Alert
	var rejects []stream.Rejected
	type batchOutput struct {
		all, out []*alert.Alert
		rejects  []stream.Rejected
	}
	outputs := make([]batchOutput, len(group))
	for gi, b := range group {
		var alerts []*alert.Alert
		var bRejects []stream.Rejected
		now := time.Now()
		for i := range b.results {
			res := &b.results[i]
			if res.reject != nil {
				bRejects = append(bRejects, *res.reject)
				if !res.reject.Evaluated {
					continue
				}
			}
			part := clock.observe(&b.recs[i], res.time, now)
			for _, a := range res.alerts {
				a.Watermark = part
			}
			alerts = append(alerts, res.alerts...)
			b.results[i] = recResult{}
		}
		if b.rs != r.active {
			r.reloadStages(b.rs)
		}
		var err error
		for _, st := range r.Stages {
			if alerts, err = st.Process(ctx, alerts, clock.wm); err != nil {
				return err
			}
		}
		bOut := alerts[:0:0]
		for _, a := range alerts {
			if !a.Suppressed {
				bOut = append(bOut, a)
			}
		}
		outputs[gi] = batchOutput{all: alerts, out: bOut, rejects: bRejects}
		out = append(out, bOut...)
		rejects = append(rejects, bRejects...)
	}
	if len(rejects) > 0 && r.DeadLetter != nil {
		if err := r.retry(ctx, "dead_letter", func() error { return r.DeadLetter.Reject(ctx, rejects) }); err != nil {
			return err
		}
	}
	for i, s := range r.Sinks {
		if err := r.retry(ctx, "sink_"+strconv.Itoa(i), func() error { return s.Write(ctx, out) }); err != nil {
			return err
		}
	}
	for gi, b := range group {
		r.observe(b, outputs[gi].all, outputs[gi].out, outputs[gi].rejects)
	}
	return nil
}

// reloadStages tells the stateful stages that the batches from here on were evaluated with rs.
func (r *Runner) reloadStages(rs *Ruleset) {
	r.active = rs
	for i, st := range r.Stages {
		rl, ok := st.(Reloader)
		if !ok {
			continue
		}
		if err := rl.Reload(rs); err != nil {
			r.Log.Error("stage kept its previous rules after a reload", "stage", i, "error", err)
			if r.Metrics != nil {
				r.Metrics.Reloads.WithLabelValues("stage_error").Inc()
			}
		}
	}
}

func (r *Runner) retry(ctx context.Context, name string, f func() error) error {
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			return nil
		}
		if r.Metrics != nil {
			r.Metrics.SinkErrors.WithLabelValues(name).Inc()
		}
		r.Log.Warn("write failed; retrying", "sink", name, "attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (r *Runner) observe(b *batch, all, written []*alert.Alert, rejects []stream.Rejected) {
	r.stats.Records.Add(int64(len(b.recs)))
	r.stats.Rejected.Add(int64(len(rejects)))
	r.stats.Alerts.Add(int64(len(written)))
	m := r.Metrics
	if m == nil {
		for _, a := range all {
			if a.Kind == alert.KindDetection {
				r.stats.Matches.Add(1)
			}
		}
		return
	}
	now := time.Now()
	m.ProcessingTime.Observe(now.Sub(b.fetched).Seconds())
	m.BatchSize.Observe(float64(len(b.recs)))
	// Counting per topic without a map lookup per record: batches are mostly one topic.
	topic, n, bytes := "", 0, 0
	type partition struct {
		topic string
		id    int
	}
	lag := map[partition]int64{}
	for i := range b.recs {
		rec := &b.recs[i]
		bytes += len(rec.Value)
		if rec.Topic != topic && n > 0 {
			m.Events.WithLabelValues(topic).Add(float64(n))
			n = 0
		}
		topic = rec.Topic
		n++
		if rec.HighWater >= 0 && rec.Topic != "" {
			lag[partition{rec.Topic, rec.Partition}] = rec.HighWater - rec.Offset - 1
		}
	}
	if n > 0 {
		m.Events.WithLabelValues(topic).Add(float64(n))
	}
	m.EventBytes.Add(float64(bytes))
	for k, v := range lag {
		m.ConsumerLag.WithLabelValues(k.topic, strconv.Itoa(k.id)).Set(float64(max(v, 0)))
	}
	for _, rj := range rejects {
		m.Rejected.WithLabelValues(rj.Reason).Inc()
	}
	for _, a := range all {
		if a.Kind == alert.KindDetection {
			r.stats.Matches.Add(1)
			m.RuleMatches.WithLabelValues(a.Rule.ID, a.Rule.Title).Inc()
		}
	}
	for _, a := range written {
		m.Alerts.WithLabelValues(a.Kind, levelLabel(a.Rule.Level)).Inc()
		if !a.Time.IsZero() {
			m.DetectionLatency.Observe(now.Sub(a.Time).Seconds())
		}
	}
}

func levelLabel(l string) string {
	if alert.LevelRank(l) < 0 {
		return "none"
	}
	return l
}
