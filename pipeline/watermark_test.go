package pipeline

import (
	"testing"
	"time"

	"github.com/vigil-detect/vigil/stream"
)

func TestWatermarkWaitsForPartitionsBehind(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := time.Now()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	rec := func(p int, off, high int64) *stream.Record {
		return &stream.Record{Topic: "events", Partition: p, Offset: off, HighWater: high}
	}
	var w watermark
	// Partition 1, behind, is at 10 s while partition 0 is read far ahead: the stream's
	// watermark stays with partition 1; each partition keeps its own clock.
	w.observe(rec(1, 0, 100), at(10), now)
	if clock := w.observe(rec(0, 0, 100), at(100), now); !w.wm.Equal(at(10)) || !clock.Equal(at(100)) {
		t.Fatalf("watermark %v, partition clock %v; want 10 s and 100 s", w.wm.Sub(t0), clock.Sub(t0))
	}
	if clock := w.observe(rec(1, 1, 100), at(20), now); !w.wm.Equal(at(20)) || !clock.Equal(at(20)) {
		t.Fatalf("watermark %v, clock %v, want 20 s", w.wm.Sub(t0), clock.Sub(t0))
	}
	// Both caught up (offset+1 == high water): the highest time seen.
	w.observe(rec(0, 99, 100), at(110), now)
	if w.observe(rec(1, 99, 100), at(105), now); !w.wm.Equal(at(110)) {
		t.Fatalf("watermark %v, want 110 s", w.wm.Sub(t0))
	}
	// It never goes back, and a partition behind that went quiet stops holding it.
	if w.observe(rec(2, 0, 50), at(30), now); !w.wm.Equal(at(110)) {
		t.Fatalf("watermark went back to %v", w.wm.Sub(t0))
	}
	var v watermark
	v.observe(rec(0, 0, 10), at(5), now)
	if v.observe(rec(1, 9, 10), at(60), now.Add(watermarkIdle+time.Second)); !v.wm.Equal(at(60)) {
		t.Fatalf("idle partition still holds the watermark: %v", v.wm.Sub(t0))
	}
	// Files: one partition, no high-water mark: the highest time seen.
	var f watermark
	f.observe(&stream.Record{HighWater: -1}, at(7), now)
	if clock := f.observe(&stream.Record{HighWater: -1}, at(3), now); !f.wm.Equal(at(7)) || !clock.Equal(at(7)) {
		t.Fatalf("file watermark %v", f.wm.Sub(t0))
	}
	// Known partitions that have not delivered hold it back until they do, or stay idle.
	var k watermark
	k.expect(map[string][]int{"events": {0, 1}}, now)
	if k.observe(rec(0, 99, 100), at(50), now); !k.wm.IsZero() {
		t.Fatalf("watermark moved to %v before partition 1 delivered", k.wm.Sub(t0))
	}
	if k.observe(rec(1, 99, 100), at(40), now); !k.wm.Equal(at(50)) {
		t.Fatalf("watermark %v, want 50 s", k.wm.Sub(t0))
	}
	var q watermark
	q.expect(map[string][]int{"events": {0, 1}}, now)
	if q.observe(rec(0, 99, 100), at(50), now.Add(watermarkIdle+time.Second)); !q.wm.Equal(at(50)) {
		t.Fatalf("a partition that never delivers still holds the watermark: %v", q.wm.Sub(t0))
	}
	// Quiet: event time passes with the wall clock from the last event time seen.
	var i watermark
	i.observe(&stream.Record{HighWater: -1}, at(7), now)
	i.lastBatch = now
	if _, ok := i.idle(now.Add(time.Hour), 100*time.Millisecond); ok {
		t.Fatal("idle for a file")
	}
	i.observe(rec(0, 9, 10), at(7), now)
	if _, ok := i.idle(now.Add(50*time.Millisecond), 100*time.Millisecond); ok {
		t.Fatal("idle before a quiet tick")
	}
	if w, ok := i.idle(now.Add(3*time.Second), 100*time.Millisecond); !ok || !w.Equal(at(10)) {
		t.Fatalf("idle watermark %v %v, want 10 s", w.Sub(t0), ok)
	}
	if _, ok := i.idle(now.Add(3*time.Second), 100*time.Millisecond); ok {
		t.Fatal("the same idle watermark passed twice")
	}
	// An expected partition that never delivers is released by time alone.
	var x watermark
	x.expect(map[string][]int{"events": {0, 1}}, now)
	x.observe(rec(0, 9, 10), at(20), now)
	x.lastBatch = now
	if w, ok := x.idle(now.Add(watermarkIdle+time.Second), 100*time.Millisecond); !ok || !w.Equal(at(21).Add(watermarkIdle)) {
		t.Fatalf("idle watermark %v %v, want 20 s plus the quiet time", w.Sub(t0), ok)
	}
}
