//go:build !purego

package bytebits

import (
	"math/rand/v2"
	"testing"

	"github.com/vigil-detect/vigil/internal/memtest"
)

// TestUnionStopsAtTextEnd: unionAVX512 loads through masks, so a text that ends at an unmapped
// page is read without a fault, and bytes past it (had they been read as zero) add no bit.
func TestUnionStopsAtTextEnd(t *testing.T) {
	if !vector {
		t.Skip("this CPU lacks AVX-512 BW or VBMI, or BMI2: Union runs its loop only")
	}
	page := memtest.GuardedPage(t)
	var table [256]uint8
	table[0] = 9
	table['x'] = 3
	for n := 1; n <= 200; n++ {
		text := page[len(page)-n:]
		for i := range text {
			text[i] = 'x'
		}
		if got := unionAVX512(&text[0], n, &table); got != 1<<3 {
			t.Fatalf("%d bytes: %#x, want %#x", n, got, 1<<3)
		}
	}
}

// TestUnionAVX512ShortTexts: the vector code is right below vectorMin too (Union leaves those
// texts to the loop, so TestUnionMatchesLoop does not reach them), for every length from 1.
func TestUnionAVX512ShortTexts(t *testing.T) {
	if !vector {
		t.Skip("this CPU lacks AVX-512 BW or VBMI, or BMI2: Union runs its loop only")
	}
	r := rand.New(rand.NewPCG(7, 8))
	for n := 1; n <= vectorMin; n++ {
		var table [256]uint8
		for c := range table {
			table[c] = uint8(r.IntN(256))
		}
		text := make([]byte, n)
		for i := range text {
			text[i] = byte(r.IntN(256))
		}
		if got, want := unionAVX512(&text[0], n, &table), unionLoop(text, &table); got != want {
			t.Fatalf("%d bytes: %#x, want %#x", n, got, want)
		}
	}
}
