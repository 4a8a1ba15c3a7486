package detect

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-detect/vigil/rules"
)

// TestManyByteAtoms: a field with more byte atoms than a byteSet has bits (the ones past the
// 62nd share one) still finds every rule whose byte occurs, and only those and the sharers.
func TestManyByteAtoms(t *testing.T) {
	// Printable ASCII (letters fold to one atom per pair) and one character for each UTF-8 lead
	// byte from 0xC3 to 0xDF (a two-byte character leaves its lead byte as its atom).
	var chars []rune
	for c := '!'; c <= '~'; c++ {
		if c != '\'' && c != '\\' && c != '"' && c != '*' && c != '?' && (c < 'A' || c > 'Z') {
			chars = append(chars, c)
		}
	}
	for lead := rune(0xC3); lead <= 0xDF; lead++ {
		chars = append(chars, (lead-0xC0)<<6|0x10)
	}
	var src strings.Builder
	for i, c := range chars {
		fmt.Fprintf(&src, "title: byte %d\nlogsource: {product: test}\ndetection:\n  sel:\n    F|contains|cased: '%c'\n  condition: sel\n---\n", i, c)
	}
	set := &rules.Set{}
	set.Add("bytes.yml", []byte(src.String()))
	if len(set.Errors) > 0 {
		t.Fatal(set.Errors[0])
	}
	fast := Compile(set.Rules, Options{NoRouting: true})
	slow := Compile(set.Rules, Options{NoRouting: true, Reference: true})
	if n := len(fast.index.fields[fast.index.fieldPos[fast.Schema.Add("F")]].bytes); n <= 63 {
		t.Fatalf("only %d byte atoms: the test needs more than 63", n)
	}
	mf, ms := fast.NewMatcher(), slow.NewMatcher()
	for i, c := range chars {
		for _, ev := range []string{fmt.Sprintf(`{"F":"x%cx"}`, c), fmt.Sprintf(`{"F":["%c","%c"]}`, c, chars[(i+7)%len(chars)])} {
			a, err := mf.Match([]byte(ev))
			if err != nil {
				t.Fatal(err)
			}
			a = slices.Clone(a)
			b, _ := ms.Match([]byte(ev))
			if !slices.Equal(a, b) {
				t.Fatalf("%s: matches %v, want %v", ev, a, b)
			}
			if !slices.Contains(a, i) {
				t.Fatalf("%s: rule for %q not matched", ev, c)
			}
		}
	}
}

// TestIndexRequiresEveryClause: a rule is evaluated only on events meeting all of its clauses
// (up to maxClauses), however often and in whatever order one clause is met, and a clause met by
// a field check (presence, an integer) counts like one met by a literal.
func TestIndexRequiresEveryClause(t *testing.T) {
	set := &rules.Set{}
	set.Add("clauses.yml", []byte(`title: four clauses
logsource: {product: test}
detection:
  sel:
    Image|endswith: '\powershell.exe'
    CommandLine|contains|all: ['-enc', 'hidden']
    EventID: 1
  condition: sel
`))
	if len(set.Errors) > 0 {
		t.Fatal(set.Errors[0])
	}
	e := Compile(set.Rules, Options{NoRouting: true})
	m := e.NewMatcher()
	m.SampleCosts(1)
	for _, c := range []struct {
		ev        string
		evaluated bool
	}{
		{`{"Image":"c:\\powershell.exe","CommandLine":"-enc -enc -enc","EventID":1}`, false},
		{`{"Image":"c:\\powershell.exe","CommandLine":"hidden -enc hidden","EventID":2}`, false},
		{`{"Image":"c:\\cmd.exe","CommandLine":"hidden -enc","EventID":1}`, false},
		{`{"Image":["c:\\powershell.exe","c:\\powershell.exe"],"CommandLine":["-enc","-enc"],"EventID":1}`, false},
		{`{"CommandLine":"hidden -enc","Image":"x\\powershell.exe","EventID":1}`, true},
		// |all wants both in one value; the index sees the field's values together, so it lets
		// the rule through to be evaluated (and not match)
		{`{"Image":["c:\\powershell.exe","c:\\powershell.exe"],"CommandLine":["-enc","hidden"],"EventID":1}`, true},
	} {
		if _, err := m.Match([]byte(c.ev)); err != nil {
			t.Fatal(err)
		}
		costs := make([]RuleCost, 1)
		m.TakeCosts(costs)
		if got := costs[0].Evals > 0; got != c.evaluated {
			t.Errorf("%s: evaluated %v, want %v", c.ev, got, c.evaluated)
		}
	}
}
