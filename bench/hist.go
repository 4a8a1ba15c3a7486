package bench

import (
	"math/bits"
	"time"
)

// hist is a log-linear latency histogram: 16 buckets per power of two, so a quantile is exact
// to about 6%. Fixed size, no allocation when recording.
type hist struct {
	counts [64 * 16]int64
	n      int64
	sum    time.Duration
}

const subBits = 4 // 16 sub-buckets

func bucketOf(ns int64) int {
	if ns < 1<<subBits {
		return int(max(ns, 0))
	}
	e := bits.Len64(uint64(ns)) - 1 // ns in [2^e, 2^(e+1))
	sub := int(ns>>(e-subBits)) & (1<<subBits - 1)
	return (e-subBits+1)<<subBits + sub
}

// bucketMid is the middle of a bucket's range, in ns.
func bucketMid(b int) int64 {
	if b < 1<<subBits {
		return int64(b)
	}
	e := b>>subBits + subBits - 1
	sub := int64(b & (1<<subBits - 1))
	lo := int64(1)<<e + sub<<(e-subBits)
	width := int64(1) << (e - subBits)
	return lo + width/2
}

func (h *hist) add(d time.Duration) {
	b := min(bucketOf(int64(d)), len(h.counts)-1)
	h.counts[b]++
	h.n++
	h.sum += d
}

// mean is the exact mean of the samples.
func (h *hist) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

func (h *hist) merge(o *hist) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
}

// quantile returns the q-quantile (0 < q <= 1), or 0 without samples.
func (h *hist) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(q*float64(h.n) + 0.5)
	rank = min(max(rank, 1), h.n)
	var seen int64
	for b, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(bucketMid(b))
		}
	}
	return 0
}
