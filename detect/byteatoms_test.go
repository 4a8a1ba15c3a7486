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
