package detect

import (
	"math/rand"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-detect/vigil/event"
)

// globMatch against the regular expression the same pattern means, on random patterns and texts
// over a small alphabet (so that literals recur and stars must backtrack).
func TestGlobMatchAgainstRegexp(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	lits := []string{"a", "b", "ab", "ba", "aab", "é"}
	for i := 0; i < 20000; i++ {
		var p []globPiece
		re := "(?s)^"
		for k := 0; k < 1+r.Intn(6); k++ {
			switch r.Intn(4) {
			case 0:
				p = append(p, globPiece{wild: '*'})
				re += ".*"
			case 1:
				p = append(p, globPiece{wild: '?'})
				re += "."
			default:
				l := lits[r.Intn(len(lits))]
				p = append(p, globPiece{lit: []byte(l)})
				re += regexp.QuoteMeta(l)
			}
		}
		var s strings.Builder
		for k := 0; k < r.Intn(10); k++ {
			s.WriteString(lits[r.Intn(len(lits))])
		}
		want := regexp.MustCompile(re + "$").MatchString(s.String())
		if got := globMatch(p, []byte(s.String())); got != want {
			t.Fatalf("pattern %s on %q: glob %v, regexp %v", re, s.String(), got, want)
		}
	}
}

// classRun.present probes one position in n: it must agree with a byte-by-byte count.
func TestClassRunAgainstCounting(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	c := &classRun{}
	for _, x := range "0123456789abcdefABCDEF" {
		c.in[x] = true
	}
	for i := 0; i < 20000; i++ {
		c.n = 1 + r.Intn(12)
		b := make([]byte, r.Intn(60))
		for j := range b {
			alphabet := "0a9Fx g-\xc3"
			b[j] = alphabet[r.Intn(len(alphabet))]
		}
		want, run := false, 0
		for _, x := range b {
			if x < 0x80 && c.in[x] {
				run++
			} else {
				run = 0
			}
			want = want || run >= c.n
		}
		if got := c.present(b); got != want {
			t.Fatalf("run of %d in %q: %v, want %v", c.n, b, got, want)
		}
	}
}

// TestRegexRequiredSets: a regular expression's prefilter requires a literal from each part of a
// concatenation that has one, and never rejects a value the expression matches.
func TestRegexRequiredSets(t *testing.T) {
	cases := []struct {
		re      string
		want    [][]string // sets the prefilter must check (others may come too)
		matches []string
		rejects []string // values the prefilter alone rejects
	}{
		{`\s-\s*<`, [][]string{{"<"}, {"-"}}, []string{`powershell - < script.ps1`, "pwsh\t-<x"}, []string{`powershell -nop -c whoami`}},
		{`(?i)(?:set).*&&\s?set.*(?:environment|invoke|\$\{?input).*&&.*"`, [][]string{{"&&"}, {"set"}},
			[]string{`cmd /c "SET x=1&& set y=invoke && echo "`}, []string{`cmd /c set x=1 & set y=invoke & echo "`}},
		{`(?i)\.exe["']?\s+[^"]{0,64}werfaultsecure\.exe`, [][]string{{"werfaultsecure.exe"}, {".exe"}},
			[]string{`wsass.exe c:\x\WerFaultSecure.exe 123`}, []string{`wsass.exe c:\x\werfault.exe 123`}},
		{`(a|b)cd`, [][]string{{"cd"}}, []string{"xacd", "bcd"}, []string{"xyz"}},
	}
	for _, c := range cases {
		vm, err := compileRegex(c.re, "", false)
		if err != nil {
			t.Fatal(err)
		}
		m := vm.(*regexMatcher)
		for _, w := range c.want {
			found := false
			for _, set := range m.required {
				found = found || slices.EqualFunc(set, w, func(f finder, s string) bool { return string(f.lit) == s })
			}
			if !found {
				t.Errorf("%s: prefilter sets %q lack %q", c.re, m.required, w)
			}
		}
		for _, s := range c.matches {
			v := event.Value{Kind: event.String, Raw: []byte(s), Lower: []byte(strings.ToLower(s))}
			if !m.match(nil, &v) {
				t.Errorf("%s: %q not matched", c.re, s)
			}
		}
		for _, s := range c.rejects {
			lower := []byte(strings.ToLower(s))
			passes := true
			for _, set := range m.required {
				passes = passes && containsAny(lower, set)
			}
			if passes {
				t.Errorf("%s: prefilter lets %q through", c.re, s)
			}
		}
	}
}
