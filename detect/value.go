package detect

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/netip"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
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

// numEqual is a plain numeric rule value: equal as text, or as numbers when the event holds a
// JSON number written differently (1e6 and 1000000).
type numEqual struct {
	text []byte
	num  float64
}

func (m *numEqual) match(_ *event.Event, v *event.Value) bool {
	if !textual(v) {
		return false
	}
	if string(v.Lower) == string(m.text) {
		return true
	}
	if v.Kind != event.Number {
		return false
	}
	if isInteger(v.Raw) && isInteger(m.text) {
		return false // integers differ exactly; floats would round large ones together
	}
	f, ok := v.Float()
	return ok && f == m.num
}

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

func (m *numEqual) String() string { return string(m.text) }

// numCompare implements gt, gte, lt and lte.
type numCompare struct {
	op  string
	num float64
}

func (m *numCompare) match(_ *event.Event, v *event.Value) bool {
	f, ok := v.Float()
	return ok && compareFloat(f, m.op, m.num)
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

func (m *numCompare) String() string { return m.op + " " + strconv.FormatFloat(m.num, 'g', -1, 64) }

// regexMatcher runs an RE2 regular expression, after a cheap check for a literal every match
// must contain.
type regexMatcher struct {
	re       *regexp.Regexp
	required [][]byte // folded; one of them must occur in the folded value (none: no check)
	src      string
}

func (m *regexMatcher) match(_ *event.Event, v *event.Value) bool {
	if !textual(v) {
		return false
	}
	if len(m.required) > 0 {
		found := false
		for _, lit := range m.required {
			if bytes.Contains(v.Lower, lit) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
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
	a, err := netip.ParseAddr(string(v.Raw))
	if err != nil {
		return false
	}
	return m.prefix.Contains(a.Unmap())
}

func (m *cidrMatcher) String() string { return "cidr " + m.prefix.String() }

// fieldRef compares a value with another field of the same event.
type fieldRef struct {
	other int
	name  string
	op    strOp
	cased bool
}

func (m *fieldRef) match(ev *event.Event, v *event.Value) bool {
	if !textual(v) {
		return false
	}
	for _, o := range ev.Values(m.other) {
		if !textual(&o) {
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
	return false
}

func (m *fieldRef) String() string { return "fieldref " + m.name }

// timePart extracts a calendar component from a timestamp value and compares it.
type timePart struct {
	part string
	op   string
	num  float64
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
	return compareFloat(float64(n), m.op, m.num)
}

func (m *timePart) String() string {
	return fmt.Sprintf("%s %s %g", m.part, m.op, m.num)
}

// modifiers is a parsed `field|mod|mod` chain.
type modifiers struct {
	cmp        string // contains, startswith, endswith, re, cidr, gt, gte, lt, lte, exists
	fieldref   bool
	transforms []string // in chain order: base64, base64offset, utf16le, utf16be, utf16, wide, windash, expand
	all        bool
	cased      bool
	neq        bool
	reFlags    string
	timePart   string
}

func parseModifiers(mods []string) (modifiers, error) {
	var m modifiers
	setCmp := func(c string) error {
		if m.cmp != "" && m.cmp != c {
			return fmt.Errorf("modifiers %q and %q cannot be combined", m.cmp, c)
		}
		m.cmp = c
		return nil
	}
	for _, mod := range mods {
		var err error
		switch mod {
		case "contains", "startswith", "endswith", "re", "cidr", "gt", "gte", "lt", "lte", "exists":
			err = setCmp(mod)
		case "fieldref":
			m.fieldref = true
		case "i", "m", "s":
			m.reFlags += mod
		case "all":
			m.all = true
		case "cased":
			m.cased = true
		case "neq":
			m.neq = true
		case "base64", "base64offset", "utf16le", "utf16be", "utf16", "wide", "windash", "expand":
			m.transforms = append(m.transforms, mod)
		case "minute", "hour", "day", "week", "month", "year":
			if m.timePart != "" {
				return m, fmt.Errorf("modifiers %q and %q cannot be combined", m.timePart, mod)
			}
			m.timePart = mod
		case "":
			return m, fmt.Errorf("empty modifier")
		default:
			return m, fmt.Errorf("unknown modifier %q", mod)
		}
		if err != nil {
			return m, err
		}
	}
	switch {
	case m.reFlags != "" && m.cmp != "re":
		return m, fmt.Errorf("regular expression flags (i, m, s) need the re modifier")
	case m.fieldref && m.cmp != "" && m.cmp != "contains" && m.cmp != "startswith" && m.cmp != "endswith":
		return m, fmt.Errorf("fieldref combines only with contains, startswith or endswith, not %q", m.cmp)
	case m.fieldref && len(m.transforms) > 0:
		return m, fmt.Errorf("fieldref cannot be combined with value transformations")
	case m.timePart != "" && m.cmp != "" && m.cmp != "gt" && m.cmp != "gte" && m.cmp != "lt" && m.cmp != "lte":
		return m, fmt.Errorf("time modifier %q combines only with gt, gte, lt, lte", m.timePart)
	case (m.cmp == "re" || m.cmp == "cidr" || m.cmp == "exists" || isNumericCmp(m.cmp)) && len(m.transforms) > 0:
		return m, fmt.Errorf("%q cannot be combined with value transformations", m.cmp)
	}
	return m, nil
}

func isNumericCmp(c string) bool { return c == "gt" || c == "gte" || c == "lt" || c == "lte" }

// compileValue turns one rule value into matchers (transformations such as windash or
// base64offset yield several, ORed).
func (c *compiler) compileValue(m modifiers, s rules.Scalar, keyword bool) ([]valueMatcher, error) {
	text := s.Text
	switch {
	case m.cmp == "re":
		vm, err := compileRegex(text, m.reFlags)
		if err != nil {
			return nil, err
		}
		return []valueMatcher{vm}, nil
	case m.cmp == "cidr":
		p, err := netip.ParsePrefix(text)
		if err != nil {
			a, aerr := netip.ParseAddr(text)
			if aerr != nil {
				return nil, fmt.Errorf("cidr: %q is not a network", text)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		return []valueMatcher{&cidrMatcher{prefix: p.Masked()}}, nil
	case m.timePart != "":
		n, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a number", m.timePart, text)
		}
		op := m.cmp
		if op == "" {
			op = "eq"
		}
		return []valueMatcher{&timePart{part: m.timePart, op: op, num: n}}, nil
	case isNumericCmp(m.cmp):
		n, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a number", m.cmp, text)
		}
		return []valueMatcher{&numCompare{op: m.cmp, num: n}}, nil
	case m.fieldref:
		ref := &fieldRef{name: text, cased: m.cased, op: opEqual}
		switch m.cmp {
		case "contains":
			ref.op = opContains
		case "startswith":
			ref.op = opPrefix
		case "endswith":
			ref.op = opSuffix
		}
		fields := c.eventFields(text)
		ref.other = fields[0]
		return []valueMatcher{ref}, nil
	}

	if (s.Tag == "!!int" || s.Tag == "!!float") && m.cmp == "" && len(m.transforms) == 0 && !keyword {
		n, err := strconv.ParseFloat(text, 64)
		if err == nil {
			return []valueMatcher{&numEqual{text: []byte(foldString(text)), num: n}}, nil
		}
	}

	texts := []string{text}
	pats := []pattern{}
	for i, t := range m.transforms {
		if t == "expand" {
			if i != 0 {
				return nil, fmt.Errorf("expand must come before other transformations")
			}
			var err error
			texts, err = c.expand(text)
			if err != nil {
				return nil, err
			}
		}
	}
	for _, t := range texts {
		pats = append(pats, parsePattern(t))
	}
	for _, t := range m.transforms {
		var err error
		if pats, err = transform(t, pats); err != nil {
			return nil, err
		}
	}
	var out []valueMatcher
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

// expand replaces %placeholder% values; a placeholder without configured values matches nothing
// (with a warning) rather than disabling the rule.
func (c *compiler) expand(text string) ([]string, error) {
	out := []string{""}
	for {
		i := strings.IndexByte(text, '%')
		if i < 0 {
			break
		}
		j := strings.IndexByte(text[i+1:], '%')
		if j < 0 {
			break
		}
		name := text[i+1 : i+1+j]
		vals, ok := c.opts.Placeholders[name]
		if !ok {
			c.warnf("placeholder %%%s%% has no configured values; the value %q matches nothing", name, text)
			return nil, nil
		}
		var next []string
		for _, o := range out {
			for _, v := range vals {
				next = append(next, o+text[:i]+v)
			}
		}
		out, text = next, text[i+2+j:]
	}
	for i := range out {
		out[i] += text
	}
	return out, nil
}

func transform(t string, in []pattern) ([]pattern, error) {
	var out []pattern
	for _, p := range in {
		if t == "windash" {
			out = append(out, windash(p)...)
			continue
		}
		if p.hasWildcards() {
			return nil, fmt.Errorf("%s cannot encode a value with wildcards (%s)", t, p)
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
// trimming the characters that depend on the unknown neighbours.
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

// windashChars are the characters Windows accepts as option prefixes.
var windashChars = []string{"-", "/", "\u2013", "\u2014", "\u2015"}

// windash expands every '-' or '/' that starts an option (not preceded by a word character,
// followed by one) into each option prefix, all combinations.
func windash(p pattern) []pattern {
	out := []pattern{nil}
	prevWord := false
	for pi, x := range p {
		if x.wild != 0 {
			for i := range out {
				out[i] = append(out[i], x)
			}
			prevWord = false
			continue
		}
		var cur []string = []string{""}
		for i := 0; i < len(x.lit); i++ {
			c := x.lit[i]
			nextWord := false
			if i+1 < len(x.lit) {
				nextWord = isWordByte(x.lit[i+1])
			} else if pi+1 < len(p) && p[pi+1].wild == 0 && len(p[pi+1].lit) > 0 {
				nextWord = isWordByte(p[pi+1].lit[0])
			}
			if (c == '-' || c == '/') && !prevWord && nextWord {
				var next []string
				for _, s := range cur {
					for _, d := range windashChars {
						next = append(next, s+d)
					}
				}
				cur = next
			} else {
				for j := range cur {
					cur[j] += string(c)
				}
			}
			prevWord = isWordByte(c)
		}
		var next []pattern
		for _, o := range out {
			for _, s := range cur {
				q := append(append(pattern{}, o...), piece{lit: s})
				next = append(next, q)
			}
		}
		out = next
	}
	return out
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

var dotRepeat = regexp.MustCompile(`^\.\{(\d+),\}$`)

func compileRegex(src, flags string) (valueMatcher, error) {
	prefix := ""
	if flags != "" {
		prefix = "(?" + flags + ")"
	}
	if m := dotRepeat.FindStringSubmatch(src); m != nil && !strings.Contains(flags, "m") {
		n, err := strconv.Atoi(m[1])
		if err == nil && n > 0 {
			return &minLineLength{n: n, dotAll: strings.Contains(flags, "s"), literal: src}, nil
		}
	}
	re, err := regexp.Compile(prefix + src)
	if err != nil {
		return nil, fmt.Errorf("regular expression %q: %v", src, unwrapRegexErr(err))
	}
	parsed, err := syntax.Parse(prefix+src, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("regular expression %q: %v", src, unwrapRegexErr(err))
	}
	var req [][]byte
	if lits, ok := regexLiterals(parsed.Simplify()); ok {
		for _, l := range lits {
			req = append(req, []byte(l))
		}
	}
	return &regexMatcher{re: re, required: req, src: src}, nil
}

func unwrapRegexErr(err error) string {
	if se, ok := err.(*syntax.Error); ok {
		return string(se.Code) + ": " + se.Expr
	}
	return err.Error()
}

// minIndexLiteral is the shortest literal worth using as a prefilter: shorter ones occur nearly
// everywhere.
const minIndexLiteral = 3

// regexLiterals returns folded literals one of which every match of re contains.
func regexLiterals(re *syntax.Regexp) ([]string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		s := foldString(string(re.Rune))
		if len(s) < minIndexLiteral {
			return nil, false
		}
		return []string{s}, true
	case syntax.OpCapture:
		return regexLiterals(re.Sub[0])
	case syntax.OpPlus:
		return regexLiterals(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return regexLiterals(re.Sub[0])
		}
	case syntax.OpConcat:
		var best []string
		found := false
		for _, s := range re.Sub {
			if lits, ok := regexLiterals(s); ok && (!found || betterLiterals(lits, best)) {
				best, found = lits, true
			}
		}
		return best, found
	case syntax.OpAlternate:
		var all []string
		for _, s := range re.Sub {
			lits, ok := regexLiterals(s)
			if !ok {
				return nil, false
			}
			all = append(all, lits...)
		}
		return all, true
	}
	return nil, false
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
