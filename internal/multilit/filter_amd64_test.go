//go:build !purego

package multilit

import (
	"math/rand"
	"sort"
	"testing"

	"github.com/vigil-detect/vigil/internal/memtest"
)

func requireVector(t *testing.T) {
	t.Helper()
	if !vectorScan {
		t.Skip("this CPU lacks AVX-512 (F, BW, VBMI) or BMI2: Scan runs its Go loops only")
	}
}

func collect(scan func([]byte, func(int)), text []byte) []int {
	var out []int
	scan(text, func(id int) { out = append(out, id) })
	sort.Ints(out)
	return out
}

// TestVectorScanMatchesLoops: the vector filter reports what the Go loops do, for tables of
// 3-byte literals, longer ones, both and neither, over texts of every length up to three calls'
// worth (windows that end exactly at, or one byte past, the text's end included).
func TestVectorScanMatchesLoops(t *testing.T) {
	requireVector(t)
	defer func(n int) { vectorMin = n }(vectorMin)
	vectorMin = MinLen
	r := rand.New(rand.NewSource(4))
	alpha := []byte("abAB\\ .\x00\xff")
	word := func(n int) []byte {
		l := make([]byte, n)
		for j := range l {
			l[j] = alpha[r.Intn(len(alpha))]
		}
		return l
	}
	for round := range 400 {
		var b Builder
		var lits [][]byte
		short, long := round%4 != 1, round%4 != 2
		if round%4 == 3 {
			short, long = false, false
		}
		for range 1 + r.Intn(60) {
			n := 3
			if !short || long && r.Intn(2) == 0 {
				n = 4 + r.Intn(9)
			}
			if !short && !long {
				break
			}
			lits = append(lits, word(n))
			b.Add(lits[len(lits)-1])
		}
		m := b.Build()
		for n := 0; n <= 200; n++ {
			text := word(n)
			for k := 0; k < len(lits) && k < 8 && n > 12; k++ { // plant some literals, one at the very end
				at := r.Intn(n - len(lits[k]) + 1)
				if k == 0 {
					at = n - len(lits[k])
				}
				copy(text[at:], lits[k])
			}
			if n >= MinLen {
				got := collect(func(t []byte, h func(int)) {
					if !m.scanVector(t, h, nil) {
						panic("scanVector declined")
					}
				}, text)
				if want := collect(func(t []byte, h func(int)) { m.scanLoops(t, h, nil) }, text); !equal(got, want) {
					t.Fatalf("round %d, literals %q, text %q: vector %v, loops %v", round, lits, text, got, want)
				}
			}
		}
	}
}

// TestVectorScanStopsAtTextEnd: the filter's loads are masked to the text, so a text that ends
// at an unmapped page is scanned without a fault.
func TestVectorScanStopsAtTextEnd(t *testing.T) {
	requireVector(t)
	defer func(n int) { vectorMin = n }(vectorMin)
	vectorMin = MinLen
	page := memtest.GuardedPage(t)
	var b Builder
	b.Add([]byte("abc"))
	b.Add([]byte("zzzz"))
	m := b.Build()
	for n := MinLen; n <= 130; n++ {
		text := page[len(page)-n:]
		for i := range text {
			text[i] = 'x'
		}
		copy(text[n-3:], "abc")
		if got := collect(func(t []byte, h func(int)) { m.scanVector(t, h, nil) }, text); !equal(got, []int{0}) {
			t.Fatalf("%d bytes ending in abc: got %v", n, got)
		}
	}
}
