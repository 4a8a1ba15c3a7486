package correlate

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/vigil-detect/vigil/alert"
)

// countKind: event_count. Entries carry nothing but time and alert id.
type countKind struct{}

func (countKind) payloads(_ *alert.Alert, _ string, _ int, dst []struct{}) ([]struct{}, string) {
	return append(dst, struct{}{}), ""
}
func (countKind) agg(_ *window[struct{}], es []entry[struct{}]) float64 { return float64(len(es)) }
func (countKind) dedup() bool                                           { return false }
func (countKind) equal(struct{}, struct{}) bool                         { return true }
func (countKind) describe(_ *window[struct{}], es []entry[struct{}], _ float64, c *alert.Correlation) {
	c.Count = len(es)
}
func (countKind) put(b []byte, _ struct{}) []byte       { return b }
func (countKind) get(b []byte) (struct{}, []byte, bool) { return struct{}{}, b, true }

// valueKind: value_count. Entries carry the field's value; a list-valued field contributes each
// of its values.
type valueKind struct{}

func (valueKind) payloads(a *alert.Alert, field string, _ int, dst []string) ([]string, string) {
	vs := a.Fields[field]
	if len(vs) == 0 {
		return dst, "missing_value"
	}
	return append(dst, vs...), ""
}

func (valueKind) agg(w *window[string], es []entry[string]) float64 {
	return float64(len(w.distinct(es)))
}

// distinct returns the distinct values of es, sorted (in w's scratch space).
func (w *window[P]) distinct(es []entry[string]) []string {
	s := w.strs[:0]
	for i := range es {
		s = append(s, es[i].p)
	}
	slices.Sort(s)
	s = slices.Compact(s)
	w.strs = s
	return s
}

func (valueKind) dedup() bool            { return true }
func (valueKind) equal(a, b string) bool { return a == b }
func (valueKind) describe(w *window[string], es []entry[string], _ float64, c *alert.Correlation) {
	vals := w.distinct(es)
	c.Count = len(vals)
	max := w.e.cfg.MaxValues
	if len(vals) > max {
		vals, c.Truncated = vals[:max], true
	}
	c.Values = slices.Clone(vals)
}
func (valueKind) put(b []byte, p string) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}
func (valueKind) get(b []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", nil, false
	}
	return string(b[k : k+int(n)]), b[k+int(n):], true
}

// ruleKind: temporal and temporal_ordered. Entries carry the position of their rule in the
// correlation's `rules` (at most 64).
type ruleKind struct{ ordered bool }

func (ruleKind) payloads(_ *alert.Alert, _ string, ref int, dst []uint8) ([]uint8, string) {
	return append(dst, uint8(ref)), ""
}

func (k ruleKind) agg(_ *window[uint8], es []entry[uint8]) float64 {
	if k.ordered {
		return float64(len(orderedPrefix(es, 64)))
	}
	return float64(bits.OnesCount64(ruleMask(es)))
}

func ruleMask(es []entry[uint8]) uint64 {
	var m uint64
	for i := range es {
		m |= 1 << es[i].p
	}
	return m
}

// orderedPrefix finds, in time order, the longest run of rules 0, 1, 2, ... (each after the one
// before); greedy earliest matching finds the longest. It returns the entry index of each.
func orderedPrefix(es []entry[uint8], n int) []int {
	var idx []int
	next := uint8(0)
	for i := range es {
		if int(next) >= n {
			break
		}
		if es[i].p == next {
			idx = append(idx, i)
			next++
		}
	}
	return idx
}

func (k ruleKind) dedup() bool         { return !k.ordered }
func (ruleKind) equal(a, b uint8) bool { return a == b }
func (k ruleKind) describe(w *window[uint8], es []entry[uint8], _ float64, c *alert.Correlation) {
	c.Count = len(es)
	refs := w.r.Refs
	if k.ordered {
		for _, i := range orderedPrefix(es, len(refs)) {
			c.Rules = append(c.Rules, refs[es[i].p].Key())
		}
		return
	}
	m := ruleMask(es)
	for i := range refs {
		if m&(1<<i) != 0 {
			c.Rules = append(c.Rules, refs[i].Key())
		}
	}
}
func (ruleKind) put(b []byte, p uint8) []byte { return append(b, p) }
func (ruleKind) get(b []byte) (uint8, []byte, bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	return b[0], b[1:], true
}

// numKind: value_sum, value_avg, value_percentile, value_median. Entries carry the field's
// number; values that are not numbers are skipped.
type numKind struct {
	t   Type
	pct float64
}

func (numKind) payloads(a *alert.Alert, field string, _ int, dst []float64) ([]float64, string) {
	vs := a.Fields[field]
	if len(vs) == 0 {
		return dst, "missing_value"
	}
	n := len(dst)
	for _, v := range vs {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err == nil && !math.IsNaN(x) && !math.IsInf(x, 0) {
			dst = append(dst, x)
		}
	}
	if len(dst) == n {
		return dst, "not_numeric"
	}
	return dst, ""
}

func (k numKind) agg(w *window[float64], es []entry[float64]) float64 {
	switch k.t {
	case ValueSum, ValueAvg:
		var s float64
		for i := range es {
			s += es[i].p
		}
		if k.t == ValueAvg {
			s /= float64(len(es))
		}
		return s
	}
	v := w.nums[:0]
	for i := range es {
		v = append(v, es[i].p)
	}
	slices.Sort(v)
	w.nums = v
	p := k.pct
	if k.t == ValueMedian {
		p = 50
	}
	return percentile(v, p)
}

// percentile interpolates linearly between the closest ranks of sorted v (the definition of
// numpy's default and of most SIEMs); the 50th is the usual median.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	rank := p / 100 * float64(len(v)-1)
	lo := int(math.Floor(rank))
	hi := int(math.Ceil(rank))
	return v[lo] + (v[hi]-v[lo])*(rank-float64(lo))
}

func (numKind) dedup() bool             { return false }
func (numKind) equal(a, b float64) bool { return a == b }
func (numKind) describe(_ *window[float64], es []entry[float64], agg float64, c *alert.Correlation) {
	c.Count = len(es)
	c.Value = agg
}
func (numKind) put(b []byte, p float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(p))
}
func (numKind) get(b []byte) (float64, []byte, bool) {
	if len(b) < 8 {
		return 0, nil, false
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b)), b[8:], true
}
