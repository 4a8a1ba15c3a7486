package event

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"unicode"
	"unicode/utf8"
)

// Kind is the JSON type of a value.
type Kind uint8

const (
	Missing Kind = iota
	Null
	String
	Number
	Bool
	Object // a referenced field holding an object: Raw is its JSON text
	Array  // a referenced field holding an empty array: Raw is "[]"
)

// Value is one value of a referenced field. Raw is the unescaped string, the number's literal
// text, "true"/"false", or the JSON text of an object. Lower is Raw case-folded (the same slice
// when folding changes nothing). Both stay valid until the Event is decoded into again.
type Value struct {
	Raw   []byte
	Lower []byte
	Kind  Kind
	Field int32 // for decoded values: the schema field it was recorded for, -1 for a value of an unreferenced key (see All)
}

// Limits bound what Decode accepts; zero fields mean the defaults.
type Limits struct {
	MaxBytes int // largest accepted event (default 1 MiB)
	MaxDepth int // deepest accepted nesting of objects and arrays (default 64)
}

const (
	defaultMaxBytes = 1 << 20
	defaultMaxDepth = 64
	maxCachedKeys   = 256
)

// Error explains why an event was rejected. Reason is a short stable label, used in metrics and
// dead-letter headers.
type Error struct {
	Reason string // invalid_json, not_object, invalid_utf8, too_large, too_deep
	Offset int
	Msg    string
}

func (e *Error) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("%s at byte %d: %s", e.Reason, e.Offset, e.Msg)
	}
	return e.Reason + ": " + e.Msg
}

// Event holds the referenced fields of one decoded event. Reuse one Event per goroutine.
type Event struct {
	Raw     []byte
	schema  *Schema
	spans   []span
	touched []int32
	vals    []Value
	all     []Value
	buf     []byte
	keyBuf  []byte
	// layouts remembers the top-level keys of recent events and their schema nodes: events of
	// one kind share a layout, so comparing a key with the remembered one usually replaces a map
	// lookup. A stream mixes a few kinds (process creations, logons, network connections), hence
	// several layouts; layout is the one the previous key matched. The names of unreferenced keys
	// are kept in keyNames.
	layouts  [maxLayouts][]cachedKey
	used     [maxLayouts]uint64 // when each layout last served an event
	events   uint64
	layout   int
	keyNames []byte
	odd      int32 // first field expected to be scalar that held an object, or -1
	// loose: the event has whitespace outside its strings, or raw control characters inside
	// them (see Compact)
	loose bool
}

type cachedKey struct {
	key    string // a referenced key: the schema's own string
	child  *node  // nil: the key is not referenced
	off, n uint32 // an unreferenced key: its name is keyNames[off:off+n] (n 0: not remembered)
	// plain: the name has no quote, backslash or control character, so a JSON string holds it
	// exactly when its bytes up to the closing quote are the name's (see nextKeyIs)
	plain bool
	// head is the name's first 8 bytes (fewer: zero-padded), tail its last 8, little-endian:
	// nextKeyIs compares names of up to 16 bytes, most keys, as two words.
	head, tail uint64
}

// keyWords returns a key's head and tail words (see cachedKey).
func keyWords(key []byte) (head, tail uint64) {
	if len(key) >= 8 {
		return binary.LittleEndian.Uint64(key), binary.LittleEndian.Uint64(key[len(key)-8:])
	}
	var b [8]byte
	copy(b[:], key)
	return binary.LittleEndian.Uint64(b[:]), 0
}

// maxKeyNames bounds Event.keyNames; when full, it is emptied and the unreferenced keys forgotten.
// A layout's unreferenced names take a few hundred bytes (2.5 kB for the generated stream's 8
// kinds, with few fields referenced), so 64 layouts fit.
const maxKeyNames = 64 << 10

// maxLayouts is how many key layouts an Event remembers: real Windows logs mix dozens of kinds
// (Sysmon's event ids, Security's, PowerShell's), and a stream of more kinds than layouts looks
// keys up in the schema's maps for most of them (a generated stream of 32 kinds took 7.4 µs per
// event with 8 layouts, 4.0 with 32 or 64; one of 8 kinds the same with 8 or 32).
const maxLayouts = 64

// is reports whether c remembers key.
func (c *cachedKey) is(ev *Event, key []byte) bool {
	if c.child != nil {
		return c.key == string(key)
	}
	return c.n > 0 && string(ev.keyNames[c.off:c.off+c.n]) == string(key)
}

// nextKeyIs reports whether the object key at d.pos is the one c remembers, comparing the raw
// bytes without scanning the string first, and if so moves past it.
func (d *decoder) nextKeyIs(c *cachedKey) bool {
	if !c.plain {
		return false
	}
	n := len(c.key)
	if c.child == nil {
		n = int(c.n)
	}
	start, end := d.pos+1, d.pos+1+n
	if end >= len(d.raw) || d.raw[end] != '"' {
		return false
	}
	switch {
	case n >= 8:
		if binary.LittleEndian.Uint64(d.raw[start:]) != c.head || binary.LittleEndian.Uint64(d.raw[end-8:]) != c.tail {
			return false
		}
		if n > 16 && !c.is(d.ev, d.raw[start:end]) {
			return false
		}
	case n > 0 && start+8 <= len(d.raw):
		// the name's n bytes, read with the ones after it and masked
		if binary.LittleEndian.Uint64(d.raw[start:])&(1<<(8*n)-1) != c.head {
			return false
		}
	case !c.is(d.ev, d.raw[start:end]):
		return false
	}
	d.pos = end + 1
	return true
}

// The layout an event follows always holds the event's keys before the current one: it starts
// as the previous event's, and is left only for a layout with the same keys up to the current
// one (otherLayout) or for one the event starts itself with those keys (rememberKey). A layout is
// written over only by an event of its own kind; another kind's event that diverges from it
// starts its own, so that a stream of several kinds keeps one layout per kind.

// otherLayout finds the key at position k of the top-level object in another remembered layout
// with the same keys before it as the one followed, and follows it.
func (ev *Event) otherLayout(k int, key []byte) (*node, bool) {
	cur := ev.layouts[ev.layout]
	for i := range ev.layouts {
		if l := ev.layouts[i]; i != ev.layout && k < len(l) && l[k].is(ev, key) && ev.samePrefix(l, cur, k) {
			ev.layout = i
			return l[k].child, true
		}
	}
	return nil, false
}

// samePrefix reports whether layouts a and b hold the same first k keys.
func (ev *Event) samePrefix(a, b []cachedKey, k int) bool {
	if len(a) < k || len(b) < k {
		return false
	}
	for i := range k {
		x, y := &a[i], &b[i]
		if x.child != y.child || x.n != y.n || x.child == nil &&
			(x.n == 0 || string(ev.keyNames[x.off:x.off+x.n]) != string(ev.keyNames[y.off:y.off+y.n])) {
			return false // a forgotten name (n 0) is taken for a difference
		}
	}
	return true
}

// rememberKey remembers key and its schema node at position k of the top-level keys of the
// layout followed, which holds the event's keys before it. If that layout has another key at k,
// and is not the one the event started (own, -1 for none) or a name forgotten there, the event
// is of another kind: it starts a layout of its own (replacing the one unused longest) with the
// keys before k.
func (ev *Event) rememberKey(k int, key []byte, child *node, own *int) {
	if l := ev.layouts[ev.layout]; k < len(l) && ev.layout != *own && !(l[k].child == nil && l[k].n == 0) {
		w := -1
		for i := range ev.used {
			if i != ev.layout && (w < 0 || ev.used[i] < ev.used[w]) {
				w = i
			}
		}
		ev.layouts[w] = append(ev.layouts[w][:0], l[:k]...)
		ev.layout = w
		*own = w
	}
	c := cachedKey{child: child, plain: plainKey(key)}
	c.head, c.tail = keyWords(key)
	switch {
	case child != nil:
		c.key = child.name // the schema's own string: no allocation
	case len(key) > 0 && len(key) <= maxKeyNames:
		if len(ev.keyNames)+len(key) > maxKeyNames {
			ev.keyNames = ev.keyNames[:0]
			for _, l := range ev.layouts {
				for i := range l {
					if l[i].child == nil {
						l[i].n = 0
					}
				}
			}
		}
		c.off, c.n = uint32(len(ev.keyNames)), uint32(len(key))
		ev.keyNames = append(ev.keyNames, key...)
	default:
		c.plain = false // not remembered
	}
	l := ev.layouts[ev.layout]
	switch {
	case k == len(l):
		l = append(l, c)
	case k < len(l):
		l[k] = c
	default:
		return // a gap: the positions before k are not this layout's
	}
	ev.layouts[ev.layout] = l
}

// plainKey reports whether key can be recognised by its raw bytes (see cachedKey.plain).
func plainKey(key []byte) bool {
	for _, c := range key {
		if c == '"' || c == '\\' || c < 0x20 {
			return false
		}
	}
	return true
}

type span struct{ lo, hi int32 }

// Values returns every value of field f (several when the event holds a list), none when absent.
func (e *Event) Values(f int) []Value {
	s := e.spans[f]
	return e.vals[s.lo:s.hi]
}

// First returns the first value of field f, or a Missing value.
func (e *Event) First(f int) Value {
	s := e.spans[f]
	if s.hi == s.lo {
		return Value{}
	}
	return e.vals[s.lo]
}

// Has reports whether field f is present (null counts as present).
func (e *Event) Has(f int) bool { s := e.spans[f]; return s.hi > s.lo }

// All returns every string, number and boolean value in the event when the schema collects them.
func (e *Event) All() []Value { return e.all }

// Compact reports whether the decoded event has no whitespace outside its strings and no raw
// control characters inside them (the decoder tolerates those; JSON does not): Raw is then
// exactly what encoding/json's Compact returns, and can be copied into alerts as it is.
func (e *Event) Compact() bool { return !e.loose }

// UnexpectedType returns the first field that the schema expects to hold scalars (see
// Schema.ExpectScalar) but that holds an object in this event.
func (e *Event) UnexpectedType() (field int, ok bool) { return int(e.odd), e.odd >= 0 }

// Schema returns the schema the event was decoded with.
func (e *Event) Schema() *Schema { return e.schema }

// Decode validates raw as one JSON object and records the fields the schema references.
func (s *Schema) Decode(raw []byte, ev *Event, lim Limits) error {
	if lim.MaxBytes == 0 {
		lim.MaxBytes = defaultMaxBytes
	}
	if lim.MaxDepth == 0 {
		lim.MaxDepth = defaultMaxDepth
	}
	ev.reset(s, raw)
	if len(raw) > lim.MaxBytes {
		return &Error{Reason: "too_large", Offset: -1, Msg: fmt.Sprintf("%d bytes, limit %d", len(raw), lim.MaxBytes)}
	}
	if !validUTF8(raw) {
		return &Error{Reason: "invalid_utf8", Offset: -1, Msg: "event is not valid UTF-8"}
	}
	d := decoder{raw: raw, ev: ev, maxDepth: lim.MaxDepth, collect: s.collectAll}
	d.ws()
	if d.pos >= len(raw) {
		return &Error{Reason: "invalid_json", Offset: d.pos, Msg: "empty event"}
	}
	if raw[d.pos] != '{' {
		if err := d.skip(0); err != nil {
			return err
		}
		return &Error{Reason: "not_object", Offset: 0, Msg: "event is JSON but not an object"}
	}
	err := d.object(s.root, 1)
	ev.events++
	ev.used[ev.layout] = ev.events
	if err != nil {
		return err
	}
	d.ws()
	if d.pos != len(raw) {
		return d.fail("unexpected data after the object")
	}
	return nil
}

func (ev *Event) reset(s *Schema, raw []byte) {
	if ev.schema != s || len(ev.spans) != len(s.names) {
		ev.schema = s
		ev.spans = make([]span, len(s.names))
		ev.touched = ev.touched[:0]
		for i := range ev.layouts {
			ev.layouts[i] = ev.layouts[i][:0]
		}
		ev.keyNames = ev.keyNames[:0]
	}
	for _, f := range ev.touched {
		ev.spans[f] = span{}
	}
	ev.touched = ev.touched[:0]
	ev.vals = ev.vals[:0]
	ev.all = ev.all[:0]
	if need := 3*len(raw) + 64; cap(ev.buf) < need {
		ev.buf = make([]byte, 0, need+need/2)
	}
	ev.buf = ev.buf[:0]
	ev.Raw = raw
	ev.odd = -1
	ev.loose = false
}

type decoder struct {
	raw      []byte
	pos      int
	ev       *Event
	maxDepth int
	collect  bool
	fold     foldHint // what str learnt of the string it last read
	err      error    // why scalar failed
}

// foldHint says whether a string has anything to case-fold, when the vector scan found out.
type foldHint uint8

const (
	foldUnknown foldHint = iota
	foldNothing          // no upper-case ASCII letter, no non-ASCII byte
	foldSome
)

func (d *decoder) fail(msg string) error {
	return &Error{Reason: "invalid_json", Offset: d.pos, Msg: msg}
}

func (d *decoder) ws() {
	for d.pos < len(d.raw) {
		switch d.raw[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
			d.ev.loose = true
		default:
			return
		}
	}
}

// object parses the object at d.pos; n (possibly nil) is the schema node its keys are looked up in.
func (d *decoder) object(n *node, depth int) error {
	if depth > d.maxDepth {
		return &Error{Reason: "too_deep", Offset: d.pos, Msg: fmt.Sprintf("nesting deeper than %d", d.maxDepth)}
	}
	d.pos++ // '{'
	d.ws()
	if d.pos < len(d.raw) && d.raw[d.pos] == '}' {
		d.pos++
		return nil
	}
	top := depth == 1
	own := -1 // the layout this object started, if any (see rememberKey)
	var layout []cachedKey
	if top {
		layout = d.ev.layouts[d.ev.layout]
	}
	for k := 0; ; k++ {
		if d.pos >= len(d.raw) || d.raw[d.pos] != '"' {
			return d.fail("expected a quoted object key")
		}
		var child *node
		var key []byte
		var err error
		known := top && k < len(layout) && d.nextKeyIs(&layout[k])
		if known {
			child = layout[k].child
		} else if key, err = d.key(); err != nil {
			return err
		}
		if p := d.pos; p+1 < len(d.raw) && d.raw[p] == ':' && d.raw[p+1] > ' ' {
			d.pos = p + 1 // compact JSON, the usual case: no whitespace to look for
		} else {
			d.ws()
			if d.pos >= len(d.raw) || d.raw[d.pos] != ':' {
				return d.fail("expected ':' after object key")
			}
			d.pos++
			d.ws()
		}
		if !known && top && k < maxCachedKeys {
			if k < len(layout) && layout[k].is(d.ev, key) {
				child, known = layout[k].child, true
			} else if child, known = d.ev.otherLayout(k, key); known {
				layout = d.ev.layouts[d.ev.layout]
			}
		}
		if !known && n != nil && n.kids != nil {
			child = n.kids[string(key)]
			if top && k < maxCachedKeys {
				d.ev.rememberKey(k, key, child, &own)
				layout = d.ev.layouts[d.ev.layout]
			}
		}
		if child == nil {
			err = d.skip(depth)
		} else {
			err = d.value(child, depth)
		}
		if err != nil {
			return err
		}
		if p := d.pos; p+1 < len(d.raw) && d.raw[p] == ',' && d.raw[p+1] == '"' {
			d.pos = p + 1 // compact JSON: the next key follows
			continue
		}
		d.ws()
		if d.pos >= len(d.raw) {
			return d.fail("unterminated object")
		}
		switch d.raw[d.pos] {
		case ',':
			d.pos++
			d.ws()
		case '}':
			d.pos++
			return nil
		default:
			return d.fail("expected ',' or '}' in object")
		}
	}
}

// key reads an object key; escaped keys are unescaped into a scratch buffer.
func (d *decoder) key() ([]byte, error) {
	s, esc, err := d.str()
	if err != nil || !esc {
		return s, err
	}
	d.ev.keyBuf, err = unescape(d.ev.keyBuf[:0], s)
	if err != nil {
		return nil, d.fail(err.Error())
	}
	return d.ev.keyBuf, nil
}

// value parses the value of a referenced key.
func (d *decoder) value(n *node, depth int) error {
	if d.pos >= len(d.raw) {
		return d.fail("missing value")
	}
	switch d.raw[d.pos] {
	case '{':
		start := d.pos
		var err error
		if n.kids != nil {
			err = d.object(n, depth+1)
		} else {
			err = d.skip(depth)
		}
		if err != nil {
			return err
		}
		if n.field >= 0 {
			d.record(n.field, d.raw[start:d.pos], d.raw[start:d.pos], Object)
			if d.ev.odd < 0 && d.ev.schema.expectsScalar(n.field) {
				d.ev.odd = int32(n.field)
			}
		}
		return nil
	case '[':
		if depth+1 > d.maxDepth {
			return &Error{Reason: "too_deep", Offset: d.pos, Msg: fmt.Sprintf("nesting deeper than %d", d.maxDepth)}
		}
		start := d.pos
		d.pos++
		d.ws()
		if d.pos < len(d.raw) && d.raw[d.pos] == ']' {
			d.pos++
			if n.field >= 0 {
				d.record(n.field, d.raw[start:d.pos], d.raw[start:d.pos], Array)
			}
			return nil
		}
		for {
			if err := d.value(n, depth+1); err != nil {
				return err
			}
			d.ws()
			if d.pos >= len(d.raw) {
				return d.fail("unterminated array")
			}
			switch d.raw[d.pos] {
			case ',':
				d.pos++
				d.ws()
			case ']':
				d.pos++
				return nil
			default:
				return d.fail("expected ',' or ']' in array")
			}
		}
	}
	raw, lower, kind, ok := d.scalar()
	if !ok {
		return d.err
	}
	if n.field >= 0 {
		d.record(n.field, raw, lower, kind)
	} else if d.collect {
		d.collectUnreferenced(raw, lower, kind)
	}
	return nil
}

// The decoder passes a value's parts (Raw, Lower, Kind) between its functions rather than a
// Value, and push writes them into their slot field by field. A Value in a result or an argument
// list with other words goes through memory, as does one built and then appended, and its copy,
// 16 bytes at a time, stalls on reading what was just written 8 bytes at a time.

// push appends a Value made of raw, lower, kind and field to *vals. It sets every field of the
// slot it takes, which may hold an earlier event's value: a field added to Value must be set here.
func push(vals *[]Value, raw, lower []byte, kind Kind, field int32) {
	s := *vals
	if len(s) < cap(s) {
		s = s[:len(s)+1]
	} else {
		s = append(s, Value{})
	}
	v := &s[len(s)-1]
	v.Raw, v.Lower, v.Kind, v.Field = raw, lower, kind, field
	*vals = s
}

// collectUnreferenced keeps, for keyword searches (see All), a value of a key no field names.
func (d *decoder) collectUnreferenced(raw, lower []byte, kind Kind) {
	push(&d.ev.all, raw, lower, kind, -1)
}

// record stores a value of field f, keeping each field's values contiguous in vals.
func (d *decoder) record(f int, raw, lower []byte, kind Kind) {
	ev := d.ev
	s := ev.spans[f]
	switch {
	case s.hi == s.lo:
		ev.touched = append(ev.touched, int32(f))
		s.lo = int32(len(ev.vals))
	case int(s.hi) != len(ev.vals):
		// Another field was recorded since (duplicate key, list of objects): move this field's
		// values to the end so they stay contiguous.
		lo := int32(len(ev.vals))
		ev.vals = append(ev.vals, ev.vals[s.lo:s.hi]...)
		s.lo, s.hi = lo, int32(len(ev.vals))
	}
	push(&ev.vals, raw, lower, kind, int32(f))
	s.hi = int32(len(ev.vals))
	ev.spans[f] = s
	if d.collect && kind != Object && kind != Null && kind != Array {
		push(&ev.all, raw, lower, kind, int32(f))
	}
}

// scalar parses a string, number, true, false or null into a value's parts; when it cannot, ok
// is false and d.err says why (an error result would not leave room in the result registers).
func (d *decoder) scalar() (raw, lower []byte, kind Kind, ok bool) {
	switch c := d.raw[d.pos]; {
	case c == '"':
		s, esc, err := d.str()
		if err != nil {
			d.err = err
			return nil, nil, 0, false
		}
		if esc {
			if raw, lower, ok := d.unescapeVector(s); ok {
				return raw, lower, String, true
			}
			start := len(d.ev.buf)
			d.ev.buf, err = unescape(d.ev.buf, s)
			if err != nil {
				d.err = d.fail(err.Error())
				return nil, nil, 0, false
			}
			s = d.ev.buf[start:len(d.ev.buf):len(d.ev.buf)]
		}
		return s, d.lowerString(s), String, true
	case c == 't':
		return d.literal("true", Bool)
	case c == 'f':
		return d.literal("false", Bool)
	case c == 'n':
		return d.literal("null", Null)
	case c == '-' || (c >= '0' && c <= '9'):
		start := d.pos
		if err := d.number(); err != nil {
			d.err = err
			return nil, nil, 0, false
		}
		n := d.raw[start:d.pos]
		return n, n, Number, true
	}
	d.err = d.fail("unexpected character")
	return nil, nil, 0, false
}

func (d *decoder) literal(word string, k Kind) (raw, lower []byte, kind Kind, ok bool) {
	end := d.pos + len(word)
	if end > len(d.raw) || string(d.raw[d.pos:end]) != word {
		d.err = d.fail("invalid literal")
		return nil, nil, 0, false
	}
	v := d.raw[d.pos:end]
	d.pos = end
	return v, v, k, true
}

// str reads a string at d.pos and returns its raw content (escapes not yet processed). One pass
// looks for the closing quote and backslashes together: Windows paths are full of escapes.
func (d *decoder) str() (s []byte, escaped bool, err error) {
	raw := d.raw
	start := d.pos + 1
	if s, escaped, ok := d.strVector(start); ok {
		return s, escaped, nil
	}
	d.fold = foldUnknown
	for p := start; ; p++ {
		// Skip ordinary bytes 8 at a time; the word may run past the string's end (never past
		// raw's), which is harmless since it stops at the first quote, backslash or control
		// character.
		for p+8 <= len(raw) {
			x := binary.LittleEndian.Uint64(raw[p:])
			if m := zeroMask(x^(ones*'"')) | zeroMask(x^(ones*'\\')) | belowMask(x, 0x20); m != 0 {
				p += bits.TrailingZeros64(m) >> 3
				break
			}
			p += 8
		}
		if p >= len(raw) {
			break
		}
		c := raw[p]
		if c != '"' && c != '\\' {
			if c < 0x20 {
				d.ev.loose = true
			}
			continue
		}
		if c == '"' {
			d.pos = p + 1
			return raw[start:p], escaped, nil
		}
		escaped = true
		p++
		if p >= len(raw) {
			break
		}
		switch raw[p] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if p+5 > len(raw) || !isHex4(raw[p+1:p+5]) {
				d.pos = p
				return nil, false, d.fail(`invalid \u escape`)
			}
			p += 4
		default:
			d.pos = p
			return nil, false, d.fail("invalid escape character")
		}
	}
	d.pos = len(raw)
	return nil, false, d.fail("unterminated string")
}

func (d *decoder) number() error {
	raw, p := d.raw, d.pos
	if p < len(raw) && raw[p] == '-' {
		p++
	}
	switch {
	case p < len(raw) && raw[p] == '0':
		p++
	case p < len(raw) && raw[p] >= '1' && raw[p] <= '9':
		for p < len(raw) && raw[p] >= '0' && raw[p] <= '9' {
			p++
		}
	default:
		d.pos = p
		return d.fail("invalid number")
	}
	if p < len(raw) && raw[p] == '.' {
		p++
		q := p
		for p < len(raw) && raw[p] >= '0' && raw[p] <= '9' {
			p++
		}
		if p == q {
			d.pos = p
			return d.fail("invalid number: no digits after '.'")
		}
	}
	if p < len(raw) && (raw[p] == 'e' || raw[p] == 'E') {
		p++
		if p < len(raw) && (raw[p] == '+' || raw[p] == '-') {
			p++
		}
		q := p
		for p < len(raw) && raw[p] >= '0' && raw[p] <= '9' {
			p++
		}
		if p == q {
			d.pos = p
			return d.fail("invalid number: no exponent digits")
		}
	}
	d.pos = p
	return nil
}

// skip validates and passes over a value no rule references (collecting scalars for keyword
// searches when asked).
func (d *decoder) skip(depth int) error {
	if d.pos >= len(d.raw) {
		return d.fail("missing value")
	}
	switch d.raw[d.pos] {
	case '{':
		return d.object(nil, depth+1)
	case '[':
		if depth+1 > d.maxDepth {
			return &Error{Reason: "too_deep", Offset: d.pos, Msg: fmt.Sprintf("nesting deeper than %d", d.maxDepth)}
		}
		d.pos++
		d.ws()
		if d.pos < len(d.raw) && d.raw[d.pos] == ']' {
			d.pos++
			return nil
		}
		for {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.ws()
			if d.pos >= len(d.raw) {
				return d.fail("unterminated array")
			}
			switch d.raw[d.pos] {
			case ',':
				d.pos++
				d.ws()
			case ']':
				d.pos++
				return nil
			default:
				return d.fail("expected ',' or ']' in array")
			}
		}
	case '"':
		if d.collect {
			raw, lower, kind, ok := d.scalar()
			if !ok {
				return d.err
			}
			d.collectUnreferenced(raw, lower, kind)
			return nil
		}
		_, _, err := d.str()
		return err
	}
	raw, lower, kind, ok := d.scalar()
	if !ok {
		return d.err
	}
	if d.collect && kind != Null {
		d.collectUnreferenced(raw, lower, kind)
	}
	return nil
}

// lowerString returns the string str last read, s once unescaped, case-folded.
func (d *decoder) lowerString(s []byte) []byte {
	switch d.fold {
	case foldNothing:
		return s
	case foldSome:
		if lower, ok := d.lowerVector(s); ok {
			return lower
		}
	}
	return d.lower(s)
}

// lower returns s case-folded, appending to the event buffer only when something changes.
func (d *decoder) lower(s []byte) []byte {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		if m := upperMask(x) | x&highs; m != 0 {
			return d.appendLower(s, i+bits.TrailingZeros64(m)>>3)
		}
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || (c >= 'A' && c <= 'Z') {
			break
		}
	}
	if i == len(s) {
		return s
	}
	return d.appendLower(s, i)
}

func (d *decoder) appendLower(s []byte, from int) []byte {
	buf := d.ev.buf
	start := len(buf)
	// ASCII, the common case, is folded in place in one grown slice, 8 bytes at a time; the first
	// non-ASCII byte switches to rune-wise folding for the rest.
	buf = append(buf, s...)
	out := buf[start:]
	i := from
	for i+8 <= len(s) {
		x := binary.LittleEndian.Uint64(s[i:])
		// Folding leaves non-ASCII bytes alone, so the word is written whole; bytes from the first
		// non-ASCII one on are rewritten rune-wise below.
		binary.LittleEndian.PutUint64(out[i:], foldASCII(x))
		if n := x & highs; n != 0 {
			i += bits.TrailingZeros64(n) >> 3
			break
		}
		i += 8
	}
	for ; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			break
		}
		out[i] = lowerASCII[c]
	}
	if i < len(s) {
		buf = buf[:start+i]
		for i < len(s) {
			if i+8 <= len(s) {
				if x := binary.LittleEndian.Uint64(s[i:]); x&highs == 0 {
					buf = binary.LittleEndian.AppendUint64(buf, foldASCII(x))
					i += 8
					continue
				}
			}
			c := s[i]
			if c < 0x80 {
				buf = append(buf, lowerASCII[c])
				i++
				continue
			}
			r, n := utf8.DecodeRune(s[i:])
			buf = utf8.AppendRune(buf, foldRune(r))
			i += n
		}
	}
	d.ev.buf = buf
	return buf[start:len(buf):len(buf)]
}

// Word-at-a-time (SWAR) helpers over 8 bytes read little-endian: byte k of the word is s[i+k],
// so the lowest flagged byte is the first one in the text.
const (
	ones  uint64 = 0x0101010101010101
	highs uint64 = 0x8080808080808080
)

// zeroMask flags (high bit) the first zero byte of x exactly; flags above it may be false
// positives from the borrow, which is fine as only the first is used.
func zeroMask(x uint64) uint64 { return (x - ones) &^ x & highs }

// belowMask flags (high bit) the first byte of x below b (b <= 0x80) exactly, like zeroMask.
func belowMask(x uint64, b byte) uint64 { return (x - ones*uint64(b)) &^ x & highs }

// upperMask flags (high bit) exactly the bytes of x in 'A'..'Z'. It compares the low 7 bits of
// each byte, where adding cannot carry into the next byte, then drops non-ASCII bytes.
func upperMask(x uint64) uint64 {
	a := x &^ highs
	return (a + ones*(0x80-'A')) &^ (a + ones*(0x80-'Z'-1)) &^ x & highs
}

// foldASCII lower-cases the ASCII letters of x: 'a'-'A' is 0x20, the flag shifted down by 2.
func foldASCII(x uint64) uint64 { return x | upperMask(x)>>2 }

var lowerASCII = func() (t [128]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			t[i] = byte(i) + 'a' - 'A'
		}
	}
	return t
}()

// foldRune maps a rune to one representative of its case-folding orbit (the lower case of the
// orbit's smallest member), so that values equal under Unicode simple case folding, such as
// "ſ" and "s" or the Kelvin sign and "k", fold alike, as regular expressions' (?i) treats them.
func foldRune(r rune) rune {
	if r >= 0 && r < rune(len(foldedRunes)) {
		return rune(foldedRunes[r])
	}
	return foldOrbit(r)
}

// foldedRunes holds foldRune of the Latin, Greek and Cyrillic runes, which Windows events hold
// (® in every Microsoft product name), so that folding them skips the Unicode tables' searches.
var foldedRunes = func() (t [0x530]uint16) {
	for r := range t {
		f := foldOrbit(rune(r))
		if f > 0xFFFF {
			panic("event: a folded rune does not fit foldedRunes")
		}
		t[r] = uint16(f)
	}
	return t
}()

// foldOrbit is foldRune computed from the Unicode tables.
func foldOrbit(r rune) rune {
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < min {
			min = f
		}
	}
	return unicode.ToLower(min)
}

// Fold returns s case-folded the way Decode folds event values, for rule literals.
func Fold(s string) string {
	var d decoder
	d.ev = &Event{}
	return string(d.lower([]byte(s)))
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func hexVal(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		default:
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// unescape appends the JSON string content s (already validated by str) with escapes processed.
func unescape(dst, s []byte) ([]byte, error) {
	for i := 0; i < len(s); {
		// Ordinary bytes go 8 at a time while dst has room for a whole word: the word is written
		// whole and dst grows by the bytes before the first backslash in it. Windows paths have
		// a backslash every few bytes, too often for a call to find each.
		for i+8 <= len(s) && cap(dst)-len(dst) >= 8 {
			x := binary.LittleEndian.Uint64(s[i:])
			n := 8
			if m := zeroMask(x ^ (ones * '\\')); m != 0 {
				n = bits.TrailingZeros64(m) >> 3
			}
			binary.LittleEndian.PutUint64(dst[len(dst):len(dst)+8], x)
			dst = dst[:len(dst)+n]
			i += n
			if n < 8 {
				break
			}
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		i++
		switch s[i] {
		case '"', '\\', '/':
			dst = append(dst, s[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hexVal(s[i+1 : i+5])
			i += 4
			if r >= 0xD800 && r < 0xDC00 && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' && isHex4(s[i+3:i+7]) {
				if lo := hexVal(s[i+3 : i+7]); lo >= 0xDC00 && lo < 0xE000 {
					r = (r-0xD800)<<10 | (lo - 0xDC00) + 0x10000
					i += 6
				}
			}
			if r >= 0xD800 && r < 0xE000 {
				r = utf8.RuneError // an unpaired surrogate
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, fmt.Errorf("invalid escape character %q", s[i])
		}
		i++
	}
	return dst, nil
}
