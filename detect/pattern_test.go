package detect

import (
	"math/rand"
	"regexp"
	"strings"
	"testing"
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
