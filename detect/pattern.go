package detect

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// A pattern is a Sigma string value after escape processing: literal runs separated by the
// wildcards '*' (any run of characters) and '?' (exactly one character), and windash's class of
// option dashes (one of - / – — ―).
type pattern []piece

type piece struct {
	lit  string // literal text (when wild == 0)
	wild byte   // '*', '?' or windashClass, or 0 for a literal
}

// parsePattern applies Sigma's escaping: \* and \? are literal wildcards, \\ is one backslash,
// and any other backslash is itself.
func parsePattern(s string) pattern {
	var p pattern
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p = append(p, piece{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '*' || s[i+1] == '?' || s[i+1] == '\\'):
			lit.WriteByte(s[i+1])
			i++
		case c == '*' || c == '?':
			flush()
			if c == '*' && len(p) > 0 && p[len(p)-1].wild == '*' {
				continue // "**" is "*"
			}
			p = append(p, piece{wild: c})
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return p
}

// literalPattern is a pattern of one literal (no wildcard processing).
func literalPattern(s string) pattern {
	if s == "" {
		return nil
	}
	return pattern{{lit: s}}
}

func (p pattern) hasWildcards() bool {
	for _, x := range p {
		if x.wild != 0 {
			return true
		}
	}
	return false
}

// text is the literal text of a pattern without wildcards.
func (p pattern) text() string {
	var b strings.Builder
	for _, x := range p {
		b.WriteString(x.lit)
	}
	return b.String()
}

// String renders the pattern back in Sigma syntax.
func (p pattern) String() string {
	var b strings.Builder
	for pi, x := range p {
		if x.wild == windashClass {
			b.WriteString(windashClassText)
			continue
		}
		if x.wild != 0 {
			b.WriteByte(x.wild)
			continue
		}
		for i := 0; i < len(x.lit); i++ {
			c := x.lit[i]
			// A backslash needs escaping only before a wildcard or another backslash.
			escape := c == '*' || c == '?'
			if c == '\\' {
				if i+1 < len(x.lit) {
					escape = x.lit[i+1] == '*' || x.lit[i+1] == '?' || x.lit[i+1] == '\\'
				} else {
					escape = pi+1 < len(p) && p[pi+1].wild != 0
				}
			}
			if escape {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (p pattern) wrap(prefix, suffix bool) pattern {
	out := make(pattern, 0, len(p)+2)
	if prefix && (len(p) == 0 || p[0].wild != '*') {
		out = append(out, piece{wild: '*'})
	}
	out = append(out, p...)
	if suffix && (len(out) == 0 || out[len(out)-1].wild != '*') {
		out = append(out, piece{wild: '*'})
	}
	return out
}

func (p pattern) mapLiterals(f func(string) string) pattern {
	out := make(pattern, len(p))
	for i, x := range p {
		if x.wild == 0 {
			x.lit = f(x.lit)
		}
		out[i] = x
	}
	return out
}

// longestLiteral is the longest literal run: every match contains it.
func (p pattern) longestLiteral() string {
	best := ""
	for _, x := range p {
		if len(x.lit) > len(best) {
			best = x.lit
		}
	}
	return best
}

// strOp is the shape a pattern compiles to.
type strOp uint8

const (
	opEqual strOp = iota
	opPrefix
	opSuffix
	opContains
	opAnyValue // "*": any present value
	opGlob
)

// strMatcher matches one compiled pattern against an event value.
type strMatcher struct {
	op    strOp
	lit   []byte // for equal, prefix, suffix and contains; for glob its longest literal piece
	rare  uint16 // contains and glob: where lit's rarest byte is (see containsRare)
	glob  []globPiece
	cased bool // compare against the raw value rather than the folded one
	src   string
}

func compilePattern(p pattern, cased bool) *strMatcher {
	m := &strMatcher{cased: cased, src: p.String()}
	if !cased {
		p = p.mapLiterals(foldString)
	}
	stars, qs := 0, 0
	for _, x := range p {
		switch x.wild {
		case '*':
			stars++
		case '?', windashClass:
			qs++ // single-character pieces: only the glob matcher handles them
		}
	}
	n := len(p)
	switch {
	case n == 0:
		m.op, m.lit = opEqual, []byte{}
	case stars == 0 && qs == 0:
		m.op, m.lit = opEqual, []byte(p.text())
	case qs == 0 && n == 1:
		m.op = opAnyValue
	case qs == 0 && n == 2 && p[1].wild == '*':
		m.op, m.lit = opPrefix, []byte(p[0].lit)
	case qs == 0 && n == 2 && p[0].wild == '*':
		m.op, m.lit = opSuffix, []byte(p[1].lit)
	case qs == 0 && n == 3 && p[0].wild == '*' && p[2].wild == '*':
		m.op, m.lit = opContains, []byte(p[1].lit)
	default:
		m.op = opGlob
		m.lit = []byte(p.longestLiteral())
		for _, x := range p {
			m.glob = append(m.glob, globPiece{lit: []byte(x.lit), wild: x.wild})
		}
	}
	m.rare = rareOffset(m.lit)
	return m
}

type globPiece struct {
	lit  []byte
	wild byte
}

func (m *strMatcher) matchBytes(s []byte) bool {
	switch m.op {
	case opEqual:
		return string(s) == string(m.lit)
	case opPrefix:
		return bytes.HasPrefix(s, m.lit)
	case opSuffix:
		return bytes.HasSuffix(s, m.lit)
	case opContains:
		return containsRare(s, m.lit, int(m.rare))
	case opAnyValue:
		return true
	default:
		// Every match contains the longest literal piece: a fast substring check first.
		return containsRare(s, m.lit, int(m.rare)) && globMatch(m.glob, s)
	}
}

// globMatch matches a pattern with '*' and '?' (one UTF-8 character). Backtracking is limited to
// the last '*' seen, which is enough for patterns without character classes: linear in practice,
// O(len(p)·len(s)) at worst.
func globMatch(p []globPiece, s []byte) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for {
		if pi < len(p) {
			x := p[pi]
			switch {
			case x.wild == '*':
				// Skip straight to the next place the literal after the star occurs: the
				// positions before it would fail one by one.
				starP = pi
				pi++
				if pi < len(p) && p[pi].wild == 0 && len(p[pi].lit) > 0 {
					j := bytes.Index(s[si:], p[pi].lit)
					if j < 0 {
						return false
					}
					si += j
				}
				starS = si
				continue
			case x.wild == '?':
				if si < len(s) {
					_, n := utf8.DecodeRune(s[si:])
					si += n
					pi++
					continue
				}
			case x.wild == windashClass:
				if si < len(s) {
					if r, n := utf8.DecodeRune(s[si:]); isWindash(r) {
						si += n
						pi++
						continue
					}
				}
			case bytes.HasPrefix(s[si:], x.lit):
				si += len(x.lit)
				pi++
				continue
			}
		} else if si == len(s) {
			return true
		}
		if starP < 0 || starS >= len(s) {
			return false
		}
		// Let the last '*' swallow one more character and retry what followed it.
		_, n := utf8.DecodeRune(s[starS:])
		pi, si = starP, starS+n
	}
}
