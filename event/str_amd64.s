#include "textflag.h"

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
	MOVL $0x20, AX
	VPBROADCASTB AX, Z3 // below it: control characters
	MOVL $0x41, AX
	VPBROADCASTB AX, Z4 // 'A'
	MOVL $25, AX
	VPBROADCASTB AX, Z5 // 'Z'-'A'
	XORQ BX, BX         // offset of the block
	MOVQ $0, escapes+24(FP)
	XORQ R15, R15       // control characters seen
	XORQ R13, R13       // bytes to fold seen
	MOVQ $-1, R14
	MOVQ $64, R12

loop:
	MOVQ DX, CX
	SUBQ BX, CX
	JLE  slow           // no closing quote
	CMPQ CX, R12
	CMOVQGT R12, CX     // block length
	BZHIQ CX, R14, R9
	KMOVQ R9, K1
	VMOVDQU8.Z (SI)(BX*1), K1, Z0
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
	MOVL $0x41, AX
	VPBROADCASTB AX, Z4 // 'A'
	MOVL $25, AX
	VPBROADCASTB AX, Z5 // 'Z'-'A'
	MOVL $0x20, AX
	VPBROADCASTB AX, Z3 // 'a'-'A'
	XORQ BX, BX
	MOVQ $-1, R14
	MOVQ $64, R12

foldloop:
	MOVQ DX, CX
	SUBQ BX, CX
	JLE  folddone
	CMPQ CX, R12
	CMOVQGT R12, CX
	BZHIQ CX, R14, R9
	KMOVQ R9, K1
	VMOVDQU8.Z (SI)(BX*1), K1, Z0
	VPMOVB2M Z0, K6
	KORTESTQ K6, K6
	JNZ  nonascii
	VPSUBB   Z4, Z0, Z6
	VPCMPUB  $2, Z5, Z6, K1, K2 // 'A' <= c <= 'Z'
	VPADDB   Z3, Z0, K2, Z0
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
