package pipeline

import (
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-detect/vigil/alert"
	"github.com/vigil-detect/vigil/detect"
	"github.com/vigil-detect/vigil/stream"
)

// floodSource yields n generated events, each with a distinct user and host, without keeping them.
type floodSource struct {
	n, i int
}

func (s *floodSource) Fetch(_ context.Context, dst []stream.Record, max int) ([]stream.Record, error) {
	if s.i >= s.n {
		return dst, io.EOF
	}
	for k := 0; k < max && s.i < s.n; k++ {
		v := `{"CommandLine":"flood mimikatz","User":"user` + strconv.Itoa(s.i) + `","Computer":"host` + strconv.Itoa(s.i) + `"}`
		dst = append(dst, stream.Record{Value: []byte(v), Offset: int64(s.i), Topic: "t", HighWater: -1})
		s.i++
	}
	return dst, nil
}
func (s *floodSource) Done([]stream.Record)         {}
func (s *floodSource) Commit(context.Context) error { return nil }
func (s *floodSource) Close() error                 { return nil }

type countSink struct{ n atomic.Int64 }

func (s *countSink) Write(_ context.Context, a []*alert.Alert) error {
	s.n.Add(int64(len(a)))
	return nil
}
func (s *countSink) Close() error { return nil }

// TestFloodOfDistinctKeysKeepsMemoryBounded streams events that each carry a new user and host
// (group-by values) through the pipeline and checks that the live heap stays bounded: nothing in
// the pipeline keeps per-key state. VIGIL_FLOOD_EVENTS=10000000 runs the full flood. Once the
// correlation stage is in Stages (issue 4), this test is where its LRU caps are held to.
func TestFloodOfDistinctKeysKeepsMemoryBounded(t *testing.T) {
	n := 300_000
	if v, err := strconv.Atoi(os.Getenv("VIGIL_FLOOD_EVENTS")); err == nil {
		n = v
	}
	rs := ruleset(t, "11111111-1111-1111-1111-111111111111", "mimikatz")
	rs = Compile(rs.Set, RuleOptions{ExtraFields: func(*detect.Rule) []string { return []string{"User", "Computer"} }})
	sink := &countSink{}
	r := &Runner{Source: &floodSource{n: n}, Sinks: []stream.Sink{sink},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Config: Config{Workers: 2}}
	r.SetRules(rs)
	const capBytes = 64 << 20
	var peak uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}()
	start := time.Now()
	if err := r.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-sampled
	if got := sink.n.Load(); got != int64(n) {
		t.Fatalf("%d alerts for %d events", got, n)
	}
	t.Logf("%d distinct keys in %v; peak live heap %.1f MiB", n, time.Since(start).Round(time.Millisecond), float64(peak)/(1<<20))
	if peak > capBytes {
		t.Fatalf("live heap peaked at %d bytes, over %d", peak, capBytes)
	}
}
