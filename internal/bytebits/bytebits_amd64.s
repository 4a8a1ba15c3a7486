//go:build !purego

#include "textflag.h"

// WIDEN_OR widens the 8 bit numbers at off(SP) to qwords and ORs 1<<each into Z6 (Z7 holds ones).
#define WIDEN_OR(off) \
	VPMOVZXBQ off(SP), Z5; \
	VPSLLVQ   Z5, Z7, Z5; \
	VPORQ     Z5, Z6, Z6

// func unionAVX512(text *byte, n int, table *[256]uint8) uint64
//
// Union 64 bytes at a time: two two-table byte permutes look the bytes up (one for each half of
// the table), each group of 8 is widened to qwords and 1<<bit ORed into an accumulator. Lanes
// past n get bit number 64, which VPSLLVQ shifts out. Bytes past n are never read (masked loads).
TEXT ·unionAVX512(SB), NOSPLIT, $64-32
	MOVQ text+0(FP), SI
	MOVQ n+8(FP), DX
	MOVQ table+16(FP), DI
	VMOVDQU64 0(DI), Z16
	VMOVDQU64 64(DI), Z17
	VMOVDQU64 128(DI), Z18
	VMOVDQU64 192(DI), Z19
	MOVL $64, AX
	VPBROADCASTB AX, Z8 // a bit number past the word
	MOVL $63, AX
	VPBROADCASTB AX, Z9
	MOVQ $1, AX
	VPBROADCASTQ AX, Z7
	VPXORQ Z6, Z6, Z6   // the union
	XORQ BX, BX
	MOVQ $-1, R14

loop:
	MOVQ    DX, CX
	SUBQ    BX, CX
	JLE     done
	MOVQ    $64, R9
	CMPQ    CX, R9
	CMOVQGT R9, CX
	BZHIQ   CX, R14, R9
	KMOVQ   R9, K1
	VMOVDQU8.Z (SI)(BX*1), K1, Z0
	VMOVDQA64 Z0, Z2
	VPERMI2B  Z17, Z16, Z2 // table[c] for c < 128
	VMOVDQA64 Z0, Z3
	VPERMI2B  Z19, Z18, Z3 // table[c] for c >= 128
	VPMOVB2M  Z0, K2
	VMOVDQU8  Z3, K2, Z2
	VPANDQ    Z9, Z2, Z2   // bit numbers are taken mod 64
	VMOVDQA64 Z8, Z4
	VMOVDQU8  Z2, K1, Z4   // bit numbers, 64 past the text
	VMOVDQU64 Z4, (SP)
	WIDEN_OR(0)
	WIDEN_OR(8)
	WIDEN_OR(16)
	WIDEN_OR(24)
	WIDEN_OR(32)
	WIDEN_OR(40)
	WIDEN_OR(48)
	WIDEN_OR(56)
	ADDQ CX, BX
	JMP  loop

done:
	VEXTRACTI64X4 $1, Z6, Y5
	VPOR          Y5, Y6, Y6
	VEXTRACTI128  $1, Y6, X5
	VPOR          X5, X6, X6
	VPSHUFD       $0x4e, X6, X5
	VPOR          X5, X6, X6
	VMOVQ         X6, AX
	MOVQ          AX, ret+24(FP)
	VZEROUPPER
	RET
