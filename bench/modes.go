package bench

import (
	"encoding/json"
	"runtime"
	"sync"
	"time"

	"github.com/vigil-detect/vigil/event"
	"github.com/vigil-detect/vigil/pipeline"
)

// One event in sampleEvery (on average) is timed alone for the latency quantiles. Timing every
// event would add two clock reads to each, a visible share of a microsecond-scale decode. The
// gaps between timed events vary (1 to 15) so that a lane whose length is a multiple of the
// stride does not time the same events on every pass.
const sampleEvery = 8

// loop is one goroutine's share of a timed run.
type loop struct {
	events, bytes, alerts, rejected int64
	lat                             hist
	rnd                             uint32
}

// gap returns the distance to the next timed event.
func (lp *loop) gap(stride int) int {
	if stride <= 1 {
		return 1
	}
	lp.rnd = lp.rnd*1664525 + 1013904223
	return 1 + int(lp.rnd>>16)%(2*stride-1)
}

// run calls f on events [lo, hi) of l in order, round and round, until it has done the whole
// range once and the deadline has passed. f returns the event's matches, or -1 for a rejected
// event.
func (lp *loop) run(l *lane, lo, hi int, deadline time.Time, stride int, f func(ev []byte) int) {
	i, done := lo, false
	next := lp.gap(stride) - 1
	for k := 0; ; k++ {
		ev := l.event(i)
		var n int
		if k == next {
			next += lp.gap(stride)
			t := time.Now()
			n = f(ev)
			now := time.Now()
			lp.lat.add(now.Sub(t))
			if done && now.After(deadline) {
				lp.count(ev, n)
				return
			}
		} else {
			n = f(ev)
		}
		lp.count(ev, n)
		if i++; i == hi {
			i, done = lo, true
			if time.Now().After(deadline) {
				return
			}
		}
	}
}

func (lp *loop) count(ev []byte, n int) {
	lp.events++
	lp.bytes += int64(len(ev))
	if n < 0 {
		lp.rejected++
	} else {
		lp.alerts += int64(n)
	}
}

// timed runs workers goroutines over contiguous shares of l and reports throughput,
// allocations and latency. newF builds each goroutine's per-event function.
func timed(l *lane, d time.Duration, workers int, stride int, newF func() func(ev []byte) int) Result {
	workers = max(1, min(workers, l.len()))
	loops := make([]loop, workers)
	fs := make([]func([]byte) int, workers)
	for w := range fs {
		fs[w] = newF()
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range workers {
		loops[w].rnd = uint32(w + 1)
		lo, hi := w*l.len()/workers, (w+1)*l.len()/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			loops[w].run(l, lo, hi, deadline, stride, fs[w])
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	runtime.ReadMemStats(&ms1)

	var total loop
	for w := range loops {
		total.events += loops[w].events
		total.bytes += loops[w].bytes
		total.alerts += loops[w].alerts
		total.rejected += loops[w].rejected
		total.lat.merge(&loops[w].lat)
	}
	sampled := "one event in 8 on average"
	if stride == 1 {
		sampled = "every event"
	}
	return total.result(elapsed, ms1.Mallocs-ms0.Mallocs, sampled)
}

// result reports the loop's counts over elapsed, with mallocs allocations and latencies
// sampled as described.
func (lp *loop) result(elapsed time.Duration, mallocs uint64, sampled string) Result {
	sec := elapsed.Seconds()
	return Result{
		Events:         lp.events,
		Seconds:        sec,
		EventsPerSec:   float64(lp.events) / sec,
		MBPerSec:       float64(lp.bytes) / sec / 1e6,
		Alerts:         lp.alerts,
		AllocsPerEvent: float64(mallocs) / float64(max(lp.events, 1)),
		Rejected:       lp.rejected,
		Latency: Latency{
			Unit: "event", Sampled: sampled, Samples: lp.lat.n,
			P50: lp.lat.quantile(0.50), P99: lp.lat.quantile(0.99), Mean: lp.lat.mean(),
		},
	}
}

// runDecode decodes with the schema of the compiled rules (the fields they, the entity
// extractor and the time fields reference), as the pipeline does before matching.
func runDecode(rs *pipeline.Ruleset, lim event.Limits, l *lane, d time.Duration) Result {
	schema := rs.Detect.Schema
	res := timed(l, d, 1, sampleEvery, func() func([]byte) int {
		var ev event.Event
		return func(raw []byte) int {
			if schema.Decode(raw, &ev, lim) != nil {
				return -1
			}
			return 0
		}
	})
	res.Alerts = -1
	return res
}

// newMatch returns a per-goroutine function that decodes and matches with its own Matcher.
func newMatch(rs *pipeline.Ruleset) func() func([]byte) int {
	return func() func([]byte) int {
		m := rs.Detect.NewMatcher()
		return func(raw []byte) int {
			hits, err := m.Match(raw)
			if err != nil {
				return -1
			}
			return len(hits)
		}
	}
}

func runDetect1(rs *pipeline.Ruleset, l *lane, d time.Duration) Result {
	return timed(l, d, 1, sampleEvery, newMatch(rs))
}

func runDetectN(rs *pipeline.Ruleset, l *lane, d time.Duration, workers int) Result {
	return timed(l, d, workers, sampleEvery, newMatch(rs))
}

// runBaseline is the bare JSON parse the others are compared with: encoding/json into a fresh
// map[string]any per event, as a map-based engine starts.
func runBaseline(l *lane, d time.Duration) Result {
	res := timed(l, d, 1, sampleEvery, func() func([]byte) int {
		return func(raw []byte) int {
			var m map[string]any
			if json.Unmarshal(raw, &m) != nil {
				return -1
			}
			return 0
		}
	})
	res.Alerts = -1
	return res
}
