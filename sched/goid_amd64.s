#include "textflag.h"

// func curg() uintptr
// Returns the address of the running goroutine's g, which ABI0 code on amd64
// finds at the start of thread-local storage.
TEXT ·curg(SB), NOSPLIT, $0-8
	MOVQ (TLS), AX
	MOVQ AX, ret+0(FP)
	RET
