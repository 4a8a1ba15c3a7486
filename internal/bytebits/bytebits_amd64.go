//go:build !purego

package bytebits

import "golang.org/x/sys/cpu"

// vector: the CPU can run unionAVX512 (AVX-512 BW and VBMI's two-table byte permute, BMI2).
var vector = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VBMI && cpu.X86.HasBMI2

// vectorMin is the shortest text unionVector takes: on shorter ones the loop is as fast.
const vectorMin = 64

// unionAVX512 is Union 64 bytes at a time (bytebits_amd64.s).
//
//go:noescape
func unionAVX512(text *byte, n int, table *[256]uint8) uint64

func unionVector(text []byte, table *[256]uint8) (uint64, bool) {
	if !vector || len(text) < vectorMin {
		return 0, false
	}
	return unionAVX512(&text[0], len(text), table), true
}
