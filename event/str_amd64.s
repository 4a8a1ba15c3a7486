//go:build !purego

#include "textflag.h"

// What an escaped character stands for, at (c>>1)&63 (distinct for " \ / b f n r t).
DATA escapeTable<>+0(SB)/8, $0x0706050403020100
DATA escapeTable<>+8(SB)/8, $0x0f0e0d0c0b0a0908
DATA escapeTable<>+16(SB)/8, $0x2f16151413122210
DATA escapeTable<>+24(SB)/8, $0x1f1e1d1c1b1a1918
DATA escapeTable<>+32(SB)/8, $0x2726252423222120
DATA escapeTable<>+40(SB)/8, $0x2f5c2d2c2b2a2928
DATA escapeTable<>+48(SB)/8, $0x0a3635340c320830
DATA escapeTable<>+56(SB)/8, $0x3f3e3d3c3b090d38
GLOBL escapeTable<>(SB), RODATA|NOPTR, $64

// LOAD_BLOCK loads the next block of a string, src[BX:] up to 64 bytes (CX of them), into Z0
// with K1 set for them, or jumps to done when nothing is left. The load is masked: nothing at or
// past DX is read. Uses R9 and R14 (all ones).
#define LOAD_BLOCK(done) \
	MOVQ    DX, CX; \
	SUBQ    BX, CX; \
	JLE     done; \
	MOVQ    $64, R9; \
	CMPQ    CX, R9; \
	CMOVQGT R9, CX; \
	BZHIQ   CX, R14, R9; \
	KMOVQ   R9, K1; \
	VMOVDQU8.Z (SI)(BX*1), K1, Z0

// FOLD_CONSTANTS broadcasts 'A' into Z4, 'Z'-'A' into Z5 and 'a'-'A' (also ' ', the first byte
// that is no control character) into Z3. Uses AX.
#define FOLD_CONSTANTS \
	MOVL $0x41, AX; \
	VPBROADCASTB AX, Z4; \
	MOVL $25, AX; \
	VPBROADCASTB AX, Z5; \
	MOVL $0x20, AX; \
	VPBROADCASTB AX, Z3

// FOLD lowers the ASCII upper-case letters among the bytes of Z0 that K1 holds. Uses Z10, K6.
#define FOLD \
	VPSUBB  Z4, Z0, Z10; \
	VPCMPUB $2, Z5, Z10, K1, K6; \
	VPADDB  Z3, Z0, K6, Z0

// func scanString(p *byte, n int) (end int, escapes, ctrl, fold uint64)
//
// Scans a JSON string's content, p[:n] being what follows its opening quote, 64 bytes at a
// time, and returns the offset of the closing quote. escapes counts the escapes met (each one of
// \" \\ \/ \b \f \n \r \t), ctrl is nonzero if a raw control character occurs before the closing
// quote, fold nonzero if an upper-case ASCII letter or a non-ASCII byte does. end is -1 when the
// string needs the Go scanner: a \u escape, an invalid escape, or no closing quote in p[:n].
// Bytes past n are never read (masked loads).
TEXT ·scanString(SB), NOSPLIT, $0-48
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), DX
	MOVL $0x22, AX
	VPBROADCASTB AX, Z1 // '"'
	MOVL $0x5c, AX
	VPBROADCASTB AX, Z2 // '\'
	FOLD_CONSTANTS
	XORQ BX, BX         // offset of the block
	MOVQ $0, escapes+24(FP)
	XORQ R15, R15       // control characters seen
	XORQ R13, R13       // bytes to fold seen
	MOVQ $-1, R14

loop:
	LOAD_BLOCK(slow)    // no closing quote
	VPCMPEQB Z1, Z0, K1, K2
	VPCMPEQB Z2, Z0, K1, K3
	VPCMPUB  $1, Z3, Z0, K1, K4 // < 0x20
	VPSUBB   Z4, Z0, Z6
	VPCMPUB  $2, Z5, Z6, K1, K5 // 'A' <= c <= 'Z'
	VPMOVB2M Z0, K6             // >= 0x80 (bytes past the block load as zero)
	KORQ     K5, K6, K5
	KORQ     K2, K3, K7
	KMOVQ    K7, AX             // quotes and backslashes not yet passed
	KMOVQ    K2, R9             // quotes
	KMOVQ    K4, R10
	KMOVQ    K5, R11

next:
	TESTQ    AX, AX
	JNZ      special
	ORQ      R10, R15
	ORQ      R11, R13
	ADDQ     CX, BX
	JMP      loop

special:
	// The first quote or backslash not yet passed, at BX+DI. Escaped characters are never
	// control characters or letters to fold, so the block's masks count up to the closing quote.
	TZCNTQ AX, DI
	BTQ    DI, R9
	JCS    quote
	LEAQ   1(DI), R9
	CMPQ   R9, CX
	JGE    straddle
	LEAQ   (BX)(R9*1), R9
	MOVBLZX (SI)(R9*1), R9      // the escaped character
	CMPQ   R9, $64
	JGE    high
	MOVQ   $0x800400000000, R8 // '"', '/'
	BTQ    R9, R8
	JCC    slow
	JMP    escaped

high:
	SUBQ   $64, R9
	CMPQ   R9, $64
	JGE    slow
	MOVQ   $0x14404410000000, R8 // '\', 'b', 'f', 'n', 'r', 't'
	BTQ    R9, R8
	JCC    slow

escaped:
	INCQ   escapes+24(FP)
	// Pass the backslash and the escaped character: clear their bits and those below.
	LEAQ   1(DI), R9
	MOVQ   $2, R8
	SHLXQ  R9, R8, R8
	DECQ   R8
	ANDNQ  AX, R8, AX
	KMOVQ  K2, R9
	JMP    next

straddle:
	// The escaped character is in the next block: start that block at the backslash.
	TESTQ  DI, DI
	JZ     slow                // the text ends with the backslash
	BZHIQ  DI, R10, R10
	BZHIQ  DI, R11, R11
	ORQ    R10, R15
	ORQ    R11, R13
	ADDQ   DI, BX
	JMP    loop

quote:
	BZHIQ  DI, R10, R10
	BZHIQ  DI, R11, R11
	ORQ    R10, R15
	ORQ    R11, R13
	LEAQ   (BX)(DI*1), CX

	MOVQ   CX, end+16(FP)
	MOVQ   R15, ctrl+32(FP)
	MOVQ   R13, fold+40(FP)
	VZEROUPPER
	RET

slow:
	MOVQ   $-1, end+16(FP)
	MOVQ   $0, escapes+24(FP)
	MOVQ   $0, ctrl+32(FP)
	MOVQ   $0, fold+40(FP)
	VZEROUPPER
	RET

// func foldASCII64(dst, src *byte, n int) (ok bool)
//
// Copies src[:n] to dst[:n] with ASCII upper-case letters lowered, 64 bytes at a time; ok is false
// if src holds a non-ASCII byte (Unicode folding is the caller's), dst then partly written.
TEXT ·foldASCII64(SB), NOSPLIT, $0-25
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), DX
	FOLD_CONSTANTS
	XORQ BX, BX
	MOVQ $-1, R14

foldloop:
	LOAD_BLOCK(folddone)
	VPMOVB2M Z0, K6
	KORTESTQ K6, K6
	JNZ  nonascii
	FOLD
	VMOVDQU8 Z0, K1, (DI)(BX*1)
	ADDQ CX, BX
	JMP  foldloop

folddone:
	MOVB $1, ok+24(FP)
	VZEROUPPER
	RET

nonascii:
	MOVB $0, ok+24(FP)
	VZEROUPPER
	RET

// func unescapeFold(raw, lower, src *byte, n int) (written int, ok bool)
//
// Unescapes the content of a string scanString accepted (its escapes are all one of \" \\ \/ \b
// \f \n \r \t), src[:n], into raw, and unless lower is nil also into lower with ASCII upper-case
// letters lowered, 64 bytes at a time (VPCOMPRESSB drops the escaping backslashes). Both
// receive written bytes, at most n. ok is false if lower is wanted and the string holds a
// non-ASCII byte (Unicode folding is the caller's).
TEXT ·unescapeFold(SB), NOSPLIT, $0-41
	MOVQ raw+0(FP), DI
	MOVQ lower+8(FP), R11
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), DX
	VMOVDQU64 escapeTable<>(SB), Z7
	MOVL $0x5c, AX
	VPBROADCASTB AX, Z2 // '\'
	FOLD_CONSTANTS
	MOVL $0x3f, AX
	VPBROADCASTB AX, Z8
	XORQ BX, BX         // bytes of src done
	XORQ R12, R12       // bytes written
	MOVQ $-1, R14

uloop:
	LOAD_BLOCK(udone)
	VPCMPEQB Z2, Z0, K1, K2
	KMOVQ K2, AX        // backslashes not yet passed
	MOVQ  R9, R10       // bytes to keep
	XORQ  R13, R13      // escaped characters

uesc:
	TESTQ AX, AX
	JZ    utranslate
	TZCNTQ AX, R8       // an escaping backslash
	LEAQ  1(R8), R15
	CMPQ  R15, CX
	JGE   ustraddle
	BTRQ  R8, R10
	BTSQ  R15, R13
	MOVQ  $2, R9
	SHLXQ R15, R9, R9
	DECQ  R9
	ANDNQ AX, R9, AX    // pass the backslash and the character it escapes
	JMP   uesc

ustraddle:
	// The block ends with an escaping backslash: end it before, the next starts there.
	TESTQ R8, R8
	JZ    ufail
	MOVQ  R8, CX
	BZHIQ CX, R10, R10

utranslate:
	KMOVQ    R13, K3
	VPSRLW   $1, Z0, Z6
	VPANDQ   Z8, Z6, Z6
	VPERMB   Z7, Z6, Z6
	VMOVDQU8 Z6, K3, Z0 // escaped characters replaced by what they stand for
	KMOVQ    R10, K4
	VPCOMPRESSB Z0, K4, Z9
	POPCNTQ  R10, R15   // bytes out
	BZHIQ    R15, R14, R9
	KMOVQ    R9, K5
	VMOVDQU8 Z9, K5, (DI)(R12*1)
	TESTQ    R11, R11
	JZ       unext
	VPMOVB2M Z0, K6
	KTESTQ   K6, K4
	JNZ      ufail
	FOLD
	VPCOMPRESSB Z0, K4, Z9
	VMOVDQU8 Z9, K5, (R11)(R12*1)

unext:
	ADDQ R15, R12
	ADDQ CX, BX
	JMP  uloop

udone:
	MOVQ R12, written+32(FP)
	MOVB $1, ok+40(FP)
	VZEROUPPER
	RET

ufail:
	MOVQ $0, written+32(FP)
	MOVB $0, ok+40(FP)
	VZEROUPPER
	RET

// func asciiRun(p *byte, n int) int
//
// Returns how many of p[:n]'s leading bytes are ASCII, 64 bytes at a time.
TEXT ·asciiRun(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), DX
	XORQ BX, BX
	MOVQ $-1, R14

aloop:
	LOAD_BLOCK(adone)
	VPMOVB2M Z0, K2 // bytes past the block load as zero
	KMOVQ    K2, AX
	TESTQ    AX, AX
	JNZ      afound
	ADDQ     CX, BX
	JMP      aloop

afound:
	TZCNTQ AX, AX
	ADDQ   AX, BX

adone:
	MOVQ BX, ret+16(FP)
	VZEROUPPER
	RET
