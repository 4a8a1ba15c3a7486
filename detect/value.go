package detect

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"fmt"
	"math/big"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/vigil-detect/vigil/event"
	"github.com/vigil-detect/vigil/rules"
)

func foldString(s string) string { return event.Fold(s) }

// valueMatcher tests one event value against one compiled rule value.
type valueMatcher interface {
	match(ev *event.Event, v *event.Value) bool
	String() string
}

// textual reports whether a value can be compared as text.
func textual(v *event.Value) bool {
	return v.Kind == event.String || v.Kind == event.Number || v.Kind == event.Bool
}

func (m *strMatcher) match(_ *event.Event, v *event.Value) bool {
	if !textual(v) {
		return false
	}
	if m.cased {
		return m.matchBytes(v.Raw)
	}
	return m.matchBytes(v.Lower)
}

func (m *strMatcher) String() string { return m.src }

// numEqual is a plain numeric rule value: equal as written text (so `0x10` matches "0x10"),
// equal as integers however large (exactly: 18446744073709551615 is not 18446744073709551614),
// or equal as numbers when the event holds a JSON number written differently (1e6 and 1000000).
type numEqual struct {
	text    []byte // as written, folded
	integer string // canonical decimal form when the value is an integer, else ""
	num     float64
}

func newNumEqual(text string) (*numEqual, error) {
	f, err := strconv.ParseFloat(text, 64)
	integer := canonicalInteger(text)
	if err != nil && integer == "" {
		return nil, fmt.Errorf("%q is not a number", text)
	}
	if integer != "" && err != nil {
		f, _ = strconv.ParseFloat(integer, 64)
	}
	return &numEqual{text: []byte(foldString(text)), integer: integer, num: f}, nil
}

func (m *numEqual) match(_ *event.Event, v *event.Value) bool {
	if !textual(v) {
		return false
	}
	if string(v.Lower) == string(m.text) {
		return true
	}
	if m.integer != "" && isInteger(v.Raw) {
		return compareIntegers(v.Raw, m.integer) == 0
	}
	if v.Kind != event.Number {
		return false
	}
	f, ok := v.Float()
	return ok && f == m.num
}

func (m *numEqual) String() string { return string(m.text) }

// canonicalInteger returns the decimal form of a YAML integer ("0x10", "1_000", "+5"), or "".
func canonicalInteger(text string) string {
	var n big.Int
	if _, ok := n.SetString(strings.TrimPrefix(text, "+"), 0); !ok {
		return ""
	}
	return n.String()
}

// isInteger reports whether b is a decimal integer in canonical form (JSON's: no leading zeros).
func isInteger(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || (b[0] == '0' && len(b) > 1) {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// compareIntegers compares two canonical decimal integers of any size: -1, 0 or 1.
func compareIntegers(a []byte, b string) int {
	negA, negB := len(a) > 0 && a[0] == '-', len(b) > 0 && b[0] == '-'
	if negA != negB {
		if negA {
			return -1
		}
		return 1
	}
	if negA {
		a, b = a[1:], b[1:]
	}
	c := 0
	switch {
	case len(a) != len(b):
		c = 1
		if len(a) < len(b) {
			c = -1
		}
	default:
		// Byte by byte: converting a to a string here would allocate on the hot path.
		for i := 0; i < len(a) && c == 0; i++ {
			switch {
			case a[i] < b[i]:
				c = -1
			case a[i] > b[i]:
				c = 1
			}
		}
	}
	if negA {
		return -c
	}
	return c
}

// numCompare implements gt, gte, lt and lte: integers compare exactly however large, other
// numbers as float64. Numeric strings count (evtx converters write most numbers as strings).
type numCompare struct {
	op      string
	integer string // canonical decimal form when the rule value is an integer
	num     float64
	src     string
}

func newNumCompare(op, text string) (*numCompare, error) {
	n, err := newNumEqual(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", op, err)
	}
	return &numCompare{op: op, integer: n.integer, num: n.num, src: text}, nil
}

func (m *numCompare) match(_ *event.Event, v *event.Value) bool {
	if m.integer != "" && isInteger(v.Raw) && (v.Kind == event.Number || v.Kind == event.String) {
		return compareResult(compareIntegers(v.Raw, m.integer), m.op)
	}
	f, ok := v.Float()
	return ok && compareFloat(f, m.op, m.num)
}

func compareResult(c int, op string) bool {
	switch op {
	case "gt":
		return c > 0
	case "gte":
		return c >= 0
	case "lt":
		return c < 0
	case "lte":
		return c <= 0
	}
	return c == 0
}

func compareFloat(f float64, op string, n float64) bool {
	switch op {
	case "gt":
		return f > n
	case "gte":
		return f >= n
	case "lt":
		return f < n
	case "lte":
		return f <= n
	}
	return f == n
}

func (m *numCompare) String() string { return m.op + " " + m.src }

// regexMatcher runs an RE2 regular expression, after a cheap check for a literal every match
// must contain.
type regexMatcher struct {
	re       *regexp.Regexp
	required [][]finder // folded literal sets: of each, one must occur in the folded value
	minLen   int        // characters a match needs at least (a value needs as many bytes)
	index    []string   // folded literals of at least minIndexLiteral bytes for the candidate index
	run      *classRun
	src      string
}

func (m *regexMatcher) match(_ *event.Event, v *event.Value) bool {
	if !textual(v) || len(v.Raw) < m.minLen {
		return false
	}
	for _, set := range m.required {
		if !containsAny(v.Lower, set) {
			return false
		}
	}
	if m.run != nil && !m.run.present(v.Raw) {
		return false
	}
	return m.re.Match(v.Raw)
}

func (m *regexMatcher) String() string { return "re " + m.src }

// minLineLength replaces regexes of the form `.{n,}`: RE2 spends hundreds of microseconds on
// them, while the question is only whether some line holds n characters.
type minLineLength struct {
	n       int
	dotAll  bool
	literal string
}

func (m *minLineLength) match(_ *event.Event, v *event.Value) bool {
	if !textual(v) {
		return false
	}
	if len(v.Raw) < m.n {
		return false
	}
	run := 0
	for i := 0; i < len(v.Raw); {
		r, size := utf8.DecodeRune(v.Raw[i:])
		i += size
		if r == '\n' && !m.dotAll {
			run = 0
			continue
		}
		if run++; run >= m.n {
			return true
		}
	}
	return false
}

func (m *minLineLength) String() string { return "re " + m.literal }

// cidrMatcher matches IP addresses inside a network.
type cidrMatcher struct{ prefix netip.Prefix }

func (m *cidrMatcher) match(_ *event.Event, v *event.Value) bool {
	if v.Kind != event.String {
		return false
	}
	a, ok := parseAddr(v.Raw)
	return ok && m.prefix.Contains(a.Unmap())
}

func (m *cidrMatcher) String() string { return "cidr " + m.prefix.String() }

// fieldRef compares a value with another field of the same event (any of its values; the field
// may map to several event fields).
type fieldRef struct {
	others []int
	name   string
	op     strOp
	cased  bool
}

func (m *fieldRef) match(ev *event.Event, v *event.Value) bool {
	if !textual(v) {
		return false
	}
	for _, f := range m.others {
		vals := ev.Values(f)
		for i := range vals {
			o := &vals[i]
			if !textual(o) {
				continue
			}
			a, b := v.Lower, o.Lower
			if m.cased {
				a, b = v.Raw, o.Raw
			}
			var ok bool
			switch m.op {
			case opPrefix:
				ok = bytes.HasPrefix(a, b)
			case opSuffix:
				ok = bytes.HasSuffix(a, b)
			case opContains:
				ok = bytes.Contains(a, b)
			default:
				ok = bytes.Equal(a, b)
			}
			if ok {
				return true
			}
		}
	}
	return false
}

func (m *fieldRef) String() string {
	switch m.op {
	case opPrefix:
		return "starts with field " + m.name
	case opSuffix:
		return "ends with field " + m.name
	case opContains:
		return "contains field " + m.name
	}
	return "equals field " + m.name
}

// timePart extracts a calendar component from a timestamp value and compares it.
type timePart struct {
	part string
	cmp  *numCompare
}

func (m *timePart) match(_ *event.Event, v *event.Value) bool {
	t, ok := v.Time()
	if !ok {
		return false
	}
	var n int
	switch m.part {
	case "minute":
		n = t.Minute()
	case "hour":
		n = t.Hour()
	case "day":
		n = t.Day()
	case "week":
		_, n = t.ISOWeek()
	case "month":
		n = int(t.Month())
	case "year":
		n = t.Year()
	}
	return compareFloat(float64(n), m.cmp.op, m.cmp.num)
}

func (m *timePart) String() string { return m.part + " " + m.cmp.String() }

// compileValue turns one rule value into matchers: several (ORed) when a transformation such as
// windash or base64offset, or a placeholder, yields variants; none when a placeholder has no
// configured values (the value then matches nothing).
func (c *compiler) compileValue(m modifiers, s rules.Scalar, keyword bool, line int) ([]valueMatcher, error) {
	text := s.Text
	switch {
	case m.cmp == "re":
		if m.expand {
			var ok bool
			if text, ok = c.expandRegex(text, line); !ok {
				return nil, nil
			}
		}
		if err := c.limits.checkRegex(text, m.reFlags); err != nil {
			return nil, err
		}
		vm, err := compileRegex(text, m.reFlags, c.opts.Reference)
		if err != nil {
			return nil, err
		}
		return []valueMatcher{vm}, nil
	case m.cmp == "cidr":
		p, err := netip.ParsePrefix(text)
		if err != nil {
			a, aerr := netip.ParseAddr(text)
			if aerr != nil {
				return nil, fmt.Errorf("cidr: %q is not an IPv4 or IPv6 network", text)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		return []valueMatcher{&cidrMatcher{prefix: p.Masked()}}, nil
	case m.timePart != "":
		op := m.cmp
		if op == "" {
			op = "eq"
		}
		n, err := newNumCompare(op, text)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a number", m.timePart, text)
		}
		return []valueMatcher{&timePart{part: m.timePart, cmp: n}}, nil
	case isNumericCmp(m.cmp):
		n, err := newNumCompare(m.cmp, text)
		if err != nil {
			return nil, err
		}
		return []valueMatcher{n}, nil
	case m.fieldref:
		p := parsePattern(text)
		if p.hasWildcards() {
			return nil, fmt.Errorf("fieldref: %q names a field and cannot hold wildcards", text)
		}
		name := p.text()
		if name == "" {
			return nil, fmt.Errorf("fieldref needs a field name")
		}
		ref := &fieldRef{name: name, cased: m.cased, op: opEqual, others: c.eventFields(name)}
		switch m.cmp {
		case "contains":
			ref.op = opContains
		case "startswith":
			ref.op = opPrefix
		case "endswith":
			ref.op = opSuffix
		}
		return []valueMatcher{ref}, nil
	}

	if (s.Tag == "!!int" || s.Tag == "!!float") && m.cmp == "" && len(m.transforms) == 0 && !m.expand && !keyword && !m.cased {
		if n, err := newNumEqual(text); err == nil {
			return []valueMatcher{n}, nil
		}
	}

	texts := []string{text}
	if m.expand {
		var err error
		if texts, err = c.expand(text, line); err != nil || len(texts) == 0 {
			return nil, err
		}
	}
	pats := make([]pattern, 0, len(texts))
	for _, t := range texts {
		pats = append(pats, parsePattern(t))
	}
	for i, t := range m.transforms {
		encodersFollow := false
		for _, later := range m.transforms[i+1:] {
			encodersFollow = encodersFollow || later != "windash"
		}
		var err error
		if pats, err = transform(t, pats, encodersFollow); err != nil {
			return nil, err
		}
		if len(pats) > c.limits.MaxValueVariants {
			return nil, errTooManyVariants(c.limits.MaxValueVariants)
		}
	}
	out := make([]valueMatcher, 0, len(pats))
	for _, p := range pats {
		switch {
		case m.cmp == "contains" || (keyword && m.cmp == ""):
			p = p.wrap(true, true)
		case m.cmp == "startswith":
			p = p.wrap(false, true)
		case m.cmp == "endswith":
			p = p.wrap(true, false)
		}
		out = append(out, compilePattern(p, m.cased))
	}
	return out, nil
}

// placeholderSegments splits a value into literal text and %name% placeholders. Names hold
// letters, digits, '_', '-' and '.' (SigmaHQ's rules-placeholder use `%DC-MACHINE-NAME%`). As the
// specification says, `\%` is a plain percent sign (unescaped when unescapePercent is set);
// `\\` is passed through for the wildcard escaping that follows.
func placeholderSegments(text string, unescapePercent bool) (lits []string, names []string) {
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\\' && i+1 < len(text) && text[i+1] == '%':
			if !unescapePercent {
				b.WriteByte('\\')
			}
			b.WriteByte('%')
			i++
		case c == '\\' && i+1 < len(text) && text[i+1] == '\\':
			b.WriteString(`\\`)
			i++
		case c == '%':
			j := i + 1
			for j < len(text) && isPlaceholderByte(text[j]) {
				j++
			}
			if j < len(text) && text[j] == '%' && j > i+1 {
				lits = append(lits, b.String())
				names = append(names, text[i+1:j])
				b.Reset()
				i = j
				continue
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return append(lits, b.String()), names
}

func isPlaceholderByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.'
}

// expand replaces %placeholder% references with every combination of their configured values.
// A placeholder without configured values leaves nothing (the value matches nothing, with a
// warning) rather than failing the rule: the rest of the rule still works.
func (c *compiler) expand(text string, line int) ([]string, error) {
	lits, names := placeholderSegments(text, true)
	out := []string{lits[0]}
	for i, name := range names {
		vals := c.opts.Placeholders[name]
		if len(vals) == 0 {
			c.warnf("%s:%d: placeholder %%%s%% has no configured values; the value %q matches nothing", c.path, line, name, text)
			return nil, nil
		}
		if len(out)*len(vals) > c.limits.MaxValueVariants {
			return nil, errTooManyVariants(c.limits.MaxValueVariants)
		}
		next := make([]string, 0, len(out)*len(vals))
		for _, o := range out {
			for _, v := range vals {
				next = append(next, o+v+lits[i+1])
			}
		}
		out = next
	}
	return out, nil
}

// expandRegex replaces %placeholder% references in a regular expression with an alternation of
// their values, taken literally.
func (c *compiler) expandRegex(src string, line int) (string, bool) {
	lits, names := placeholderSegments(src, false)
	var b strings.Builder
	b.WriteString(lits[0])
	for i, name := range names {
		vals := c.opts.Placeholders[name]
		if len(vals) == 0 {
			c.warnf("%s:%d: placeholder %%%s%% has no configured values; the regular expression %q matches nothing", c.path, line, name, src)
			return "", false
		}
		quoted := make([]string, len(vals))
		for j, v := range vals {
			quoted[j] = regexp.QuoteMeta(v)
		}
		b.WriteString("(?:" + strings.Join(quoted, "|") + ")")
		b.WriteString(lits[i+1])
	}
	return b.String(), true
}

// transform applies one value transformation to every pattern.
func transform(t string, in []pattern, encodersFollow bool) ([]pattern, error) {
	var out []pattern
	for _, p := range in {
		if t == "windash" {
			w, err := windash(p, encodersFollow)
			if err != nil {
				return nil, err
			}
			out = append(out, w...)
			continue
		}
		if p.hasWildcards() {
			return nil, fmt.Errorf("%s cannot encode a value with wildcards (%s): the encoded form of a wildcard is unknown", t, p)
		}
		b := p.text()
		switch t {
		case "base64":
			out = append(out, literalPattern(base64.StdEncoding.EncodeToString([]byte(b))))
		case "base64offset":
			for _, v := range base64Offsets([]byte(b)) {
				out = append(out, literalPattern(v))
			}
		case "utf16le", "wide":
			out = append(out, literalPattern(string(utf16Bytes(b, false, false))))
		case "utf16be":
			out = append(out, literalPattern(string(utf16Bytes(b, true, false))))
		case "utf16":
			out = append(out, literalPattern(string(utf16Bytes(b, false, true))))
		}
	}
	return out, nil
}

// base64Offsets encodes b at the three byte offsets it can take inside a longer base64 text,
// trimming the characters that depend on the unknown neighbours: the leading ones of the
// shifted variants, and the trailing ones whose bits spill into the next byte.
func base64Offsets(b []byte) []string {
	starts := [3]int{0, 2, 3}
	ends := [3]int{0, 3, 2} // characters trimmed from the end, by (len+offset) % 3
	out := make([]string, 0, 3)
	for i := 0; i < 3; i++ {
		padded := append(bytes.Repeat([]byte{' '}, i), b...)
		enc := base64.StdEncoding.EncodeToString(padded)
		end := len(enc) - ends[(len(b)+i)%3]
		if starts[i] >= end {
			continue
		}
		out = append(out, enc[starts[i]:end])
	}
	return out
}

// utf16Bytes encodes s as UTF-16 (the utf16 modifier: little-endian with a byte order mark).
func utf16Bytes(s string, bigEndian, bom bool) []byte {
	units := utf16.Encode([]rune(s))
	out := make([]byte, 0, 2*len(units)+2)
	if bom {
		out = append(out, 0xFF, 0xFE)
	}
	for _, u := range units {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

// windashRunes are the characters the specification's windash interchanges: hyphen-minus,
// slash, en dash, em dash and horizontal bar.
var windashRunes = []rune{'-', '/', '\u2013', '\u2014', '\u2015'}

func isWindash(r rune) bool {
	for _, d := range windashRunes {
		if r == d {
			return true
		}
	}
	return false
}

// maxWindashVariants bounds the expansion into literal variants; beyond it the option dashes
// become a one-character class (the same matches, fewer literals for the index).
const (
	maxWindashVariants        = 125  // three option dashes
	maxEncodedWindashVariants = 3125 // five option dashes, when an encoding must follow
	windashClass              = 'D'  // piece.wild value of the dash class
	windashClassText          = "[-/–—―]"
)

// windash expands each option dash of p, all combinations: like pySigma, a dash counts when it
// is not preceded by a word character and is followed by one (the regular expression \B[-/]\b,
// Unicode-aware as Python's), here for all five dashes the specification names. A wildcard
// counts as a non-word character on both sides.
func windash(p pattern, encodersFollow bool) ([]pattern, error) {
	type pos struct{ piece, at, size int }
	var dashes []pos
	prevWord := false
	for pi, x := range p {
		if x.wild != 0 {
			prevWord = false
			continue
		}
		for i := 0; i < len(x.lit); {
			r, size := utf8.DecodeRuneInString(x.lit[i:])
			if isWindash(r) && !prevWord {
				var next rune = -1
				if i+size < len(x.lit) {
					next, _ = utf8.DecodeRuneInString(x.lit[i+size:])
				} else if pi+1 < len(p) && p[pi+1].wild == 0 && p[pi+1].lit != "" {
					next, _ = utf8.DecodeRuneInString(p[pi+1].lit)
				}
				if next >= 0 && isWordRune(next) {
					dashes = append(dashes, pos{pi, i, size})
				}
			}
			prevWord = isWordRune(r)
			i += size
		}
	}
	if len(dashes) == 0 {
		return []pattern{p}, nil
	}
	variants := 1
	for range dashes {
		variants *= len(windashRunes)
		if variants > maxEncodedWindashVariants {
			break
		}
	}
	if variants > maxWindashVariants {
		if encodersFollow {
			if variants > maxEncodedWindashVariants {
				return nil, fmt.Errorf("windash: %q has %d option dashes; more than five cannot be encoded afterwards", p.String(), len(dashes))
			}
		} else {
			return []pattern{windashClassPattern(p, func(pi, at int) (int, bool) {
				for _, d := range dashes {
					if d.piece == pi && d.at == at {
						return d.size, true
					}
				}
				return 0, false
			})}, nil
		}
	}
	out := []pattern{}
	choice := make([]int, len(dashes))
	for {
		q := make(pattern, len(p))
		copy(q, p)
		// Replace from the last dash backwards so earlier byte offsets stay valid.
		for k := len(dashes) - 1; k >= 0; k-- {
			d := dashes[k]
			lit := q[d.piece].lit
			q[d.piece].lit = lit[:d.at] + string(windashRunes[choice[k]]) + lit[d.at+d.size:]
		}
		out = append(out, q)
		k := 0
		for ; k < len(choice); k++ {
			choice[k]++
			if choice[k] < len(windashRunes) {
				break
			}
			choice[k] = 0
		}
		if k == len(choice) {
			return out, nil
		}
	}
}

// windashClassPattern replaces the option dashes of p with one-character dash classes.
func windashClassPattern(p pattern, isDash func(piece, at int) (int, bool)) pattern {
	var out pattern
	for pi, x := range p {
		if x.wild != 0 {
			out = append(out, x)
			continue
		}
		start := 0
		for i := 0; i < len(x.lit); {
			_, size := utf8.DecodeRuneInString(x.lit[i:])
			if n, ok := isDash(pi, i); ok {
				if i > start {
					out = append(out, piece{lit: x.lit[start:i]})
				}
				out = append(out, piece{wild: windashClass})
				i += n
				start = i
				continue
			}
			i += size
		}
		if start < len(x.lit) {
			out = append(out, piece{lit: x.lit[start:]})
		}
	}
	return out
}

// isWordRune is Python's \w for str patterns: letters, digits (and other numerics) and '_'.
func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r)
}

var dotRepeat = regexp.MustCompile(`^\.\{(\d+),\}$`)

// compileRegex compiles an RE2 regular expression with prefilters (none when plain).
func compileRegex(src, flags string, plain bool) (valueMatcher, error) {
	prefix := ""
	if flags != "" {
		prefix = "(?" + flags + ")"
	}
	if m := dotRepeat.FindStringSubmatch(src); m != nil && !plain && !strings.Contains(flags, "m") {
		n, err := strconv.Atoi(m[1])
		if err == nil && n > 0 {
			return &minLineLength{n: n, dotAll: strings.Contains(flags, "s"), literal: src}, nil
		}
	}
	re, err := regexp.Compile(prefix + src)
	if err != nil {
		return nil, regexError(src, err)
	}
	parsed, err := syntax.Parse(prefix+src, syntax.Perl)
	if err != nil {
		return nil, regexError(src, err)
	}
	if plain {
		return &regexMatcher{re: re, src: src}, nil
	}
	run := requiredRun(parsed) // before Simplify, which spells x{64} out as 64 nodes
	parsed = parsed.Simplify()
	m := &regexMatcher{re: re, src: src, minLen: minRunes(parsed), run: run}
	// The matcher's own prefilter can use literals of any length: searching for one rare byte
	// (a backtick, "${") is far cheaper than running the regex.
	for _, lits := range requiredLiteralSets(parsed) {
		set := make([]finder, len(lits))
		for i, l := range lits {
			set[i] = newFinder([]byte(l))
		}
		m.required = append(m.required, set)
	}
	m.index, _ = regexLiterals(parsed, minIndexLiteral)
	return m, nil
}

// pcreOnly recognises PCRE constructs that Go's RE2 engine lacks, to say so plainly.
var pcreOnly = []struct {
	re   *regexp.Regexp
	what string
}{
	{regexp.MustCompile(`\(\?<?[=!]`), "lookaround ((?=, (?!, (?<=, (?<!)"},
	{regexp.MustCompile(`\(\?>`), "an atomic group ((?>...))"},
	{regexp.MustCompile(`(^|[^\\])(\\\\)*\\[1-9]`), "a backreference (\\1...)"},
	{regexp.MustCompile(`\\k[<{']`), "a named backreference (\\k<name>)"},
	{regexp.MustCompile(`(^|[^\\])(\\\\)*[*+?}]\+`), "a possessive quantifier (*+, ++, ?+)"},
	{regexp.MustCompile(`(^|[^\\])(\\\\)*\\[ZGK]`), "a PCRE-only escape (\\Z, \\G, \\K)"},
	{regexp.MustCompile(`\(\?(R|[0-9]+|\|)`), "recursion or branch reset ((?R), (?1), (?|)"},
}

// regexError explains why a regular expression does not compile.
func regexError(src string, err error) error {
	detail := err.Error()
	if se, ok := err.(*syntax.Error); ok {
		detail = string(se.Code) + ": " + se.Expr
	}
	for _, p := range pcreOnly {
		if p.re.MatchString(src) {
			return fmt.Errorf("regular expression %q uses %s, which is PCRE syntax outside Sigma's regular expression subset and not supported by Go's RE2 engine (%s)", src, p.what, detail)
		}
	}
	return fmt.Errorf("regular expression %q: %s", src, detail)
}

// minIndexLiteral is the shortest literal the candidate index uses: shorter ones occur nearly
// everywhere.
const minIndexLiteral = 3

// regexLiterals returns folded literals, each at least minLen bytes, one of which every match of
// re contains.
func regexLiterals(re *syntax.Regexp, minLen int) ([]string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		s := foldString(string(re.Rune))
		if len(s) < minLen {
			return nil, false
		}
		return []string{s}, true
	case syntax.OpCharClass:
		if chars, ok := smallClass(re); ok {
			for _, c := range chars {
				if len(c) < minLen {
					return nil, false
				}
			}
			return chars, true
		}
	case syntax.OpCapture, syntax.OpPlus:
		return regexLiterals(re.Sub[0], minLen)
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return regexLiterals(re.Sub[0], minLen)
		}
	case syntax.OpConcat:
		var best []string
		found := false
		for _, lits := range concatLiteralSets(re, minLen) {
			if !found || betterLiterals(lits, best) {
				best, found = lits, true
			}
		}
		return best, found
	case syntax.OpAlternate:
		var all []string
		for _, s := range re.Sub {
			lits, ok := regexLiterals(s, minLen)
			if !ok {
				return nil, false
			}
			all = append(all, lits...)
		}
		return all, true
	}
	return nil, false
}

// concatLiteralSets returns, for a concatenation, the literal sets (each at least minLen bytes)
// that its parts require: every match contains a literal of each set. Runs of single characters
// (literals, and small classes like [Rr] or [ "']) form a set of longer literals: the cross
// product, kept small.
func concatLiteralSets(re *syntax.Regexp, minLen int) [][]string {
	var sets [][]string
	run := []string{""}
	flush := func() {
		if len(run) == 1 && run[0] == "" {
			return
		}
		for _, r := range run {
			if len(r) < minLen {
				run = []string{""}
				return
			}
		}
		sets = append(sets, run)
		run = []string{""}
	}
	extend := func(chars []string) {
		if len(run)*len(chars) > maxLiteralSet {
			flush()
		}
		next := make([]string, 0, len(run)*len(chars))
		for _, r := range run {
			for _, c := range chars {
				next = append(next, r+c)
			}
		}
		run = next
	}
	for _, sub := range re.Sub {
		if sub.Op == syntax.OpLiteral {
			for _, r := range sub.Rune {
				extend([]string{foldString(string(r))})
			}
			continue
		}
		if chars, ok := smallClass(sub); ok {
			extend(chars)
			continue
		}
		flush()
		if lits, ok := regexLiterals(sub, minLen); ok {
			sets = append(sets, lits)
		}
	}
	flush()
	return sets
}

// maxRequiredSets bounds the literal sets a regular expression's prefilter checks.
const maxRequiredSets = 3

// requiredLiteralSets returns up to maxRequiredSets literal sets, most selective first, such
// that every match of re contains a literal of each: `\s-\s*<` needs both "-" and "<", and the
// rarer "<" rejects most values before the regex runs.
func requiredLiteralSets(re *syntax.Regexp) [][]string {
	for re.Op == syntax.OpCapture || re.Op == syntax.OpPlus || re.Op == syntax.OpRepeat && re.Min >= 1 {
		re = re.Sub[0]
	}
	var sets [][]string
	if re.Op == syntax.OpConcat {
		sets = concatLiteralSets(re, 1)
	} else if lits, ok := regexLiterals(re, 1); ok {
		sets = [][]string{lits}
	}
	slices.SortStableFunc(sets, func(a, b []string) int { return cmp.Compare(literalCost(a), literalCost(b)) })
	var out [][]string
	for _, set := range sets {
		if len(out) < maxRequiredSets && !slices.ContainsFunc(out, func(o []string) bool { return slices.Equal(o, set) }) {
			out = append(out, set) // "set.*&&\s?set" needs "set" once
		}
	}
	return out
}

// maxLiteralSet bounds the literals one character run may expand into.
const maxLiteralSet = 16

// smallClass lists the folded characters of a class with at most four (such as [Rr] or [ "']).
func smallClass(re *syntax.Regexp) ([]string, bool) {
	if re.Op != syntax.OpCharClass {
		return nil, false
	}
	var out []string
	for i := 0; i+1 < len(re.Rune); i += 2 {
		if re.Rune[i+1]-re.Rune[i] > 8 {
			return nil, false
		}
		for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
			if f := foldString(string(r)); !slices.Contains(out, f) {
				out = append(out, f)
			}
			if len(out) > 4 {
				return nil, false
			}
		}
	}
	return out, len(out) > 0
}

// classRun is a regex requirement of n consecutive bytes from an ASCII class, such as
// [a-f0-9]{64}: scanning for such a run is far cheaper than running the regex.
type classRun struct {
	in [128]bool
	n  int
}

// requiredRun finds the longest such requirement among re's mandatory parts.
func requiredRun(re *syntax.Regexp) *classRun {
	var best *classRun
	var walk func(re *syntax.Regexp)
	walk = func(re *syntax.Regexp) {
		switch re.Op {
		case syntax.OpCapture:
			walk(re.Sub[0])
		case syntax.OpConcat:
			for _, s := range re.Sub {
				walk(s)
			}
		case syntax.OpRepeat:
			if re.Min >= 8 && re.Sub[0].Op == syntax.OpCharClass && (best == nil || re.Min > best.n) {
				if c := asciiClass(re.Sub[0]); c != nil {
					c.n = re.Min
					best = c
				}
			}
		}
	}
	walk(re)
	return best
}

func asciiClass(re *syntax.Regexp) *classRun {
	c := &classRun{}
	for i := 0; i+1 < len(re.Rune); i += 2 {
		if re.Rune[i+1] >= 0x80 {
			return nil
		}
		for r := re.Rune[i]; r <= re.Rune[i+1]; r++ {
			c.in[r] = true
		}
	}
	return c
}

// present reports whether b holds a run of c.n members. Such a run covers one of the positions
// n-1, 2n-1, ...: only those are probed, and the run around a probe that is a member measured.
func (c *classRun) present(b []byte) bool {
	in := func(x byte) bool { return x < 0x80 && c.in[x] }
	for i := c.n - 1; i < len(b); i += c.n {
		if !in(b[i]) {
			continue
		}
		lo, hi := i, i+1
		for lo > 0 && in(b[lo-1]) {
			lo--
		}
		for hi < len(b) && in(b[hi]) {
			hi++
		}
		if hi-lo >= c.n {
			return true
		}
	}
	return false
}

// minRunes is the fewest characters a match of re spans.
func minRunes(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune)
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture, syntax.OpPlus:
		return minRunes(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min * minRunes(re.Sub[0])
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			n += minRunes(s)
		}
		return n
	case syntax.OpAlternate:
		n := -1
		for _, s := range re.Sub {
			if m := minRunes(s); n < 0 || m < n {
				n = m
			}
		}
		return max(n, 0)
	}
	return 0
}

// betterLiterals prefers fewer, longer literals: each is a chance for an unrelated event to pass.
func betterLiterals(a, b []string) bool { return literalCost(a) < literalCost(b) }

func literalCost(lits []string) float64 {
	cost := 0.0
	for _, l := range lits {
		cost += 1 / float64(len(l)*len(l))
	}
	return cost
}
