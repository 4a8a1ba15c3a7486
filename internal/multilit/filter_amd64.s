//go:build !purego

#include "textflag.h"

// The 4-byte windows at 16 consecutive positions, as the dwords gram() builds (first byte
// highest): lane j takes bytes j+3, j+2, j+1, j of a 32-byte load.
DATA gramBytes<>+0(SB)/8, $0x0102030400010203
DATA gramBytes<>+8(SB)/8, $0x0304050602030405
DATA gramBytes<>+16(SB)/8, $0x0506070804050607
DATA gramBytes<>+24(SB)/8, $0x0708090a06070809
DATA gramBytes<>+32(SB)/8, $0x090a0b0c08090a0b
DATA gramBytes<>+40(SB)/8, $0x0b0c0d0e0a0b0c0d
DATA gramBytes<>+48(SB)/8, $0x0d0e0f100c0d0e0f
DATA gramBytes<>+56(SB)/8, $0x0f1011120e0f1011
GLOBL gramBytes<>(SB), RODATA|NOPTR, $64

DATA hashMul<>+0(SB)/4, $0x9E3779B1
GLOBL hashMul<>(SB), RODATA|NOPTR, $4
DATA lowBits<>+0(SB)/4, $31
GLOBL lowBits<>(SB), RODATA|NOPTR, $4
DATA one<>+0(SB)/4, $1
GLOBL one<>(SB), RODATA|NOPTR, $4

// WINDOWS_LEFT sets K4 for the windows of the round at BX that end in the text: at most 16, and
// DX-BX-back of them (back is a window's length less one). Uses AX and R15.
#define WINDOWS_LEFT(back) \
	MOVQ    DX, AX; \
	SUBQ    BX, AX; \
	SUBQ    back, AX; \
	CMPQ    AX, R13; \
	CMOVQGT R13, AX; \
	BZHIQ   AX, R14, R15; \
	KMOVQ   R15, K4

// TEST_GRAMS tests 16 grams (dwords) against a bitmap whose mask is broadcast in mask, and ORs
// the hits of the windows K4 keeps, as bits from BX on, into out: the bit index is the gram's
// hash (bit()), its dword gathered, the bit shifted down and tested. Uses Z2-Z5, K2, K3, AX.
#define TEST_GRAMS(grams, bitmap, mask, out) \
	VPMULLD    Z23, grams, Z2; \
	VPSRLD     $14, Z2, Z2; \
	VPANDD     mask, Z2, Z2; \
	VPSRLD     $5, Z2, Z3; \
	VPANDD     Z24, Z2, Z5; \
	KXNORW     K2, K2, K2; \
	VPGATHERDD (bitmap)(Z3*4), K2, Z4; \
	VPSRLVD    Z5, Z4, Z4; \
	VPTESTMD   Z25, Z4, K4, K3; \
	KMOVW      K3, AX; \
	SHLXQ      BX, AX, AX; \
	ORQ        AX, out

// func filter(text *byte, n int, b4 *uint64, m4 uint64, b3 *uint64, m3 uint64) (hits4, hits3 uint64)
//
// Tests the windows at the first 64 positions of text[:n] (n >= 3) against the bitmaps, 16
// positions per round, and returns a bit per position whose window hits. Bytes past n are never
// read (masked loads), and windows that would reach past n are not reported. A nil bitmap is
// skipped.
TEXT ·filter(SB), NOSPLIT, $0-64
	MOVQ text+0(FP), SI
	MOVQ n+8(FP), DX
	MOVQ b4+16(FP), R8
	VPBROADCASTD m4+24(FP), Z20
	MOVQ b3+32(FP), R9
	VPBROADCASTD m3+40(FP), Z21
	VMOVDQU64 gramBytes<>(SB), Z22
	VPBROADCASTD hashMul<>(SB), Z23
	VPBROADCASTD lowBits<>(SB), Z24
	VPBROADCASTD one<>(SB), Z25
	MOVQ $32, R12
	MOVQ $16, R13
	MOVQ $-1, R14
	XORQ R10, R10 // hits4
	XORQ R11, R11 // hits3
	MOVQ DX, CX
	SUBQ $2, CX   // positions with a window
	MOVQ $64, AX
	CMPQ CX, AX
	CMOVQGT AX, CX
	XORQ BX, BX   // the round's first position

loop:
	CMPQ BX, CX
	JGE  done

	// Load text[BX:BX+32], or what there is of it, and build the 16 grams.
	MOVQ    DX, AX
	SUBQ    BX, AX        // bytes left (at least 3)
	CMPQ    AX, R12
	CMOVQGT R12, AX
	BZHIQ   AX, R14, R15
	KMOVQ   R15, K1
	VMOVDQU8.Z (SI)(BX*1), K1, Z0
	VPERMB  Z0, Z22, Z1   // 4-byte grams

	TESTQ R8, R8
	JZ    q3
	WINDOWS_LEFT($3)
	TEST_GRAMS(Z1, R8, Z20, R10)

q3:
	TESTQ R9, R9
	JZ    next
	WINDOWS_LEFT($2)
	VPSRLD $8, Z1, Z6 // 3-byte grams
	TEST_GRAMS(Z6, R9, Z21, R11)

next:
	ADDQ $16, BX
	JMP  loop

done:
	VZEROUPPER
	MOVQ R10, hits4+48(FP)
	MOVQ R11, hits3+56(FP)
	RET
