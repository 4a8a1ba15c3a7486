package pipeline

import (
	"context"
	"time"

	"github.com/vigil-detect/vigil/stream"
)

// watermarkIdle is how long a partition that is behind (or expected and not yet seen) may
// deliver nothing before it stops holding the watermark back: it was revoked in a rebalance,
// belongs to another member of the group, is empty, or its leader is away.
const watermarkIdle = 5 * time.Second

// partitionLister is a Source that knows its partitions up front (Kafka).
type partitionLister interface {
	Partitions(ctx context.Context) (map[string][]int, error)
}

// expect registers partitions that have not delivered yet: each holds the watermark back until
// it does, or for watermarkIdle.
func (w *watermark) expect(parts map[string][]int, now time.Time) {
	if w.parts == nil {
		w.parts = map[partitionKey]*partitionClock{}
	}
	for topic, ids := range parts {
		for _, id := range ids {
			k := partitionKey{topic, id}
			if w.parts[k] == nil {
				w.parts[k] = &partitionClock{behind: true, seen: now}
			}
		}
	}
}

// watermark tracks event time per partition and for the stream. A partition's clock is the
// highest event time it delivered: an alert is late against its own partition's clock, so a
// partition read more slowly than another (catching up after downtime) is not late merely
// because another was read ahead. The stream's watermark, which decides correlation windows,
// is the highest event time seen, except while some partitions are behind their high-water
// mark, when it is the slowest of those. It never goes back, so a partition first seen after
// another was read far ahead cannot pull it back. Files and stdin are one partition.
type watermark struct {
	parts     map[partitionKey]*partitionClock
	wm        time.Time
	lastBatch time.Time // wall-clock time the last batch was processed
	idleWM    time.Time // the last watermark idle passed on
	live      bool      // records come from a live, partitioned source (Kafka)
}

type partitionKey struct {
	topic string
	id    int
}

type partitionClock struct {
	max    time.Time // highest event time the partition delivered
	behind bool      // its last record was below the high-water mark
	seen   time.Time // wall-clock time of its last record
}

// observe accounts for one record with event time t and returns its partition's clock after it.
func (w *watermark) observe(rec *stream.Record, t, now time.Time) time.Time {
	if t.IsZero() {
		if p := w.parts[partitionKey{rec.Topic, rec.Partition}]; p != nil {
			return p.max
		}
		return time.Time{}
	}
	if w.parts == nil {
		w.parts = map[partitionKey]*partitionClock{}
	}
	k := partitionKey{rec.Topic, rec.Partition}
	p := w.parts[k]
	if p == nil {
		p = &partitionClock{}
		w.parts[k] = p
	}
	if t.After(p.max) {
		p.max = t
	}
	p.behind = rec.HighWater >= 0 && rec.Offset+1 < rec.HighWater
	w.live = w.live || rec.HighWater >= 0
	p.seen = now
	w.recompute(now)
	return p.max
}

// recompute derives the stream's watermark from the partitions' clocks.
func (w *watermark) recompute(now time.Time) {
	var high, low time.Time
	holding := false
	for _, q := range w.parts {
		if q.max.After(high) {
			high = q.max
		}
		if q.behind && now.Sub(q.seen) < watermarkIdle && (!holding || q.max.Before(low)) {
			low, holding = q.max, true
		}
	}
	c := high
	if holding {
		c = low // zero while an expected partition has delivered nothing: no advance
	}
	if c.After(w.wm) {
		w.wm = c
	}
}

// idle returns the watermark to pass on while nothing arrives: the last event time seen plus
// the wall-clock time since the last batch, once at least quiet long, and only when no partition
// is behind (a lull while catching up must not make event time run ahead of the records still
// to come). Files and stdin are not live: their results must not depend on how fast they are
// read, and their end decides what is left. ok is false when there is nothing new to pass on.
func (w *watermark) idle(now time.Time, quiet time.Duration) (time.Time, bool) {
	if !w.live || w.lastBatch.IsZero() || now.Sub(w.lastBatch) < quiet {
		return time.Time{}, false
	}
	w.recompute(now) // partitions that went silent no longer hold it back
	if w.wm.IsZero() {
		return time.Time{}, false
	}
	for _, p := range w.parts {
		if p.behind && now.Sub(p.seen) < watermarkIdle {
			return time.Time{}, false
		}
	}
	t := w.wm.Add(now.Sub(w.lastBatch))
	if !t.After(w.idleWM) {
		return time.Time{}, false
	}
	w.idleWM = t
	return t, true
}
