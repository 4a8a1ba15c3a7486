package detect

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// containsRare must agree with bytes.Contains whichever byte of the literal it is keyed on.
func TestContainsRareAgreesWithContains(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte(`ab\ .x"`)
	text := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return b
	}
	for range 20000 {
		s := text(rng.IntN(40))
		var lit []byte
		if len(s) > 0 && rng.IntN(2) == 0 {
			i := rng.IntN(len(s))
			lit = s[i : i+rng.IntN(len(s)-i+1)]
		} else {
			lit = text(rng.IntN(6))
		}
		want := bytes.Contains(s, lit)
		for rare := range max(len(lit), 1) {
			if got := containsRare(s, lit, rare); got != want {
				t.Fatalf("containsRare(%q, %q, %d) = %v, want %v", s, lit, rare, got, want)
			}
		}
		f := newFinder(lit)
		if got := f.in(s); got != want {
			t.Fatalf("finder %q (rare %d) in %q = %v, want %v", lit, f.rare, s, got, want)
		}
	}
}

func TestRareOffsetPicksTheRarestByte(t *testing.T) {
	for _, c := range []struct {
		lit  string
		want uint16
	}{
		{`\system32\`, 2}, // y: rarer than \, s, t, e, m and the digits
		{` -enc `, 1},     // -: rarer than letters and spaces
		{`.exe`, 2},       // x
		{`aaa`, 0},        // a tie: the first
		{`\q`, 1},
		{"\xc3\xa9t\xc3\xa9", 0}, // bytes not listed are the rarest
	} {
		if got := rareOffset([]byte(c.lit)); got != c.want {
			t.Errorf("rareOffset(%q) = %d, want %d", c.lit, got, c.want)
		}
	}
}
