#include "textflag.h"

// func rdtscp() uint64
//
// RDTSCP waits until every earlier instruction has executed before it reads
// the counter; the LFENCE after it keeps later instructions from starting
// before the read. Together they pin the reading between the code before and
// after the call, which is what timing a system call needs.
TEXT ·rdtscp(SB), NOSPLIT, $0-8
	RDTSCP
	LFENCE
	SHLQ $32, DX
	ORQ  DX, AX
	MOVQ AX, ret+0(FP)
	RET

// func rdtscFenced() uint64
//
// For CPUs without RDTSCP: LFENCE before RDTSC orders it after earlier
// instructions, LFENCE after it orders later ones.
TEXT ·rdtscFenced(SB), NOSPLIT, $0-8
	LFENCE
	RDTSC
	LFENCE
	SHLQ $32, DX
	ORQ  DX, AX
	MOVQ AX, ret+0(FP)
	RET

// func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET
