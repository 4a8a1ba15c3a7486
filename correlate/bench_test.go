package correlate_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/alert"
)

// benchSetup builds an engine with one correlation and a million group keys' worth of alert
// templates. The timespan is an hour so that every key stays live through the run.
func benchSetup(b *testing.B, body string) (*harness, []string) {
	rule := detections + corr("Bench", "c", body)
	h := newHarness(b, rule, "max_keys: 2000000\n")
	keys := make([]string, 1<<20)
	for i := range keys {
		keys[i] = fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	}
	return h, keys
}

// feeder pushes alerts through the engine in batches of 512, reusing the alert objects.
type feeder struct {
	h     *harness
	batch []*alert.Alert
	clock time.Time
	n     int
}

func newFeeder(h *harness) *feeder {
	f := &feeder{h: h, clock: t0}
	d := h.rs.Detect.Rules[0] // "fail"
	for i := range 512 {
		f.batch = append(f.batch, &alert.Alert{
			ID: alert.ID([]byte{byte(i), byte(i >> 8)}), Kind: alert.KindDetection, RuleIndex: 0,
			Rule:   alert.Rule{ID: d.ID, Title: d.Title, Name: d.Name},
			Fields: map[string][]string{"user": {""}, "val": {""}},
		})
	}
	return f
}

// feed sends n alerts for group key(i) with value val(i), advancing event time 1 ms each.
func (f *feeder) feed(b *testing.B, n int, key func(i int) string, val func(i int) string) {
	for done := 0; done < n; {
		m := min(len(f.batch), n-done)
		for j := range m {
			a := f.batch[j]
			f.clock = f.clock.Add(time.Millisecond)
			a.Time, a.Watermark = f.clock, f.clock
			a.Fields["user"][0] = key(f.n)
			a.Fields["val"][0] = val(f.n)
			f.n++
		}
		if _, err := f.h.eng.Process(context.Background(), f.batch[:m], f.clock); err != nil {
			b.Fatal(err)
		}
		done += m
	}
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func benchThroughput(b *testing.B, nkeys int, body string, val func(i int) string) {
	h, keys := benchSetup(b, body)
	keys = keys[:nkeys]
	f := newFeeder(h)
	before := heapInUse()
	// One event for each of a million keys: the live state the run works against.
	f.feed(b, len(keys), func(i int) string { return keys[i] }, val)
	perKey := float64(heapInUse()-before) / float64(len(keys))
	if n := h.eng.Keys()[h.eng.Rules()[0].Key]; n != len(keys) {
		b.Fatalf("%d live keys, want %d", n, len(keys))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	idx := make([]int, 1<<20)
	for i := range idx {
		idx[i] = rng.IntN(len(keys))
	}
	b.ResetTimer()
	start := time.Now()
	f.feed(b, b.N, func(i int) string { return keys[idx[i&(len(idx)-1)]] }, val)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.ReportMetric(perKey, "B/key")
}

// BenchmarkEventCount1M: event_count (gte 10 in 1h by source address) with 1M live groups,
// alerts for random groups, one core (the engine runs on the pipeline's ordered goroutine).
func BenchmarkEventCount1M(b *testing.B) {
	benchThroughput(b, 1<<20, "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 1h\n  condition: {gte: 10}",
		func(int) string { return "" })
}

// BenchmarkEventCount10K: 10,000 live groups (cache-resident), a one-minute window: each group
// gets an event every 10 s, holds about nine and never reaches the threshold.
func BenchmarkEventCount10K(b *testing.B) {
	benchThroughput(b, 10000, "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 1m\n  condition: {gte: 10}",
		func(int) string { return "" })
}

// BenchmarkValueCount1M: value_count (gte 20 distinct users in 1h by source address) with 1M
// live groups, values from 50 users.
func BenchmarkValueCount1M(b *testing.B) {
	users := make([]string, 50)
	for i := range users {
		users[i] = fmt.Sprintf("user%02d", i)
	}
	benchThroughput(b, 1<<20, "  type: value_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 1h\n  condition: {field: val, gte: 20}",
		func(i int) string { return users[(i*7)%len(users)] })
}

// BenchmarkEventCountBytesPerKey: the heap a live event_count group costs, by how many events
// it holds (the threshold is 10, so a group holds at most 9 before it fires).
func BenchmarkEventCountBytesPerKey(b *testing.B) {
	for _, per := range []int{1, 3, 9} {
		b.Run(fmt.Sprintf("events=%d", per), func(b *testing.B) {
			h, keys := benchSetup(b, "  type: event_count\n  rules: [fail]\n  group-by: [user]\n  timespan: 1h\n  condition: {gte: 10}")
			keys = keys[:1<<18]
			f := newFeeder(h)
			before := heapInUse()
			b.ResetTimer()
			for range b.N {
				for range per {
					f.feed(b, len(keys), func(i int) string { return keys[i%len(keys)] }, func(int) string { return "" })
				}
				b.StopTimer()
				b.ReportMetric(float64(heapInUse()-before)/float64(len(keys)), "B/key")
				b.StartTimer()
			}
		})
	}
}
