#include "textflag.h"

// func cntvct() uint64
//
// ISB keeps the read of the virtual counter from being hoisted above earlier
// instructions; the second ISB keeps later ones from running ahead of it.
TEXT ·cntvct(SB), NOSPLIT, $0-8
	ISB  $15
	MRS  CNTVCT_EL0, R0
	ISB  $15
	MOVD R0, ret+0(FP)
	RET

// func cntfrq() uint64
TEXT ·cntfrq(SB), NOSPLIT, $0-8
	MRS  CNTFRQ_EL0, R0
	MOVD R0, ret+0(FP)
	RET
