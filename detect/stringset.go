package detect

import (
	"bytes"
	"encoding/binary"
	"strings"

	"github.com/vigil-detect/vigil/event"
	"github.com/vigil-detect/vigil/internal/multilit"
)

// stringSet matches any of many plain values of one shape (equal, prefix, suffix or contains) in
// one pass instead of one comparison per value. Equal, prefix and suffix sets are one hash
// probe (see affixKey); for substrings the index's literal scanner runs (the values too short
// for it, or too few to be worth one, are searched for one by one). Rules often list dozens of
// values (process names, command-line fragments).
type stringSet struct {
	op    strOp
	cased bool
	// opEqual, opPrefix, opSuffix: the members keyed on four bytes keySkip bytes from the end
	// they are anchored at (the start for prefixes), in an open-addressed table; members too
	// short for a key are compared one by one
	keySkip int
	slots   []affixSlot // a power of two of them
	keyed   [][]byte    // members by key: a slot's are keyed[lo:hi]
	short   [][]byte
	long    *multilit.Matcher // opContains: the values the scanner takes, when many
	rest    []finder          // opContains: the other values, each searched for alone
	empty   bool              // opContains: an empty value matches everything
	all     []*strMatcher     // the members, for explain and the index
}

// affixSlot is a key of a set's table and its members (hi 0: an empty slot).
type affixSlot struct {
	key    uint32
	lo, hi uint32
}

// maxKeySkip bounds how far from its anchored end a member's key may sit.
const maxKeySkip = 12

// minStringSet is the smallest group worth a set: below it, direct comparisons are as fast.
const minStringSet = 4

// minScannedSet is the fewest substrings searched for with the literal scanner; fewer are
// searched for one by one (building a scanner costs memory and compile time).
const minScannedSet = 8

// groupStrings replaces runs of simple string matchers of one shape with stringSets. Only for
// ORed values: the caller does not use it for `all`.
func groupStrings(vals []valueMatcher) []valueMatcher {
	type key struct {
		op    strOp
		cased bool
	}
	groups := map[key][]*strMatcher{}
	var order []key
	var rest []valueMatcher
	for _, v := range vals {
		sm, ok := v.(*strMatcher)
		if !ok || sm.op == opGlob || sm.op == opAnyValue {
			rest = append(rest, v)
			continue
		}
		k := key{sm.op, sm.cased}
		if _, seen := groups[k]; !seen {
			order = append(order, k)
		}
		groups[k] = append(groups[k], sm)
	}
	out := rest
	for _, k := range order {
		g := groups[k]
		if len(g) < minStringSet {
			for _, sm := range g {
				out = append(out, sm)
			}
			continue
		}
		out = append(out, newStringSet(k.op, k.cased, g))
	}
	return out
}

func newStringSet(op strOp, cased bool, members []*strMatcher) *stringSet {
	s := &stringSet{op: op, cased: cased, all: members}
	switch op {
	case opEqual, opPrefix, opSuffix:
		lits := make([][]byte, len(members))
		for i, m := range members {
			lits[i] = m.lit
		}
		s.keyMembers(lits)
	case opContains:
		scannable := func(lit []byte) bool { return len(lit) >= multilit.MinLen && len(lit) <= multilit.MaxLen }
		long := 0
		for _, m := range members {
			if scannable(m.lit) {
				long++
			}
		}
		var b multilit.Builder
		for _, m := range members {
			switch {
			case len(m.lit) == 0:
				s.empty = true
			case scannable(m.lit) && long >= minScannedSet:
				b.Add(m.lit)
			default:
				s.rest = append(s.rest, newFinder(m.lit))
			}
		}
		if b.Len() > 0 {
			s.long = b.Build()
		}
	}
	return s
}

func (s *stringSet) match(_ *event.Event, v *event.Value) bool {
	if !textual(v) {
		return false
	}
	b := v.Lower
	if s.cased {
		b = v.Raw
	}
	if s.op != opContains {
		return s.hasAffix(b)
	}
	if s.empty {
		return true
	}
	if s.long != nil && s.long.Any(b) {
		return true
	}
	return containsAny(b, s.rest)
}

func (s *stringSet) String() string {
	parts := make([]string, len(s.all))
	for i, m := range s.all {
		parts[i] = m.String()
	}
	return "any(" + strings.Join(parts, ", ") + ")"
}

// affixKey is the key of b in a set keyed skip bytes from b's end, or its start for prefixes;
// ok is false when b is too short to have one.
func affixKey(op strOp, b []byte, skip int) (key uint32, ok bool) {
	if len(b) < skip+4 {
		return 0, false
	}
	if op == opPrefix {
		return binary.LittleEndian.Uint32(b[skip:]), true
	}
	return binary.LittleEndian.Uint32(b[len(b)-skip-4:]), true
}

// slotOf is a key's first slot in a table of mask+1.
func slotOf(key uint32, mask int) int { return int(uint64(key)*0x9E3779B97F4A7C15>>32) & mask }

// keyMembers builds the table. The key's distance from the anchored end is chosen so that
// members rarely share a key: process names all end in ".exe" and differ just before it, so
// a suffix set of them is keyed four bytes from the end.
func (s *stringSet) keyMembers(lits [][]byte) {
	best, bestCost := 0, -1
	for skip := 0; skip <= maxKeySkip; skip++ {
		count := map[uint32]int{}
		cost := 0
		for _, l := range lits {
			if k, ok := affixKey(s.op, l, skip); ok {
				cost += 2*count[k] + 1 // the members sharing a key are compared in turn
				count[k]++
			} else {
				cost += 2 // a short member is compared on every value
			}
		}
		if bestCost < 0 || cost < bestCost {
			best, bestCost = skip, cost
		}
	}
	s.keySkip = best
	byKey := map[uint32][][]byte{}
	var keys []uint32
	for _, l := range lits {
		k, ok := affixKey(s.op, l, best)
		if !ok {
			s.short = append(s.short, l)
			continue
		}
		if _, seen := byKey[k]; !seen {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], l)
	}
	size := 1
	for size < 2*len(keys) {
		size *= 2
	}
	s.slots = make([]affixSlot, size)
	for _, k := range keys {
		i := slotOf(k, size-1)
		for s.slots[i].hi != 0 {
			i = (i + 1) & (size - 1)
		}
		lo := uint32(len(s.keyed))
		s.keyed = append(s.keyed, byKey[k]...)
		s.slots[i] = affixSlot{key: k, lo: lo, hi: uint32(len(s.keyed))}
	}
}

// hasAffix reports whether b equals, starts with or ends with (by the set's shape) a member.
func (s *stringSet) hasAffix(b []byte) bool {
	for _, l := range s.short {
		if s.fits(b, l) {
			return true
		}
	}
	key, ok := affixKey(s.op, b, s.keySkip)
	if !ok || len(s.slots) == 0 {
		return false
	}
	mask := len(s.slots) - 1
	for i := slotOf(key, mask); ; i = (i + 1) & mask {
		sl := &s.slots[i]
		if sl.hi == 0 {
			return false
		}
		if sl.key == key {
			for _, l := range s.keyed[sl.lo:sl.hi] {
				if s.fits(b, l) {
					return true
				}
			}
			return false
		}
	}
}

func (s *stringSet) fits(b, lit []byte) bool {
	switch s.op {
	case opEqual:
		return string(b) == string(lit)
	case opPrefix:
		return bytes.HasPrefix(b, lit)
	}
	return bytes.HasSuffix(b, lit)
}
