package detect

import (
	"slices"
	"sort"

	"github.com/vigil-detect/vigil/event"
	"github.com/vigil-detect/vigil/internal/ahocorasick"
)

// The candidate index: for each rule, clauses of (field, literal) atoms such that any event the
// rule matches has, for every clause, one of the clause's literals in the named field
// (case-folded). One Aho-Corasick scan per indexed field finds every atom present; only rules
// whose clauses are all satisfied, plus the rules no clause could be derived for, are evaluated.
// Requiring every clause (not just one) is what keeps rules such as "Image ends with
// \powershell.exe and CommandLine contains -enc" from being evaluated on every PowerShell event.

type atom struct {
	field int // an event field, or allValues
	lit   string
}

// allValues stands for every value of the event (keyword searches).
const allValues = -1

// clause is a disjunction of atoms.
type clause []atom

// maxClauses bounds the clauses kept per rule (the cheapest ones).
const maxClauses = 4

// required derives the clauses a condition tree implies (their conjunction); none means the rule
// must be evaluated on every event of its route.
func required(n node) []clause {
	var cs []clause
	switch n := n.(type) {
	case *searchNode:
		return required(n.x)
	case andNode:
		for _, x := range n {
			cs = append(cs, required(x)...)
		}
	case orNode:
		// Each branch contributes its cheapest clause; their union is implied by the OR.
		var union clause
		for _, x := range n {
			sub := required(x)
			if len(sub) == 0 {
				return nil
			}
			union = append(union, cheapest(sub)...)
		}
		cs = []clause{union}
	case *fieldMatcher:
		cs = n.clauses()
	default:
		return nil // not: nothing is required of a negation
	}
	sort.SliceStable(cs, func(i, j int) bool { return clauseCost(cs[i]) < clauseCost(cs[j]) })
	if len(cs) > maxClauses {
		cs = cs[:maxClauses]
	}
	return cs
}

func cheapest(cs []clause) clause {
	best := cs[0]
	for _, c := range cs[1:] {
		if clauseCost(c) < clauseCost(best) {
			best = c
		}
	}
	return best
}

// clauseCost estimates how often a clause holds by chance: each literal is a chance, short
// literals are likelier.
func clauseCost(c clause) float64 {
	cost := 0.0
	for _, a := range c {
		cost += 1 / float64(len(a.lit)*len(a.lit))
	}
	return cost
}

func (f *fieldMatcher) clauses() []clause {
	if f.kind != fieldValues || f.neq || len(f.vals) == 0 {
		return nil
	}
	fields := f.fields
	if f.keyword {
		fields = []int{allValues}
	}
	atomsOf := func(lits []string) clause {
		var c clause
		for _, fi := range fields {
			for _, l := range lits {
				c = append(c, atom{field: fi, lit: l})
			}
		}
		return c
	}
	var cs []clause
	var union []string
	for _, vm := range f.vals {
		lits, ok := valueLiterals(vm)
		switch {
		case f.all && ok:
			cs = append(cs, atomsOf(lits)) // every value must match: one clause each
		case f.all:
			// this value gives no literal; the others still must match
		case !ok:
			return nil
		default:
			union = append(union, lits...)
		}
	}
	if !f.all {
		cs = []clause{atomsOf(union)}
	}
	return cs
}

// valueLiterals returns folded literals one of which a value matching vm contains. Numeric
// equality gives none: 1e6 matches 1000000 without sharing its text.
func valueLiterals(vm valueMatcher) ([]string, bool) {
	switch m := vm.(type) {
	case *strMatcher:
		var lit string
		if m.op == opGlob {
			for _, p := range m.glob {
				if len(p.lit) > len(lit) {
					lit = string(p.lit)
				}
			}
		} else if m.op != opAnyValue {
			lit = string(m.lit)
		}
		if m.cased {
			lit = foldString(lit)
		}
		if len(lit) < minIndexLiteral {
			return nil, false
		}
		return []string{lit}, true
	case *regexMatcher:
		if len(m.required) == 0 {
			return nil, false
		}
		out := make([]string, len(m.required))
		for i, r := range m.required {
			out[i] = string(r)
		}
		return out, true
	case anyOf:
		var out []string
		for _, x := range m {
			l, ok := valueLiterals(x)
			if !ok {
				return nil, false
			}
			out = append(out, l...)
		}
		return out, true
	}
	return nil, false
}

// index is one route's candidate index.
type index struct {
	fields     []fieldIndex
	always     []int32 // variants evaluated on every event of the route
	clauseVar  []int32 // clause → its variant
	varClauses []uint8 // variant → number of clauses
	nvar       int
}

type fieldIndex struct {
	field       int
	ac          *ahocorasick.Automaton
	clauseStart []int32 // clauses of pattern p: clauses[clauseStart[p]:clauseStart[p+1]]
	clauses     []int32
}

func buildIndex(variants []variant, disabled bool) *index {
	ix := &index{nvar: len(variants), varClauses: make([]uint8, len(variants))}
	type fieldPatterns struct {
		ids     map[string]int
		clauses [][]int32
	}
	byField := map[int]*fieldPatterns{}
	var lits = map[int][]string{}
	for vi, v := range variants {
		cs := required(v.cond)
		if disabled || len(cs) == 0 {
			ix.always = append(ix.always, int32(vi))
			continue
		}
		ix.varClauses[vi] = uint8(len(cs))
		for _, c := range cs {
			ci := int32(len(ix.clauseVar))
			ix.clauseVar = append(ix.clauseVar, int32(vi))
			seen := map[atom]bool{}
			for _, a := range c {
				if seen[a] {
					continue
				}
				seen[a] = true
				fp := byField[a.field]
				if fp == nil {
					fp = &fieldPatterns{ids: map[string]int{}}
					byField[a.field] = fp
				}
				id, ok := fp.ids[a.lit]
				if !ok {
					id = len(fp.clauses)
					fp.ids[a.lit] = id
					fp.clauses = append(fp.clauses, nil)
					lits[a.field] = append(lits[a.field], a.lit)
				}
				fp.clauses[id] = append(fp.clauses[id], ci)
			}
		}
	}
	fields := make([]int, 0, len(byField))
	for f := range byField {
		fields = append(fields, f)
	}
	sort.Ints(fields)
	for _, f := range fields {
		fp := byField[f]
		var b ahocorasick.Builder
		fi := fieldIndex{field: f}
		for id, lit := range lits[f] {
			b.Add([]byte(lit))
			fi.clauseStart = append(fi.clauseStart, int32(len(fi.clauses)))
			fi.clauses = append(fi.clauses, fp.clauses[id]...)
		}
		fi.clauseStart = append(fi.clauseStart, int32(len(fi.clauses)))
		fi.ac = b.Build()
		ix.fields = append(ix.fields, fi)
	}
	return ix
}

// bitset is a set of small integers.
type bitset []uint64

func (b bitset) set(i int32)      { b[i>>6] |= 1 << (uint(i) & 63) }
func (b bitset) has(i int32) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }

// scratch is a Matcher's per-event index state, sized for the largest route.
type scratch struct {
	clauseHit bitset
	varHits   []uint8
	touched   []int32
	cands     []int32
}

func newScratch(maxClauses, maxVariants int) scratch {
	return scratch{
		clauseHit: make(bitset, (maxClauses+63)/64),
		varHits:   make([]uint8, maxVariants),
	}
}

// candidates returns the variants of ix whose clauses all hold in ev, ascending.
func (ix *index) candidates(ev *event.Event, s *scratch) []int32 {
	s.touched = s.touched[:0]
	hit := func(p int, fi *fieldIndex) {
		for _, c := range fi.clauses[fi.clauseStart[p]:fi.clauseStart[p+1]] {
			if s.clauseHit.has(c) {
				continue
			}
			s.clauseHit.set(c)
			v := ix.clauseVar[c]
			if s.varHits[v] == 0 {
				s.touched = append(s.touched, v)
			}
			s.varHits[v]++
		}
	}
	for i := range ix.fields {
		fi := &ix.fields[i]
		var vals []event.Value
		if fi.field == allValues {
			vals = ev.All()
		} else {
			vals = ev.Values(fi.field)
		}
		for j := range vals {
			if v := &vals[j]; textual(v) {
				fi.ac.Scan(v.Lower, func(p int) { hit(p, fi) })
			}
		}
	}
	s.cands = s.cands[:0]
	for _, v := range s.touched {
		if s.varHits[v] == ix.varClauses[v] {
			s.cands = append(s.cands, v)
		}
		s.varHits[v] = 0
	}
	clear(s.clauseHit[:(len(ix.clauseVar)+63)/64])
	slices.Sort(s.cands)
	return s.cands
}
