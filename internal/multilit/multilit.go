// Package multilit finds which of many literal byte strings occur in a text.
//
// Each literal is anchored on one of its q-byte substrings (q = 4, or 3 for 3-byte literals),
// the one fewest other literals share. A scan slides over the text testing each window against a
// small bitmap of anchors (at most 32 KiB, so it stays in cache, unlike an Aho-Corasick table
// over thousands of literals), and only on a hit looks the window up and verifies the literals
// anchored there. On amd64 with AVX-512 the bitmap tests run 16 windows at a time. Scanning
// allocates nothing.
package multilit

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
	"unsafe"
)

// MinLen and MaxLen bound the literals accepted.
const (
	MinLen = 3
	MaxLen = 1<<16 - 1
)

// A bitmap has about bitsPerAnchor bits per anchor (a window of ordinary text then rarely hits
// it), from one word up to 2^maxBitmapBits bits (32 KiB).
const (
	bitsPerAnchor = 64
	maxBitmapBits = 18
)

// Builder collects literals.
type Builder struct {
	lits [][]byte
}

// Add registers a literal (at least MinLen bytes) and returns its id; ids are dense, in order.
// The builder keeps lit until Build: it must not change before then.
func (b *Builder) Add(lit []byte) int {
	if len(lit) < MinLen || len(lit) > MaxLen {
		panic("multilit: literal shorter than MinLen or longer than MaxLen")
	}
	b.lits = append(b.lits, lit)
	return len(b.lits) - 1
}

// Len is the number of literals added.
func (b *Builder) Len() int { return len(b.lits) }

// Matcher is an immutable compiled literal set, safe for concurrent use.
type Matcher struct {
	q4, q3 table
	lits   []litRef // by id: where the literal's bytes are (the tables hold the only copy)
	// numericMin is the length of the shortest literal made of numericBytes only (MaxLen+1
	// without one): a shorter text of those bytes alone (a GUID, a number, a hex value, a time)
	// holds no literal and is not scanned.
	numericMin int
	minLen     int // the shortest literal's length: a shorter text holds none
}

// numericBytes are the bytes of numbers, hex digits, GUIDs and times (case-folded): events are
// full of such values, and literals rarely consist of them.
var numericBytes = func() (t [256]bool) {
	for _, c := range []byte("0123456789abcdef-:.{}xtz+/ ") {
		t[c] = true
	}
	return t
}()

// allNumeric reports whether text is made of numericBytes only. Eight table loads are ANDed
// before one branch: GUIDs and times are read to the end, and a branch per byte cost more than
// the loads.
func allNumeric(text []byte) bool {
	i := 0
	for ; i+8 <= len(text); i += 8 {
		t := text[i : i+8 : i+8]
		if !(numericBytes[t[0]] && numericBytes[t[1]] && numericBytes[t[2]] && numericBytes[t[3]] &&
			numericBytes[t[4]] && numericBytes[t[5]] && numericBytes[t[6]] && numericBytes[t[7]]) {
			return false
		}
	}
	for _, c := range text[i:] {
		if !numericBytes[c] {
			return false
		}
	}
	return true
}

type litRef struct {
	short    bool // in q3's data, else q4's
	start, n uint32
}

// table indexes the literals anchored on grams of one length.
type table struct {
	q       int
	bitmap  []uint64
	mask    uint32 // bits in bitmap - 1
	slots   []slot // open addressing on the gram
	entries []entry
	data    []byte // literal bytes, in entry order
}

// slot lists the literals anchored on one gram, entries[start:end]; end == 0 marks a free slot.
// It holds a copy of the first entry, so that verifying a gram with one literal (the usual case)
// reads the slot and, only when the check word agrees, the literal's bytes. 32 bytes: in a table
// that starts on a cache line, no slot straddles two.
type slot struct {
	gram       uint32
	start, end int32
	first      entry
}

// entry is one literal anchored on a gram.
type entry struct {
	id    int32
	start uint32 // the literal is data[start:start+n]
	// check is the literal's four bytes after the anchor (before it when the literal ends
	// within four bytes of it; checkAt says where, relative to the anchor): comparing them with
	// the text rejects most windows where only the gram matches without reading data. Literals
	// of three bytes have none.
	check   uint32
	n       uint16
	offset  uint16 // where the anchor sits in the literal
	checkAt int8
	// covered: the anchor and the check word span the whole literal (one of up to eight bytes,
	// the usual length of an image name or a flag), so it occurs where they agree, and its bytes
	// in data need not be read
	covered bool
}

func gram(b []byte, i, q int) uint32 {
	g := uint32(b[i])<<16 | uint32(b[i+1])<<8 | uint32(b[i+2])
	if q == 4 {
		g = g<<8 | uint32(b[i+3])
	}
	return g
}

// bit is g's bit in a bitmap of mask+1 bits: the top bits of a 32-bit multiplicative hash, which
// depend on every byte of the gram (filter_amd64.s computes the same, 16 grams at a time). A mask
// rather than a variable shift keeps the scan loops free of the shift-count register and of Go's
// oversized-shift guard.
func bit(g, mask uint32) uint32 {
	return g * 0x9E3779B1 >> (32 - maxBitmapBits) & mask
}

// home is a gram's first slot: its hash's top bits scaled to the table's size (the low bits of a
// multiplicative hash depend on the gram's last bytes only, and cluster).
func (t *table) home(g uint32) uint32 {
	return uint32(uint64(g*0x85EBCA6B) * uint64(len(t.slots)) >> 32)
}

// next is the slot after i, wrapping around.
func (t *table) next(i uint32) uint32 {
	if i++; int(i) == len(t.slots) {
		return 0
	}
	return i
}

// Build compiles the literals.
func (b *Builder) Build() *Matcher {
	m := &Matcher{lits: make([]litRef, len(b.lits))}
	var long, short []int
	for id, l := range b.lits {
		if len(l) >= 4 {
			long = append(long, id)
		} else {
			short = append(short, id)
		}
	}
	m.q4 = b.table(4, long)
	m.q3 = b.table(3, short)
	m.numericMin, m.minLen = MaxLen+1, MaxLen+1
	for _, l := range b.lits {
		if len(l) < m.numericMin && allNumeric(l) {
			m.numericMin = len(l)
		}
		m.minLen = min(m.minLen, len(l))
	}
	for _, t := range []*table{&m.q4, &m.q3} {
		for _, e := range t.entries {
			m.lits[e.id] = litRef{short: t.q == 3, start: e.start, n: uint32(e.n)}
		}
	}
	return m
}

func (b *Builder) table(q int, ids []int) table {
	t := table{q: q, bitmap: make([]uint64, 1), mask: 1<<6 - 1, slots: make([]slot, 1)}
	if len(ids) == 0 {
		return t // an empty bitmap: Scan tests it without a branch
	}
	// How many literals contain each gram: a gram many literals share is likely common in text.
	var grams []uint32
	for _, id := range ids {
		grams = appendGrams(grams, b.lits[id], q)
	}
	slices.Sort(grams)
	shared := make(map[uint32]int32, len(grams)/2)
	for i := 0; i < len(grams); {
		j := i + 1
		for j < len(grams) && grams[j] == grams[i] {
			j++
		}
		shared[grams[i]] = int32(j - i)
		i = j
	}
	type anchored struct {
		gram uint32
		e    entry
	}
	anchors := make([]anchored, 0, len(ids))
	for _, id := range ids {
		l := b.lits[id]
		best, bestOff, bestCost := uint32(0), -1, int32(0)
		for i := 0; i+q <= len(l); i++ {
			g := gram(l, i, q)
			cost := shared[g]
			if hexGram(l[i : i+q]) {
				cost *= hexWeight
			}
			if bestOff < 0 || cost < bestCost {
				best, bestOff, bestCost = g, i, cost
			}
		}
		anchors = append(anchors, anchored{best, entry{id: int32(id), offset: uint16(bestOff), n: uint16(len(l))}})
	}
	slices.SortStableFunc(anchors, func(a, b anchored) int { return cmp.Compare(a.gram, b.gram) })
	distinct := 0
	for i := range anchors {
		if i == 0 || anchors[i].gram != anchors[i-1].gram {
			distinct++
		}
	}
	size := distinct + distinct/2 + 1 // at most two thirds full
	bits := 6
	for bits < maxBitmapBits && 1<<bits < bitsPerAnchor*distinct {
		bits++
	}
	t.bitmap = make([]uint64, 1<<bits/64)
	t.mask = 1<<bits - 1
	t.slots = make([]slot, size)
	t.entries = make([]entry, 0, len(anchors))
	for i := 0; i < len(anchors); {
		g := anchors[i].gram
		h := bit(g, t.mask)
		t.bitmap[h>>6] |= 1 << (h & 63)
		s := slot{gram: g, start: int32(len(t.entries))}
		for ; i < len(anchors) && anchors[i].gram == g; i++ {
			e := anchors[i].e
			e.start = uint32(len(t.data))
			l := b.lits[e.id]
			t.data = append(t.data, l...)
			if len(l) >= 4 {
				e.checkAt = int8(q) // after the anchor
				if int(e.offset)+q+4 > len(l) {
					e.checkAt = -4 // before it
					if e.offset < 4 {
						e.checkAt = -int8(e.offset) // the literal's first four bytes
					}
				}
				e.check = binary.LittleEndian.Uint32(l[int(e.offset)+int(e.checkAt):])
			}
			e.covered = spans(len(l), int(e.offset), q, int(e.offset)+int(e.checkAt))
			t.entries = append(t.entries, e)
		}
		s.end = int32(len(t.entries))
		s.first = t.entries[s.start]
		k := t.home(g)
		for t.slots[k].end != 0 {
			k = t.next(k)
		}
		t.slots[k] = s
	}
	return t
}

// hexWeight is how much likelier than others a gram of hex digits is taken to be in text: hashes,
// GUIDs, addresses and times are full of them, so a literal such as "md5=9d87..." is better
// anchored on "=9d8" than on a gram of its digits, which hash values in events hit at random.
const hexWeight = 64

func hexGram(g []byte) bool {
	for _, c := range g {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// appendGrams appends the distinct q-grams of l to dst.
func appendGrams(dst []uint32, l []byte, q int) []uint32 {
	from := len(dst)
	for i := 0; i+q <= len(l); i++ {
		dst = append(dst, gram(l, i, q))
	}
	mine := dst[from:]
	slices.Sort(mine)
	return dst[:from+len(slices.Compact(mine))]
}

// Literals is the number of literals compiled in.
func (m *Matcher) Literals() int { return len(m.lits) }

// Scan calls hit with the id of every literal occurring in text, once per occurrence.
func (m *Matcher) Scan(text []byte, hit func(id int)) {
	m.scan(text, hit, nil)
}

// Any reports whether a literal occurs in text, stopping at the first found: in a long text (a
// script block) that holds one early, most of the text is not read.
func (m *Matcher) Any(text []byte) bool {
	found := false
	m.scan(text, func(int) { found = true }, &found)
	return found
}

// scan is Scan, stopping once *stop (when not nil) is true after a hit.
func (m *Matcher) scan(text []byte, hit func(id int), stop *bool) {
	if m.PassesOver(text) || m.scanVector(text, hit, stop) {
		return
	}
	m.scanLoops(text, hit, stop)
}

// stopped reports whether a scan is to stop (see scan).
func stopped(stop *bool) bool { return stop != nil && *stop }

// PassesOver reports whether text cannot hold a literal for its length and bytes alone (shorter
// than every literal, or numeric and shorter than every numeric literal): Scan then returns at
// once.
func (m *Matcher) PassesOver(text []byte) bool {
	return len(text) < m.minLen || len(text) < m.numericMin && allNumeric(text)
}

// scanLoops is scan in plain Go, testing one window at a time.
func (m *Matcher) scanLoops(text []byte, hit func(id int), stop *bool) {
	switch {
	case m.q3.entries == nil:
		m.scan4(text, hit, stop)
	case m.q4.entries == nil || len(text) < 4:
		m.scan3(text, hit, stop)
	default:
		m.scan43(text, hit, stop)
	}
}

// The scan loops read bitmap words through a pointer: a bit index is masked below the bitmap's
// size (table.mask), so the word is always in it, and without the bounds checks and the slices'
// lengths the loops' values fit in registers.

// word returns the bitmap word holding bit h (h <= mask).
func word(bitmap unsafe.Pointer, h uint32) uint64 {
	return *(*uint64)(unsafe.Add(bitmap, uintptr(h>>6)*8))
}

// scan4 tests every 4-byte window of text.
func (m *Matcher) scan4(text []byte, hit func(id int), stop *bool) {
	if m.q4.entries == nil || len(text) < 4 {
		return
	}
	bitmap, mask := unsafe.Pointer(&m.q4.bitmap[0]), m.q4.mask
	g := uint32(text[0])<<16 | uint32(text[1])<<8 | uint32(text[2])
	for i := 3; i < len(text); i++ {
		g = g<<8 | uint32(text[i])
		if h := bit(g, mask); word(bitmap, h)&(1<<(h&63)) != 0 {
			if m.verify(&m.q4, text, i-3, g, hit); stopped(stop) {
				return
			}
		}
	}
}

// scan3 tests every 3-byte window of text.
func (m *Matcher) scan3(text []byte, hit func(id int), stop *bool) {
	bitmap, mask := unsafe.Pointer(&m.q3.bitmap[0]), m.q3.mask
	g := uint32(text[0])<<8 | uint32(text[1])
	for i := 2; i < len(text); i++ {
		g = (g<<8 | uint32(text[i])) & 0xFFFFFF
		if h := bit(g, mask); word(bitmap, h)&(1<<(h&63)) != 0 {
			if m.verify(&m.q3, text, i-2, g, hit); stopped(stop) {
				return
			}
		}
	}
}

// scan43 tests the 3- and 4-byte windows starting at each position in one pass over text (at
// least four bytes): the 3-byte gram is the 4-byte one's first three bytes.
func (m *Matcher) scan43(text []byte, hit func(id int), stop *bool) {
	b4, m4 := unsafe.Pointer(&m.q4.bitmap[0]), m.q4.mask
	b3, m3 := unsafe.Pointer(&m.q3.bitmap[0]), m.q3.mask
	g := uint32(text[0])<<16 | uint32(text[1])<<8 | uint32(text[2]) // text[i-3:i]
	for i := 3; i < len(text); i++ {
		if h := bit(g, m3); word(b3, h)&(1<<(h&63)) != 0 {
			if m.verify(&m.q3, text, i-3, g, hit); stopped(stop) {
				return
			}
		}
		g = g<<8 | uint32(text[i])
		if h := bit(g, m4); word(b4, h)&(1<<(h&63)) != 0 {
			if m.verify(&m.q4, text, i-3, g, hit); stopped(stop) {
				return
			}
		}
		g &= 0xFFFFFF
	}
	if h := bit(g, m3); word(b3, h)&(1<<(h&63)) != 0 {
		m.verify(&m.q3, text, len(text)-3, g, hit)
	}
}

// verify reports the literals anchored on gram g, which occurs in text at pos.
func (m *Matcher) verify(t *table, text []byte, pos int, g uint32, hit func(id int)) {
	for i := t.home(g); t.slots[i].end != 0; i = t.next(i) {
		s := &t.slots[i]
		if s.gram != g {
			continue
		}
		t.try(&s.first, text, pos, hit)
		for i := s.start + 1; i < s.end; i++ {
			t.try(&t.entries[i], text, pos, hit)
		}
		return
	}
}

// try reports e's literal if it occurs in text with its anchor at pos.
func (t *table) try(e *entry, text []byte, pos int, hit func(id int)) {
	start := pos - int(e.offset)
	if start < 0 || start+int(e.n) > len(text) {
		return
	}
	if e.n >= 4 && binary.LittleEndian.Uint32(text[pos+int(e.checkAt):]) != e.check {
		return
	}
	if e.covered || bytes.Equal(text[start:start+int(e.n)], t.data[e.start:e.start+uint32(e.n)]) {
		hit(int(e.id))
	}
}

// spans reports whether a literal of n bytes is covered by its anchor (q bytes at offset) and,
// for literals of four bytes or more, its check word (four bytes at check).
func spans(n, offset, q, check int) bool {
	lo, hi := offset, offset+q
	if n >= 4 {
		if check+4 < lo || check > hi {
			return false // a gap between the two
		}
		lo, hi = min(lo, check), max(hi, check+4)
	}
	return lo == 0 && hi == n
}

// Literal returns the literal with the given id.
func (m *Matcher) Literal(id int) string {
	r, t := m.lits[id], &m.q4
	if r.short {
		t = &m.q3
	}
	return string(t.data[r.start : r.start+r.n])
}
