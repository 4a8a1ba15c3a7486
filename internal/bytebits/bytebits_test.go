package bytebits

import (
	"math/rand/v2"
	"testing"
)

// TestUnionMatchesLoop: Union, vector or not, equals the byte-by-byte union for random tables
// (few bytes with a bit, as the index has, and every bit number up to 63) over texts of every
// length up to several 64-byte blocks and every byte value.
func TestUnionMatchesLoop(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for round := range 300 {
		var table [256]uint8
		for range 1 + r.IntN(30) {
			table[r.IntN(256)] = uint8(r.IntN(64))
		}
		if round%10 == 0 {
			for c := range table {
				table[c] = uint8(r.IntN(256)) // bit numbers are taken mod 64
			}
		}
		for n := 0; n <= 300; n += 1 + r.IntN(7) {
			text := make([]byte, n)
			for i := range text {
				text[i] = byte(r.IntN(256))
				if r.IntN(4) > 0 {
					text[i] = 'a' + byte(r.IntN(26))
				}
			}
			if got, want := Union(text, &table), unionLoop(text, &table); got != want {
				t.Fatalf("round %d, %d bytes: %#x, want %#x", round, n, got, want)
			}
		}
	}
}

func BenchmarkUnion(b *testing.B) {
	var table [256]uint8
	for i, c := range []byte(" #$&*-.;<>^`{}") {
		table[c] = uint8(i + 1)
	}
	text := make([]byte, 4800)
	for i := range text {
		text[i] = "abcdefghij klmnop-qrs.tuv(wxyz)\n"[i%32]
	}
	b.SetBytes(int64(len(text)))
	for _, c := range []struct {
		name string
		f    func([]byte, *[256]uint8) uint64
	}{{"Union", Union}, {"loop", unionLoop}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				c.f(text, &table)
			}
		})
	}
}
