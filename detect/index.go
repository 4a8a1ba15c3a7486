package detect

import (
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/vigil-detect/vigil/event"
	"github.com/vigil-detect/vigil/internal/bytebits"
	"github.com/vigil-detect/vigil/internal/multilit"
	"github.com/vigil-detect/vigil/internal/parallel"
)

// The candidate index: for each rule, clauses of (field, literal) atoms such that any event the
// rule matches has, for every clause, one of the clause's literals in the named field
// (case-folded). One multi-literal scan per indexed value finds every atom present; only rules
// whose clauses are all satisfied, plus the rules no clause could be derived for, are evaluated.
// Requiring every clause (not just one) is what keeps rules such as "Image ends with
// \powershell.exe and CommandLine contains -enc" from being evaluated on every PowerShell event.
// Literals too short to search for (1-2 bytes: "^^", "#0", a Cyrillic letter) leave their
// rarest byte as an atom, numeric equality (EventID: 4624) an integer atom, and a field's mere
// presence is an atom of last resort.

// maxIndexLiteral bounds the literals the index searches for.
const maxIndexLiteral = 256

type atom struct {
	field  int    // an event field, or allValues
	lit    string // "": the field is present; one byte: the byte occurs in the field
	number bool   // lit is an integer (decimal) some value of the field equals
}

// allValues stands for every value of the event (keyword searches). Keyword searches of routes
// for other products than the main one, and of rules that run only on unrecognised events
// (webserver, database), use apartValues instead: kept apart, they cost the main product's
// events nothing (see buildIndex).
const (
	allValues   = -1
	apartValues = -2
)

// clause is a disjunction of atoms.
type clause []atom

// maxClauses bounds the clauses kept per rule (the cheapest ones). A variant's clauses are bits
// of a byte (index.clauseBit): the conversion below stops the build if it grows past 8.
const maxClauses = 4

const _ = uint8(1 << (maxClauses - 1))

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
	// Beyond the cheapest clause, one that nearly every event meets (".exe", "\\windows\\")
	// filters nothing and only costs work on every event.
	keep := 1
	for keep < len(cs) && keep < maxClauses && clauseCost(cs[keep]) < commonClauseCost {
		keep++
	}
	return cs[:min(keep, len(cs))]
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
// literals are likelier, and fragments of text found in most Windows events likelier still.
func clauseCost(c clause) float64 {
	cost := 0.0
	for _, a := range c {
		if a.number {
			cost += numberChance
		} else {
			cost += literalChance(a.lit)
		}
	}
	return cost
}

// numberChance: one integer value of a field (EventID 4624 among a channel's events).
const numberChance = 0.1

// literalChance estimates how often an atom holds by chance in an event of its route. Presence
// is taken as certain, so that any literal, however common, is preferred to it.
func literalChance(lit string) float64 {
	switch {
	case lit == "":
		return 1
	case len(lit) == 1:
		return byteChance(lit[0])
	case containedIn(ubiquitousText, lit):
		return 0.9
	case containedIn(frequentText, lit):
		return 0.25
	}
	return 1 / float64(len(lit)*len(lit))
}

// byteChance: letters, digits and the punctuation of paths and command lines are everywhere;
// other ASCII punctuation (^ ` # > | ;) is rarer, and non-ASCII bytes rarer still in Windows logs.
func byteChance(b byte) float64 {
	switch {
	case b >= 0x80:
		return 0.05
	case b >= 'a' && b <= 'z', b >= '0' && b <= '9', strings.IndexByte(` \/.:-_"',()=`, b) >= 0:
		return 0.9
	}
	return 0.2
}

// commonClauseCost marks a clause as met by most events: one common fragment, or many short
// literals.
const commonClauseCost = 0.5

// ubiquitousText holds text that appears in most Windows process, file and logon events, and
// frequentText text that appears in many: a literal found inside either says little about an
// event. (Folded, as index literals are.)
var (
	ubiquitousText = []string{
		`c:\windows\syswow64\`, `c:\program files (x86)\`, `c:\program files\`, `c:\programdata\`,
		`c:\users\public\`, `\appdata\local\temp\`, `\appdata\roaming\microsoft\windows\`,
		`\device\harddiskvolume`, `microsoft corporation`, `microsoft® windows® operating system`,
		`nt authority\system`, `nt authority\local service`, `nt authority\network service`,
		`.exe" `, `.dll,`, `https://www.`, `http://`, `high`, `medium`, `system`, `user`,
		`\windows\system32\`,
	}
	frequentText = []string{
		`"c:\windows\system32\cmd.exe" /c `, `c:\windows\system32\windowspowershell\v1.0\powershell.exe`,
		`c:\windows\explorer.exe`, `c:\windows\system32\svchost.exe -k netsvcs -p -s `,
		`conhost.exe 0xffffffff -forcev1`, `rundll32.exe`,
	}
)

func containedIn(texts []string, lit string) bool {
	for _, t := range texts {
		if strings.Contains(t, lit) {
			return true
		}
	}
	return false
}

// rarestByte returns the byte of lit least likely to occur by chance, as a one-byte literal.
func rarestByte(lit string) string {
	best := 0
	for i := 1; i < len(lit); i++ {
		if byteChance(lit[i]) < byteChance(lit[best]) {
			best = i
		}
	}
	return lit[best : best+1]
}

func (f *fieldMatcher) clauses() []clause {
	if cs := f.literalClauses(); cs != nil {
		return cs
	}
	// No literal, but the item still needs its field present: rules for other kinds of events
	// (proxy rules on Windows events, say) are then skipped without being evaluated.
	if f.keyword || f.kind == fieldNull || f.kind == fieldMissing || len(f.fields) == 0 {
		return nil
	}
	c := make(clause, len(f.fields))
	for i, fi := range f.fields {
		c[i] = atom{field: fi} // an empty literal: the field is present
	}
	return []clause{c}
}

func (f *fieldMatcher) literalClauses() []clause {
	if f.kind != fieldValues || f.neq || len(f.vals) == 0 {
		return nil
	}
	fields := f.fields
	if f.keyword {
		fields = []int{allValues}
	}
	atomsOf := func(atoms []atom) clause {
		var c clause
		for _, fi := range fields {
			for _, a := range atoms {
				a.field = fi
				if !a.number {
					// Any part of a required literal is required too: a bounded prefix keeps the
					// automaton small for rules with huge values.
					if len(a.lit) > maxIndexLiteral {
						a.lit = a.lit[:maxIndexLiteral]
					}
					if len(a.lit) < minIndexLiteral {
						a.lit = rarestByte(a.lit) // too short to search for: one of its bytes must occur
					}
				}
				c = append(c, a)
			}
		}
		return c
	}
	var cs []clause
	var union []atom
	for _, vm := range f.vals {
		atoms, ok := valueAtoms(vm)
		switch {
		case f.all && ok:
			cs = append(cs, atomsOf(atoms)) // every value must match: one clause each
		case f.all:
			// this value gives no atom; the others still must match
		case !ok:
			return nil
		default:
			union = append(union, atoms...)
		}
	}
	if !f.all {
		cs = []clause{atomsOf(union)}
	}
	return cs
}

// valueAtoms returns atoms (their field left unset) one of which a value matching vm meets:
// folded literals it contains, or for an integer equality the integer. Other numeric equality
// gives none: 1e6 matches 1000000 without sharing its text. A value an integer equality matches
// reads as that integer, or is not written as a plain decimal (see fieldCheck and candidates).
func valueAtoms(vm valueMatcher) ([]atom, bool) {
	switch m := vm.(type) {
	case *numEqual:
		n, err := strconv.ParseInt(m.integer, 10, 64)
		if err != nil || n > maxExactFloat || n < -maxExactFloat {
			return nil, false // not an integer, or one a float may equal without being it
		}
		return []atom{{lit: m.integer, number: true}}, true
	case *strMatcher:
		var lit string
		if m.op != opAnyValue {
			lit = string(m.lit) // for globs, the longest literal piece
		}
		if m.cased {
			lit = foldString(lit)
		}
		if lit == "" {
			return nil, false
		}
		return []atom{{lit: lit}}, true
	case *regexMatcher:
		var out []atom
		if len(m.index) > 0 {
			for _, l := range m.index {
				out = append(out, atom{lit: l})
			}
			return out, true
		}
		if len(m.required) == 0 {
			return nil, false
		}
		for _, l := range m.required[0] { // the most selective set
			out = append(out, atom{lit: string(l.lit)})
		}
		return out, true
	case *stringSet:
		return unionOfAtoms(m.all)
	case anyOf:
		return unionOfAtoms(m)
	}
	return nil, false
}

// unionOfAtoms is what any of vms gives: every one's atoms, none when one gives none.
func unionOfAtoms[M valueMatcher](vms []M) ([]atom, bool) {
	var out []atom
	for _, x := range vms {
		a, ok := valueAtoms(x)
		if !ok {
			return nil, false
		}
		out = append(out, a...)
	}
	return out, true
}

// maxExactFloat is 2^53: integers up to it compare as floats exactly as they do as integers.
const maxExactFloat = 1 << 53

// index is the engine's candidate index over the variants of every route. Each field is scanned
// at most once per event, however many of the event's routes index it.
type index struct {
	fields    []fieldIndex
	narrow    *narrowing
	fieldPos  []int32 // event field → its position in fields, or -1
	allPos    int32   // position of the allValues index, or -1
	apartPos  int32   // position of the apartValues index, or -1
	checks    []fieldCheck
	varRef    []varRef // global variant → its route and position there
	clauseVar []int32  // clause → global variant
	// A variant's clauses are bits 0..3 of a mask (maxClauses): an event's hits OR them in, and
	// the variant is a candidate once all are in. Hitting a clause twice sets its bit twice, so
	// no per-clause state needs clearing between events.
	clauseBit []uint8 // clause → its bit in its variant's mask
	varFull   []uint8 // global variant → the mask with all its clauses
}

type varRef struct {
	route int32 // position in Engine.routes
	local int32 // position in the route's variants
}

// fieldCheck is an event field whose presence, or whose holding one of some integers, satisfies
// clauses.
type fieldCheck struct {
	field   int
	present []int32           // clauses the field's presence satisfies
	numbers map[int64][]int32 // clauses a value equal to the integer satisfies
	anyNum  []int32           // every clause in numbers
}

type fieldIndex struct {
	field       int               // event field, or allValues
	lits        *multilit.Matcher // nil: no literal of three bytes or more
	clauseStart []int32           // clauses of literal l: clauses[clauseStart[l]:clauseStart[l+1]]
	clauses     []clauseRef
	bytes       []byteAtom
	byteBit     *[256]uint8 // byte → its atom's bit in a byteSet (0: no atom); nil without atoms
	narrowed    bool        // restricted to the event's routes: every clause is of one of them
}

// clauseRef is a clause as its variant (ix.clauseVar's entry), the variant's route and the
// clause's bit (ix.clauseBit's entry), kept together: a literal's clauses are mostly of other
// routes than the event's, and those are passed over without touching the per-variant state.
type clauseRef struct {
	variant, route int32
	bit            uint8
}

// byteAtom: clauses that a byte occurring in the field satisfies (the trace of a literal too
// short to search for, such as "^^" or a Cyrillic letter).
type byteAtom struct {
	b       byte
	clauses []int32
}

// byteSet holds which of a field's byte atoms occur in its values: bit i+1 for bytes[i], bit 63
// shared by the 63rd atom and any after it (marking them all when one occurs only costs
// evaluations), bit 0 for bytes that are no atom. A register, not a 256-bit set: building it
// is one table load and one OR per byte (64 bytes at a time with AVX-512, see bytebits).
type byteSet uint64

// atomBit is the bit of the i-th byte atom in a byteSet.
func atomBit(i int) byteSet { return 1 << min(i+1, 63) }

// scans reports whether text is worth scanning for the field's literals: it has some, and text
// is not one their scanner passes over at once.
func (fi *fieldIndex) scans(text []byte) bool {
	return fi.lits != nil && !fi.lits.PassesOver(text)
}

// addByteAtom adds b as the field's next byte atom, satisfying clauses, with its bit (atomBit).
func (fi *fieldIndex) addByteAtom(b byte, clauses []int32) {
	if fi.byteBit == nil {
		fi.byteBit = new([256]uint8)
	}
	fi.byteBit[b] = uint8(min(len(fi.bytes)+1, 63))
	fi.bytes = append(fi.bytes, byteAtom{b: b, clauses: clauses})
}

// byteAtoms returns the byte atoms occurring in text.
func (fi *fieldIndex) byteAtoms(text []byte) byteSet {
	return byteSet(bytebits.Union(text, fi.byteBit))
}

// buildIndex indexes the variants of routes (each route's id is its position). Variants without
// clauses, or all of them when disabled, go to their route's always list.
func buildIndex(routes []*route, disabled bool) *index {
	ix := &index{narrow: &narrowing{sets: map[string]*narrowSet{}, after: narrowAfter, max: maxNarrowed}}
	type fieldLits struct {
		ids     map[string]int
		lits    []string
		clauses [][]int32
		bytes   map[byte][]int32 // one-byte atoms
	}
	byField := map[int]*fieldLits{}
	checks := map[int]int32{} // field → position in ix.checks
	main := mainProduct(routes)
	for ri, r := range routes {
		r.always = r.always[:0]
		r.checks = r.checks[:0]
		routeFields := map[int]bool{}
		for vi, v := range r.variants {
			cs := required(v.cond)
			if disabled || len(cs) == 0 {
				r.always = append(r.always, int32(vi))
				continue
			}
			gv := int32(len(ix.varRef))
			ix.varRef = append(ix.varRef, varRef{route: int32(ri), local: int32(vi)})
			ix.varFull = append(ix.varFull, uint8(1<<len(cs)-1))
			for k, c := range cs {
				ci := int32(len(ix.clauseVar))
				ix.clauseVar = append(ix.clauseVar, gv)
				ix.clauseBit = append(ix.clauseBit, 1<<k)
				seen := map[atom]bool{}
				for _, a := range c {
					if seen[a] {
						continue
					}
					seen[a] = true
					if a.lit == "" || a.number {
						pi, ok := checks[a.field]
						if !ok {
							pi = int32(len(ix.checks))
							checks[a.field] = pi
							ix.checks = append(ix.checks, fieldCheck{field: a.field})
						}
						fc := &ix.checks[pi]
						if a.number {
							n, _ := strconv.ParseInt(a.lit, 10, 64)
							if fc.numbers == nil {
								fc.numbers = map[int64][]int32{}
							}
							fc.numbers[n] = append(fc.numbers[n], ci)
							fc.anyNum = append(fc.anyNum, ci)
						} else {
							fc.present = append(fc.present, ci)
						}
						if !slices.Contains(r.checks, pi) {
							r.checks = append(r.checks, pi)
						}
						continue
					}
					field := a.field
					if field == allValues && !mergesKeywords(r, main) {
						field = apartValues
					}
					routeFields[field] = true
					fl := byField[field]
					if fl == nil {
						fl = &fieldLits{ids: map[string]int{}, bytes: map[byte][]int32{}}
						byField[field] = fl
					}
					if len(a.lit) == 1 {
						fl.bytes[a.lit[0]] = append(fl.bytes[a.lit[0]], ci)
						continue
					}
					id, ok := fl.ids[a.lit]
					if !ok {
						id = len(fl.lits)
						fl.ids[a.lit] = id
						fl.lits = append(fl.lits, a.lit)
						fl.clauses = append(fl.clauses, nil)
					}
					fl.clauses[id] = append(fl.clauses[id], ci)
				}
			}
		}
		r.fieldSet = routeFields
	}
	// With keyword searches every value is scanned anyway: the keyword atoms are merged into
	// each field's index, so that scanning every value once, each with the index of its own
	// field, finds all atoms (see candidates).
	if kw := byField[allValues]; kw != nil {
		for f, fl := range byField {
			if f < 0 {
				continue
			}
			for id, lit := range kw.lits {
				fid, ok := fl.ids[lit]
				if !ok {
					fid = len(fl.lits)
					fl.ids[lit] = fid
					fl.lits = append(fl.lits, lit)
					fl.clauses = append(fl.clauses, nil)
				}
				fl.clauses[fid] = append(fl.clauses[fid], kw.clauses[id]...)
			}
			for b, cs := range kw.bytes {
				fl.bytes[b] = append(fl.bytes[b], cs...)
			}
		}
	}
	ix.allPos, ix.apartPos = -1, -1
	pos := map[int]int32{}
	// The literal matchers are built last, on every core: with the SigmaHQ corpus they are half
	// of compiling.
	type pending struct {
		pos int // in ix.fields
		b   multilit.Builder
	}
	var builds []pending
	for _, f := range slices.Sorted(maps.Keys(byField)) {
		fl := byField[f]
		var b multilit.Builder
		fi := fieldIndex{field: f}
		for id, lit := range fl.lits {
			b.Add([]byte(lit))
			fi.clauseStart = append(fi.clauseStart, int32(len(fi.clauses)))
			for _, c := range fl.clauses[id] {
				v := ix.clauseVar[c]
				fi.clauses = append(fi.clauses, clauseRef{v, ix.varRef[v].route, ix.clauseBit[c]})
			}
		}
		fi.clauseStart = append(fi.clauseStart, int32(len(fi.clauses)))
		if b.Len() > 0 {
			builds = append(builds, pending{len(ix.fields), b})
		}
		for c := range 256 {
			if cs := fl.bytes[byte(c)]; cs != nil {
				fi.addByteAtom(byte(c), cs)
			}
		}
		pos[f] = int32(len(ix.fields))
		switch f {
		case allValues:
			ix.allPos = pos[f]
		case apartValues:
			ix.apartPos = pos[f]
		default:
			for len(ix.fieldPos) <= f {
				ix.fieldPos = append(ix.fieldPos, -1)
			}
			ix.fieldPos[f] = pos[f]
		}
		ix.fields = append(ix.fields, fi)
	}
	parallel.Each(len(builds), func(i int) { ix.fields[builds[i].pos].lits = builds[i].b.Build() })
	for _, r := range routes {
		r.fields = r.fields[:0]
		for f := range r.fieldSet {
			r.fields = append(r.fields, pos[f])
		}
		slices.Sort(r.fields)
		r.fieldSet = nil
		r.keywords = ix.allPos >= 0 && slices.Contains(r.fields, ix.allPos)
		r.apartFields = nil
		if ix.apartPos >= 0 && slices.Contains(r.fields, ix.apartPos) {
			r.apartFields = []int32{ix.apartPos}
		}
	}
	return ix
}

// mainProduct is the product most logsource entries with rules name ("" when none names one).
func mainProduct(routes []*route) string {
	count := map[string]int{}
	for _, r := range routes {
		if r.src != nil && r.product != "" {
			count[r.product]++
		}
	}
	main := ""
	for _, p := range slices.Sorted(maps.Keys(count)) {
		if count[p] > count[main] {
			main = p
		}
	}
	return main
}

// mergesKeywords reports whether r's keyword atoms go into every field's index. Those of the
// main product's routes and of routes for any product do: the main product's events, the ones
// the entries are about, then scan each value once. Other products' keyword atoms would only
// swell those scans (SigmaHQ has some 500 Linux, Cisco and webserver keywords, against 20 for
// Windows), so they are kept apart, in an index scanned only when one of their routes runs.
func mergesKeywords(r *route, main string) bool {
	if r.unrecognisedOnly {
		return false
	}
	return main == "" || r.product == "" || r.product == main
}

// plainInteger reads b as a decimal integer without sign or leading zero troubles: -?[0-9]+ of
// magnitude up to maxExactFloat. Anything else is not read (ok false).
func plainInteger(b []byte) (n int64, ok bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 16 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if n > maxExactFloat {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// bitset is a set of small integers.
type bitset []uint64

func (b bitset) set(i int32)      { b[i>>6] |= 1 << (uint(i) & 63) }
func (b bitset) has(i int32) bool { return b[i>>6]&(1<<(uint(i)&63)) != 0 }

// scratch is a Matcher's per-event index state.
type scratch struct {
	fieldOn bitset
	checkOn bitset
	varHits []uint8 // global variant → the bits of its clauses hit so far (see index.clauseBit)
	touched []int32
	cands   []int32
	noCache bool
	// value caches: [0] for the full index, [id] for a narrowed one (see narrow.go)
	caches []valueCache
	recent []recentSet // route sets seen lately (see fieldsFor)
	clock  uint64      // events seen
	keyBuf []byte      // a route set's key, while looking it up
}

// mark records that a clause of variant v, its bit in the variant's mask, holds.
func (s *scratch) mark(v int32, bit uint8) {
	h := s.varHits[v]
	if h == 0 {
		s.touched = append(s.touched, v)
	}
	s.varHits[v] = h | bit
}

// markAll is mark for each of clauses, in one loop: a common literal holds dozens.
func (s *scratch) markAll(clauses []clauseRef) {
	varHits, touched := s.varHits, s.touched
	for _, c := range clauses {
		h := varHits[c.variant]
		if h == 0 {
			touched = append(touched, c.variant)
		}
		varHits[c.variant] = h | c.bit
	}
	s.touched = touched
}

// cacheFor returns the value cache of the index with the given narrowing id.
func (s *scratch) cacheFor(id, fields int) *valueCache {
	for len(s.caches) <= id {
		s.caches = append(s.caches, valueCache{})
	}
	c := &s.caches[id]
	if c.fields == nil {
		*c = newValueCache(fields)
	}
	return c
}

func newScratch(ix *index) scratch {
	return scratch{
		fieldOn: make(bitset, (len(ix.fields)+63)/64),
		checkOn: make(bitset, (len(ix.checks)+63)/64),
		varHits: make([]uint8, len(ix.varRef)),
	}
}

// candidates returns the global variants, of routes marked in routeOn, whose clauses all hold in
// ev, in no particular order (a rule's result does not depend on it). It scans each field the
// active routes index once.
func (ix *index) candidates(ev *event.Event, active []*route, routeOn bitset, s *scratch) []int32 {
	fields, cache := ix.fieldsFor(routeOn, s)
	s.touched = s.touched[:0]
	clear(s.fieldOn)
	mark := func(c int32) { s.mark(ix.clauseVar[c], ix.clauseBit[c]) }
	hit := func(p int, fi *fieldIndex) {
		clauses := fi.clauses[fi.clauseStart[p]:fi.clauseStart[p+1]]
		if fi.narrowed {
			s.markAll(clauses)
			return
		}
		for _, c := range clauses {
			if routeOn.has(c.route) {
				s.mark(c.variant, c.bit)
			}
		}
	}
	// scan looks for fields[pos]'s atoms in v; scanned is fields[pos].scans(v.Lower).
	scan := func(pos int32, v *event.Value, scanned bool, present *byteSet) {
		fi := &fields[pos]
		var fc *fieldCache // non-nil: remember what this value holds
		var sl *cacheSlot
		var h uint64
		// A value the scan would pass over at once (a GUID, a time, an id shorter than every
		// literal) is not worth hashing for the cache either.
		if !s.noCache && (scanned || fi.byteBit != nil) {
			var found bool
			if fc, sl, h, found = cache.lookup(pos, v.Lower); found {
				for _, p := range sl.lits[:sl.nlits] {
					hit(int(p), fi)
				}
				*present |= sl.present
				return
			}
		}
		cache.lits = cache.lits[:0]
		if scanned {
			if fc != nil {
				fi.lits.Scan(v.Lower, func(p int) {
					cache.lits = append(cache.lits, int32(p))
					hit(p, fi)
				})
			} else {
				fi.lits.Scan(v.Lower, func(p int) { hit(p, fi) })
			}
		}
		var mine byteSet // the byte atoms of this value
		if fi.byteBit != nil {
			mine = fi.byteAtoms(v.Lower)
			*present |= mine
		}
		if fc != nil {
			fc.remember(sl, h, v.Lower, cache.lits, mine)
		}
	}
	markBytes := func(fi *fieldIndex, present byteSet) {
		for i, ba := range fi.bytes {
			if present&atomBit(i) != 0 {
				for _, c := range ba.clauses {
					mark(c)
				}
			}
		}
	}
	keywords := false
	for _, r := range active {
		keywords = keywords || r.keywords
	}
	if keywords {
		// Every value once, with the index of its field (which holds the keyword atoms too).
		for j, vals := 0, ev.All(); j < len(vals); j++ {
			v := &vals[j]
			if !textual(v) {
				continue
			}
			pos := ix.allPos
			if int(v.Field) >= 0 && int(v.Field) < len(ix.fieldPos) && ix.fieldPos[v.Field] >= 0 {
				pos = ix.fieldPos[v.Field]
			}
			fi := &fields[pos]
			scanned := fi.scans(v.Lower)
			if !scanned && fi.byteBit == nil {
				continue // nothing to find: most of the values only keywords are searched in
			}
			var present byteSet
			scan(pos, v, scanned, &present)
			markBytes(fi, present)
		}
	}
	for _, r := range active {
		routeFields := r.fields
		if keywords {
			// every field was scanned above, but for the apart keywords'
			routeFields = r.apartFields
		}
		for _, f := range routeFields {
			if s.fieldOn.has(f) {
				continue // scanned already
			}
			s.fieldOn.set(f)
			fi := &fields[f]
			var present byteSet // byte atoms occurring in the field
			var vals []event.Value
			if fi.field == apartValues {
				vals = ev.All()
			} else {
				vals = ev.Values(fi.field)
			}
			for j := range vals {
				if v := &vals[j]; textual(v) {
					scan(f, v, fi.scans(v.Lower), &present)
				}
			}
			markBytes(fi, present)
		}
	}
	clear(s.checkOn)
	for _, r := range active {
		for _, p := range r.checks {
			if s.checkOn.has(p) {
				continue
			}
			s.checkOn.set(p)
			fc := &ix.checks[p]
			vals := ev.Values(fc.field)
			if len(vals) > 0 {
				for _, c := range fc.present {
					mark(c)
				}
			}
			for j := 0; j < len(vals) && fc.anyNum != nil; j++ {
				v := &vals[j]
				if !textual(v) {
					continue
				}
				n, ok := plainInteger(v.Raw)
				if !ok {
					// 0x1c, 28.0, 2.8e1: numEqual may still find it equal
					for _, c := range fc.anyNum {
						mark(c)
					}
					continue
				}
				for _, c := range fc.numbers[n] {
					mark(c)
				}
			}
		}
	}
	s.cands = s.cands[:0]
	for _, v := range s.touched {
		if s.varHits[v] == ix.varFull[v] && routeOn.has(ix.varRef[v].route) {
			s.cands = append(s.cands, v)
		}
		s.varHits[v] = 0
	}
	return s.cands
}
