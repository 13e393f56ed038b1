//go:build linux && !amd64

package sched

import "golang.org/x/sys/unix"

// curg returns an identity of the calling goroutine. Where no assembly reads the
// runtime g, the thread id serves: the loop goroutine is locked to its thread and
// no other goroutine runs there while it lives. It costs a system call per check.
func curg() uintptr { return uintptr(unix.Gettid()) }

// curgIsThread says that curg identifies the thread, so the loop must stay on
// its thread for the loop-only check to hold.
const curgIsThread = true
