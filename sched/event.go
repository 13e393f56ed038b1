package sched

import (
	"strconv"
	"strings"
	"time"
)

// Mask is a set of readiness conditions: the interest a callback returns and the
// conditions that fired.
type Mask uint32

// The conditions a descriptor can wait for.
const (
	// Read: data (or end of file, or an error) is ready to be read.
	Read Mask = 1 << iota
	// Write: the descriptor accepts more data.
	Write
	// Except: an exceptional condition such as urgent data (EPOLLPRI).
	Except
)

// maskAll holds every defined bit; other bits are rejected by Add.
const maskAll = Read | Write | Except

// String returns the mask as "read|write|except" ("0" when empty).
func (m Mask) String() string {
	if m == 0 {
		return "0"
	}
	var parts []string
	for _, b := range []struct {
		bit  Mask
		name string
	}{{Read, "read"}, {Write, "write"}, {Except, "except"}} {
		if m&b.bit != 0 {
			parts = append(parts, b.name)
		}
	}
	if rest := m &^ maskAll; rest != 0 {
		parts = append(parts, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	return strings.Join(parts, "|")
}

// Callback handles readiness of an fd event. The loop calls it on the loop
// goroutine only, with the conditions that fired and the time sampled at the start
// of the loop iteration; it must not block. It returns the new interest mask: the
// same mask costs nothing, another mask is applied with one epoll_ctl, and 0 means
// done: the scheduler frees the event. The scheduler never closes the descriptor;
// a callback that closes it must return 0 from the same call.
type Callback func(ev *Event, fired Mask, now time.Time) Mask

// Event is a descriptor registered with a loop. Only the loop goroutine touches
// it, except Resume on a suspended event.
type Event struct {
	// Data is the caller's: the scheduler never reads it.
	Data any

	fd   int
	loop *Loop
	cb   Callback
	// mask is the interest registered in the kernel. A suspended event keeps
	// its registration until the descriptor turns ready (see Suspend), so it
	// may be non-zero there too; 0 means not in the kernel set.
	mask  Mask
	state eventState
	// listener marks events that Shutdown removes first (see AddListener).
	listener bool
}

type eventState uint8

const (
	// stateLive: in the events table and the kernel set.
	stateLive eventState = iota
	// stateSuspended: in the events table (the fd is reserved); its callback is
	// not called until Resume. It leaves the kernel set only if the descriptor
	// turns ready meanwhile.
	stateSuspended
	// stateFree: gone; nothing refers to it but stale handles.
	stateFree
)

// FD returns the event's descriptor. Any goroutine may call it.
func (ev *Event) FD() int { return ev.fd }

// Loop returns the loop that owns the event. Any goroutine may call it.
func (ev *Event) Loop() *Loop { return ev.loop }

// TimerFunc is called on the loop goroutine when a timer fires, with the time
// sampled at the start of that loop iteration. It must not block; it may re-arm t
// with Reset (recurring work) or schedule other timers.
type TimerFunc func(t *Timer, now time.Time)
