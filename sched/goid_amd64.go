package sched

// curg returns an identity of the calling goroutine: the address of its runtime g,
// which stays fixed while the goroutine lives. The loop-only check runs on every
// Add, After and Cancel, so it must cost a register load, not a system call
// (gettid) or a stack dump (runtime.Stack), which are the portable alternatives.
//
//go:noescape
func curg() uintptr

// curgIsThread says whether curg identifies the thread rather than the
// goroutine; here it reads the goroutine, so the loop need not be locked.
const curgIsThread = false
