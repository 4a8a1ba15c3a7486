package detect

import (
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/vigil-detect/vigil/internal/multilit"
)

// Narrowed indexes. A field's literal index serves every route that reads the field: Image holds
// the literals of process, file, registry, network and image-load rules alike, Hashes the hashes
// of process and driver rules, and the keyword literals of every Windows log are merged into
// every Windows field. An event runs a few routes, so much of what a scan of the full index finds
// belongs to rules the event does not run, and the larger literal sets cost bitmap hits and cache
// misses. Once a Matcher has seen narrowAfter events with one set of active routes, a copy of the
// index restricted to those routes' literals is built in the background, and serves that set
// from then on. For the set's routes it finds every clause the full index finds, so matches do
// not change.

const (
	narrowAfter   = 256 // events of one route set seen before its narrowed index is asked for
	maxNarrowed   = 32  // route sets narrowed per engine; events of others use the full index
	maxRecentSets = 16  // route sets a Matcher remembers
)

// narrowing holds an index's narrowed copies, by route set.
type narrowing struct {
	mu    sync.Mutex
	sets  map[string]*narrowSet
	after int  // narrowAfter (tests set others)
	max   int  // maxNarrowed (likewise)
	sync  bool // build on the asking goroutine (tests)
	// building counts the builds under way
	building sync.WaitGroup
}

// narrowSet is one set of active routes and, once built, its narrowed index.
type narrowSet struct {
	id     int    // 1, 2, ...: the Matcher's value cache for the set (0 is the full index's)
	key    bitset // the routes
	fields atomic.Pointer[[]fieldIndex]
	asked  atomic.Bool  // its build has started (or it is never to be built)
	seen   atomic.Int64 // events of the set that Matchers counted and then forgot the set
}

// recentSet is a route set a Matcher has seen recently.
type recentSet struct {
	set    *narrowSet
	events int    // of the set this Matcher has seen since it took the set in
	used   uint64 // scratch.clock when last seen
}

// set returns the narrowing entry for the routes in routeOn, creating it if there is room.
func (n *narrowing) set(routeOn bitset, key []byte) *narrowSet {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s := n.sets[string(key)]; s != nil {
		return s
	}
	s := &narrowSet{key: append(bitset(nil), routeOn...)}
	if len(n.sets) >= n.max {
		s.asked.Store(true) // not kept: never built
		return s
	}
	s.id = len(n.sets) + 1
	n.sets[string(key)] = s
	return s
}

// narrowingKey encodes routeOn as a map key into buf.
func narrowingKey(buf []byte, routeOn bitset) []byte {
	buf = buf[:0]
	for _, w := range routeOn {
		buf = binary.LittleEndian.AppendUint64(buf, w)
	}
	return buf
}

// fieldsFor returns the field indexes and the value cache serving an event whose active routes
// are routeOn: the set's narrowed index once it is built, else the full one.
func (ix *index) fieldsFor(routeOn bitset, s *scratch) ([]fieldIndex, *valueCache) {
	if len(ix.fields) == 0 {
		return ix.fields, s.cacheFor(0, 0)
	}
	s.clock++
	var r *recentSet
	for i := range s.recent {
		if slices.Equal(s.recent[i].set.key, routeOn) {
			r = &s.recent[i]
			break
		}
	}
	if r == nil {
		s.keyBuf = narrowingKey(s.keyBuf, routeOn)
		set := ix.narrow.set(routeOn, s.keyBuf)
		if len(s.recent) < maxRecentSets {
			s.recent = append(s.recent, recentSet{})
			r = &s.recent[len(s.recent)-1]
		} else {
			r = &s.recent[0]
			for i := range s.recent {
				if s.recent[i].used < r.used {
					r = &s.recent[i]
				}
			}
			// A stream of more kinds than a Matcher remembers still gets them narrowed.
			r.set.seen.Add(int64(r.events))
		}
		*r = recentSet{set: set}
	}
	r.used = s.clock
	if f := r.set.fields.Load(); f != nil {
		return *f, s.cacheFor(r.set.id, len(ix.fields))
	}
	if r.events++; r.events >= ix.narrow.after-int(r.set.seen.Load()) && !r.set.asked.Swap(true) {
		set := r.set // not r: the Matcher reuses its entries
		if ix.narrow.sync {
			ix.build(set)
			return *set.fields.Load(), s.cacheFor(set.id, len(ix.fields))
		}
		ix.narrow.building.Go(func() { ix.build(set) })
	}
	return ix.fields, s.cacheFor(0, len(ix.fields))
}

func (ix *index) build(set *narrowSet) {
	f := ix.narrowed(set.key)
	set.fields.Store(&f)
}

// narrowed returns the field indexes restricted to the literals and byte atoms with a clause of
// a route in routeOn (positions as in ix.fields; the fields none of them reads are left empty).
// Even a field whose literals nearly all qualify (CommandLine in process creations) is rebuilt:
// its clause lists lose the other routes' entries, which measured 1% of an event.
func (ix *index) narrowed(routeOn bitset) []fieldIndex {
	out := make([]fieldIndex, len(ix.fields))
	for pos := range ix.fields {
		fi := &ix.fields[pos]
		nf := fieldIndex{field: fi.field, narrowed: true}
		if fi.lits != nil {
			var b multilit.Builder
			for l := 0; l < fi.lits.Literals(); l++ {
				start := len(nf.clauses)
				for _, c := range fi.clauses[fi.clauseStart[l]:fi.clauseStart[l+1]] {
					if routeOn.has(c.route) {
						nf.clauses = append(nf.clauses, c)
					}
				}
				if len(nf.clauses) > start {
					nf.clauseStart = append(nf.clauseStart, int32(start))
					b.Add([]byte(fi.lits.Literal(l)))
				}
			}
			nf.clauseStart = append(nf.clauseStart, int32(len(nf.clauses)))
			if b.Len() > 0 {
				nf.lits = b.Build()
			}
		}
		for _, ba := range fi.bytes {
			var cs []int32
			for _, c := range ba.clauses {
				if routeOn.has(ix.varRef[ix.clauseVar[c]].route) {
					cs = append(cs, c)
				}
			}
			if cs != nil {
				nf.addByteAtom(ba.b, cs)
			}
		}
		out[pos] = nf
	}
	return out
}
