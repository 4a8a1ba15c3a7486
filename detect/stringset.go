package detect

import (
	"slices"
	"strings"

	"github.com/vigil-detect/vigil/event"
	"github.com/vigil-detect/vigil/internal/multilit"
)

// stringSet matches any of many plain values of one shape (equal, prefix, suffix or contains) in
// one pass instead of one comparison per value: a hash lookup for equality, one lookup per
// distinct length for prefixes and suffixes, and for substrings the index's literal scanner (the
// values too short for it, or too few to be worth one, are searched for one by one). Rules often
// list dozens of values (process names, command-line fragments).
type stringSet struct {
	op    strOp
	cased bool
	exact map[string]struct{} // opEqual
	byLen []lengthSet         // opPrefix, opSuffix: ascending length
	long  *multilit.Matcher   // opContains: the values the scanner takes, when many
	rest  []finder            // opContains: the other values, each searched for alone
	empty bool                // opContains: an empty value matches everything
	all   []*strMatcher       // the members, for explain and the index
}

type lengthSet struct {
	n   int
	set map[string]struct{}
}

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
	case opEqual:
		s.exact = map[string]struct{}{}
		for _, m := range members {
			s.exact[string(m.lit)] = struct{}{}
		}
	case opPrefix, opSuffix:
		idx := map[int]int{}
		for _, m := range members {
			n := len(m.lit)
			i, ok := idx[n]
			if !ok {
				i = len(s.byLen)
				idx[n] = i
				s.byLen = append(s.byLen, lengthSet{n: n, set: map[string]struct{}{}})
			}
			s.byLen[i].set[string(m.lit)] = struct{}{}
		}
		slices.SortFunc(s.byLen, func(a, b lengthSet) int { return a.n - b.n })
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
	switch s.op {
	case opEqual:
		_, ok := s.exact[string(b)]
		return ok
	case opPrefix:
		for _, l := range s.byLen {
			if l.n > len(b) {
				break
			}
			if _, ok := l.set[string(b[:l.n])]; ok {
				return true
			}
		}
		return false
	case opSuffix:
		for _, l := range s.byLen {
			if l.n > len(b) {
				break
			}
			if _, ok := l.set[string(b[len(b)-l.n:])]; ok {
				return true
			}
		}
		return false
	}
	if s.empty {
		return true
	}
	if s.long != nil {
		found := false
		s.long.Scan(b, func(int) { found = true })
		if found {
			return true
		}
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
