package detect

import (
	"strings"
	"testing"
)

// FuzzParseCondition checks the condition parser: it never panics or recurses without bound,
// and what it accepts prints back (String) to a condition that parses to the same tree. Seeds:
// testdata/fuzz/FuzzParseCondition.
func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{"sel", "sel and not filter", "1 of sel* and not all of filter_*", "(a or b) and c",
		"all of them", "not not (x)", "a and", "((((a))))", "1 of", "sel | count() > 5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		x, err := parseCondition(src, DefaultMaxConditionDepth)
		if err != nil {
			if x != nil {
				t.Fatalf("error %v with a result", err)
			}
			return
		}
		printed := x.String()
		// Printing adds parentheses around and/or lists: at most one level per level.
		y, err := parseCondition(printed, 2*DefaultMaxConditionDepth+1)
		if err != nil {
			t.Fatalf("%q parsed, but its printed form %q does not: %v", src, printed, err)
		}
		if y.String() != printed {
			t.Fatalf("%q: printed %q, reparsed and printed %q", src, printed, y.String())
		}
		if strings.Count(printed, "(") != strings.Count(printed, ")") {
			t.Fatalf("unbalanced %q", printed)
		}
	})
}
