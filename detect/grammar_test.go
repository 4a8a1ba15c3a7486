package detect

import (
	"strings"
	"testing"

	"github.com/vigil-detect/vigil/rules"
)

// Unit tests per grammar case of the condition, from the rules specification: "Operator
// Precedence (least to most binding): or, and, not, x of search-identifier, ( expression )".

// grammarDetection defines one search per letter (a matches {"A":"x"} and so on) plus a few
// names that exercise identifier patterns.
const grammarDetection = `  a: {A: x}
  b: {B: x}
  c: {C: x}
  d: {D: x}
  selection1: {S1: x}
  selection_2: {S2: x}
  selection-3.x: {S3: x}
  filter_main: {F1: x}
  filter_optional_x: {F2: x}
  _private: {P: x}
  keywords: [kw]
`

// ev builds an event holding the given fields with value "x".
func ev(fields ...string) string {
	var parts []string
	for _, f := range fields {
		if f == "kw" {
			parts = append(parts, `"Msg":"has kw in it"`)
			continue
		}
		parts = append(parts, `"`+f+`":"x"`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func cond(c string) string { return grammarDetection + "  condition: " + c }

func TestConditionGrammar(t *testing.T) {
	runCases(t, []matchCase{
		// Logical AND/OR.
		{"or", cond("a or b"), []string{ev("A"), ev("B")}, []string{ev("C")}},
		{"and", cond("a and b"), []string{ev("A", "B")}, []string{ev("A"), ev("B")}},
		{"chained and", cond("a and b and c"), []string{ev("A", "B", "C")}, []string{ev("A", "B")}},
		// Precedence: and binds tighter than or.
		{"a or b and c", cond("a or b and c"), []string{ev("A"), ev("B", "C")}, []string{ev("B"), ev("C")}},
		{"a and b or c", cond("a and b or c"), []string{ev("C"), ev("A", "B")}, []string{ev("A"), ev("B")}},
		// not binds tighter than and and or.
		{"not a or b", cond("not a or b"), []string{ev(), ev("A", "B")}, []string{ev("A")}},
		{"not a and b", cond("not a and b"), []string{ev("B")}, []string{ev("A", "B"), ev()}},
		{"a and not b or c", cond("a and not b or c"), []string{ev("A"), ev("C"), ev("A", "B", "C")}, []string{ev("A", "B")}},
		{"double negation", cond("not not a"), []string{ev("A")}, []string{ev()}},
		// x of binds tighter than not: "not 1 of filter_*" negates the whole x-of.
		{"not 1 of", cond("a and not 1 of filter_*"), []string{ev("A")}, []string{ev("A", "F1"), ev("A", "F2")}},
		{"not all of", cond("a and not all of filter_*"), []string{ev("A"), ev("A", "F1")}, []string{ev("A", "F1", "F2")}},
		// Brackets.
		{"brackets", cond("(a or b) and c"), []string{ev("A", "C"), ev("B", "C")}, []string{ev("A"), ev("C")}},
		{"nested brackets", cond("((a) and ((b or c)))"), []string{ev("A", "C")}, []string{ev("B", "C")}},
		{"not of brackets", cond("not (a or b)"), []string{ev("C")}, []string{ev("A"), ev("B")}},
		// 1/all of them: every identifier not starting with an underscore.
		{"1 of them", cond("1 of them"), []string{ev("D"), ev("kw")}, []string{ev("P"), ev()}},
		{"all of them excludes _ identifiers", grammarDetection[:strings.Index(grammarDetection, "  selection1")] + "  _private: {P: x}\n  condition: all of them",
			[]string{ev("A", "B", "C", "D")}, []string{ev("A", "B", "C")}},
		// 1/all of search-identifier-pattern: "* wildcards ... at arbitrary positions".
		{"1 of selection*", cond("1 of selection*"), []string{ev("S1"), ev("S2"), ev("S3")}, []string{ev("A")}},
		{"all of selection*", cond("all of selection*"), []string{ev("S1", "S2", "S3")}, []string{ev("S1", "S2")}},
		{"digit before the star", cond("1 of selection1*"), []string{ev("S1")}, []string{ev("S2")}},
		{"leading star", cond("1 of *_main"), []string{ev("F1")}, []string{ev("F2")}},
		{"star in the middle", cond("1 of filter_*_x"), []string{ev("F2")}, []string{ev("F1")}},
		{"several stars", cond("all of *filter*"), []string{ev("F1", "F2")}, []string{ev("F1")}},
		{"a lone star is every identifier", cond("all of *"), []string{ev("A", "B", "C", "D", "S1", "S2", "S3", "F1", "F2", "P", "kw")}, []string{ev("A", "B", "C", "D", "S1", "S2", "S3", "F1", "F2", "kw")}},
		{"1 of an identifier", cond("1 of a"), []string{ev("A")}, []string{ev("B")}},
		{"spec example: 1 of selection* and keywords", cond("1 of selection* and keywords"), []string{ev("S2", "kw")}, []string{ev("S2"), ev("kw")}},
		{"spec example: 1 of selection* and not 1 of filter*", cond("1 of selection* and not 1 of filter*"), []string{ev("S1")}, []string{ev("S1", "F2")}},
		// Identifiers with digits, dashes and dots; underscore identifiers by name.
		{"identifier with dash and dot", cond("selection-3.x"), []string{ev("S3")}, nil},
		{"underscore identifier by name", cond("_private"), []string{ev("P")}, nil},
		// Keywords are case-insensitive in Vigil (many rule writers use upper case).
		{"mixed-case x of", cond("ALL Of selection* Or 1 OF THEM"), []string{ev("A")}, []string{ev()}},
		// "The condition can be a list ... They are logically linked with OR."
		{"condition list", grammarDetection + "  condition:\n    - a and b\n    - c", []string{ev("A", "B"), ev("C")}, []string{ev("A")}},
		// Whitespace is free.
		{"tabs and newlines", grammarDetection + "  condition: |\n    a\n    and\tb", []string{ev("A", "B")}, []string{ev("A")}},
	})
}

// "A AND NOT B OR C" above names searches a, b, c in upper case: identifiers are case-sensitive,
// so that condition must fail to compile.
func TestIdentifiersAreCaseSensitive(t *testing.T) {
	set := &rules.Set{}
	set.Add("bad.yml", []byte(ruleYAML(cond("A AND NOT B OR C"))))
	e := Compile(set.Rules, Options{NoRouting: true})
	if len(e.Errors) != 1 || !strings.Contains(e.Errors[0].Error(), `search identifier "A" is not defined`) {
		t.Fatalf("errors %v", e.Errors)
	}
}

func TestConditionGrammarErrors(t *testing.T) {
	cases := map[string]string{
		"a and":             "unexpected end",
		"and a":             `unexpected "and"`,
		"a b":               `unexpected "b"`,
		"(a or b":           "missing ')'",
		"a or b)":           `unexpected ")"`,
		"()":                `unexpected ")"`,
		"not":               "unexpected end",
		"1 of":              "needs a search identifier, pattern or 'them'",
		"all of and":        "needs a search identifier, pattern or 'them'",
		"2 of selection*":   "only '1 of' and 'all of'",
		"any of selection*": "'any of' is not Sigma",
		"selection*":        "can only follow '1 of' or 'all of'",
		"1 of nothing*":     "matches no search identifier",
		"them":              `unexpected "them"`,
		"nope":              `search identifier "nope" is not defined`,
		"a | count() > 3":   "deprecated Sigma",
		"a & b":             "unexpected character",
		"":                  "empty condition",
	}
	for c, want := range cases {
		t.Run(c, func(t *testing.T) {
			set := &rules.Set{}
			set.Add("bad.yml", []byte(ruleYAML(cond(c))))
			var errs []error
			errs = append(errs, set.Errors...)
			if len(errs) == 0 {
				errs = Compile(set.Rules, Options{NoRouting: true}).Errors
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), want) {
				t.Fatalf("errors %v, want %q", errs, want)
			}
			if !strings.HasPrefix(errs[0].Error(), "bad.yml:") {
				t.Errorf("no position: %v", errs[0])
			}
		})
	}
}
