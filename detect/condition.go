package detect

import (
	"fmt"
	"path"
	"strings"
)

// The condition grammar, loosest binding first:
//
//	expr    = and { "or" and }
//	and     = not { "and" not }
//	not     = "not" not | primary
//	primary = "(" expr ")" | ("1" | "all") "of" (ident | pattern | "them") | ident
//
// Keywords are case-insensitive. Search identifiers may contain letters, digits, '_', '-' and '.';
// a pattern may also contain '*' anywhere. sigma-go's parser rejects several of these (patterns such
// as "selection1*" or "*_filter", upper-case operators), so conditions are parsed here.

type condExpr interface{ String() string }

type (
	condAnd   []condExpr
	condOr    []condExpr
	condNot   struct{ x condExpr }
	condIdent string
	condOf    struct {
		all    bool
		target string // an identifier, a pattern with '*', or "them"
	}
)

func joinCond(xs []condExpr, op string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = x.String()
	}
	return "(" + strings.Join(s, " "+op+" ") + ")"
}

func (c condAnd) String() string   { return joinCond(c, "and") }
func (c condOr) String() string    { return joinCond(c, "or") }
func (c condNot) String() string   { return "not " + c.x.String() }
func (c condIdent) String() string { return string(c) }
func (c condOf) String() string {
	if c.all {
		return "all of " + c.target
	}
	return "1 of " + c.target
}

type condParser struct {
	toks     []string
	pos      int
	src      string
	depth    int // current nesting of parentheses and 'not'
	maxDepth int
}

// parseCondition parses one condition expression; nesting deeper than maxDepth (parentheses
// and 'not') is an error, which bounds the parser's recursion on hostile input.
func parseCondition(src string, maxDepth int) (condExpr, error) {
	toks, err := tokenizeCondition(src)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("empty condition")
	}
	p := &condParser{toks: toks, src: src, maxDepth: maxDepth}
	x, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, fmt.Errorf("condition %q: unexpected %q", src, p.toks[p.pos])
	}
	return x, nil
}

func tokenizeCondition(s string) ([]string, error) {
	if strings.Contains(s, "|") {
		return nil, fmt.Errorf("condition %q: aggregation expressions (\"| count() ...\") are deprecated Sigma; write a correlation rule instead", s)
	}
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, s[i:i+1])
			i++
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		default:
			return nil, fmt.Errorf("condition %q: unexpected character %q at column %d", s, c, i+1)
		}
	}
	return toks, nil
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '*' || c == '-' || c == '.' || c >= 0x80
}

func (p *condParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *condParser) keyword(kw string) bool {
	if strings.EqualFold(p.peek(), kw) {
		p.pos++
		return true
	}
	return false
}

func (p *condParser) or() (condExpr, error) {
	x, err := p.and()
	if err != nil {
		return nil, err
	}
	xs := []condExpr{x}
	for p.keyword("or") {
		y, err := p.and()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	if len(xs) == 1 {
		return x, nil
	}
	return condOr(xs), nil
}

func (p *condParser) and() (condExpr, error) {
	x, err := p.not()
	if err != nil {
		return nil, err
	}
	xs := []condExpr{x}
	for p.keyword("and") {
		y, err := p.not()
		if err != nil {
			return nil, err
		}
		xs = append(xs, y)
	}
	if len(xs) == 1 {
		return x, nil
	}
	return condAnd(xs), nil
}

// enter counts one level of nesting.
func (p *condParser) enter() error {
	p.depth++
	if p.depth > p.maxDepth {
		return fmt.Errorf("condition %q: nested deeper than %d (rule_limits.max_condition_depth)", p.src, p.maxDepth)
	}
	return nil
}

func (p *condParser) not() (condExpr, error) {
	if p.keyword("not") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return condNot{x}, nil
	}
	return p.primary()
}

func isReserved(t string) bool {
	switch strings.ToLower(t) {
	case "and", "or", "not", "of", "them", "(", ")":
		return true
	}
	return false
}

func (p *condParser) primary() (condExpr, error) {
	t := p.peek()
	switch {
	case t == "":
		return nil, fmt.Errorf("condition %q: unexpected end", p.src)
	case t == "(":
		p.pos++
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("condition %q: missing ')'", p.src)
		}
		p.pos++
		return x, nil
	case (t == "1" || strings.EqualFold(t, "all") || strings.EqualFold(t, "any")) && p.pos+1 < len(p.toks) && strings.EqualFold(p.toks[p.pos+1], "of"):
		if strings.EqualFold(t, "any") {
			return nil, fmt.Errorf("condition %q: 'any of' is not Sigma; use '1 of'", p.src)
		}
		p.pos += 2
		target := p.peek()
		if target == "" || (isReserved(target) && !strings.EqualFold(target, "them")) {
			return nil, fmt.Errorf("condition %q: '%s of' needs a search identifier, pattern or 'them'", p.src, t)
		}
		p.pos++
		if strings.EqualFold(target, "them") {
			target = "them"
		}
		return condOf{all: t != "1", target: target}, nil
	case p.pos+1 < len(p.toks) && strings.EqualFold(p.toks[p.pos+1], "of"):
		return nil, fmt.Errorf("condition %q: '%s of' is not Sigma; only '1 of' and 'all of' exist", p.src, t)
	case isReserved(t):
		return nil, fmt.Errorf("condition %q: unexpected %q", p.src, t)
	case strings.Contains(t, "*"):
		return nil, fmt.Errorf("condition %q: the pattern %q can only follow '1 of' or 'all of'", p.src, t)
	}
	p.pos++
	return condIdent(t), nil
}

// expandOf returns the search names an x-of target covers, in a stable order.
func expandOf(target string, names []string) []string {
	var out []string
	for _, n := range names {
		switch {
		case target == "them":
			if !strings.HasPrefix(n, "_") {
				out = append(out, n)
			}
		case strings.Contains(target, "*"):
			if ok, _ := path.Match(target, n); ok {
				out = append(out, n)
			}
		case target == n:
			out = append(out, n)
		}
	}
	return out
}
