//go:build linux && !amd64

package sched

import "golang.org/x/sys/unix"

// curg returns an identity of the calling goroutine. Where no assembly reads the
// runtime g, the thread id serves: the loop goroutine is locked to its thread and
// no other goroutine runs there while it lives. It costs a system call per check.
func curg() uintptr { return uintptr(unix.Gettid()) }
