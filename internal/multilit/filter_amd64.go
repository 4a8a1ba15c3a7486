//go:build !purego

package multilit

import (
	"math/bits"

	"golang.org/x/sys/cpu"
)

// vectorScan: the CPU can run filter (AVX-512 with VBMI's byte permute, and BMI2).
var vectorScan = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VBMI && cpu.X86.HasBMI2

// filter tests 16 windows at a time against the bitmaps (filter_amd64.s).
//
//go:noescape
func filter(text *byte, n int, b4 *uint64, m4 uint64, b3 *uint64, m3 uint64) (hits4, hits3 uint64)

// vectorMin is the shortest text scanVector takes: below it, the call and the constants cost
// more than Scan's loops.
var vectorMin = 32

// scanVector is scan with the bitmap tests done by filter; it reports false, having done
// nothing, where the CPU cannot run it or the text is short.
func (m *Matcher) scanVector(text []byte, hit func(id int), stop *bool) bool {
	if !vectorScan || len(text) < vectorMin {
		return false
	}
	var b4, b3 *uint64 // nil: no literals, skip the table
	if m.q4.entries != nil {
		b4 = &m.q4.bitmap[0]
	}
	if m.q3.entries != nil {
		b3 = &m.q3.bitmap[0]
	}
	for base := 0; base+MinLen <= len(text); base += 64 {
		h4, h3 := filter(&text[base], len(text)-base, b4, uint64(m.q4.mask), b3, uint64(m.q3.mask))
		for ; h4 != 0; h4 &= h4 - 1 {
			pos := base + bits.TrailingZeros64(h4)
			m.verify(&m.q4, text, pos, gram(text, pos, 4), hit)
		}
		for ; h3 != 0; h3 &= h3 - 1 {
			pos := base + bits.TrailingZeros64(h3)
			m.verify(&m.q3, text, pos, gram(text, pos, 3), hit)
		}
		if stopped(stop) {
			break
		}
	}
	return true
}
