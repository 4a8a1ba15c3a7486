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
