package sched

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecelerity-go/ecelerity/internal/backoff"
)

// Options tune a Loop. The zero value is usable.
type Options struct {
	// MaxEvents is the size of the epoll_wait buffer: how many ready descriptors
	// one iteration takes from the kernel. Zero means 1024.
	MaxEvents int
	// Tick is the resolution of the timing wheel. Timers fire in deadline order
	// but a sleeping loop wakes on epoll_wait's millisecond clock, so a tick below
	// a millisecond buys nothing. Zero means one millisecond.
	Tick time.Duration
	// Clock returns the current time; nil means time.Now. Tests use it to move
	// time without waiting for it.
	Clock func() time.Time
	// Spin is how long the loop polls for hand-overs announced with Expect
	// before it sleeps in epoll_wait; it never polls past the next timer. Zero
	// means 50µs; a negative value turns polling off.
	Spin time.Duration
	// LockOSThread keeps the loop goroutine on one OS thread for its whole run,
	// for native code that keeps state in thread-local storage between calls.
	// It is off by default because it is expensive: every epoll_wait that blocks
	// may cost the Go runtime's processor, and a locked goroutine gets one back
	// only by a hand-over between two threads (two futex wake-ups and two context
	// switches), where an unlocked one continues on whichever thread is free.
	// Measured with the ESMTP listener and smtp-source, the lock cost 15-30% more
	// CPU per message. Where the loop-only check identifies the loop by its
	// thread (platforms without the goroutine-pointer assembly), the loop is
	// locked whatever this says.
	LockOSThread bool
}

const (
	defaultMaxEvents = 1024
	defaultTick      = time.Millisecond
)

// Loop is one event loop: an epoll set, its fd events, its timers and its
// hand-over queue. Create it with New; Run it on a goroutine of its own.
//
// Apart from Run, Stop, Shutdown, OnLoop, Dispatch, Resume and Stats, which any
// goroutine may call, methods are loop-only: call them from callbacks, timers or
// dispatched functions. A loop-only method called elsewhere panics.
//
// Descriptors are registered level-triggered: the mask a callback returns is
// its interest, and level triggering makes "interested and ready" exactly
// "called", so a callback that leaves bytes in the kernel and returns Read runs
// again in the next iteration without new data. Edge triggering would save
// nothing here (a callback reads once per readiness anyway) and would need a
// readiness record per event to stay correct. The events table is a slice
// indexed by descriptor, not a map: the kernel hands out small dense numbers.
type Loop struct {
	opts Options
	// owner is curg() of the goroutine inside Run, or 0 when none is; the loop-only
	// check compares against it.
	owner atomic.Uintptr

	// Loop goroutine state: touched only inside Run.
	epfd     int
	wakefd   int
	evbuf    []unix.EpollEvent
	events   []*Event // indexed by fd
	live     int      // events in the table, suspended ones included
	base     time.Time
	now      time.Time
	wheel    wheel
	draining bool      // Shutdown in progress: exit once live reaches zero
	yielded  time.Time // when the loop last yielded its processor (see yieldEvery)
	// backoff spaces out polls for expected hand-overs that do not pay; see wait.
	backoff backoff.Spin // the back-off of polls that do not pay (see wait)

	// Hand-over state shared with other goroutines.
	q dispatchQueue
	// sleeping is set just before epoll_wait may block and cleared after it.
	sleeping atomic.Bool
	// wakeSent is set by the producer that writes the eventfd and cleared by the
	// loop after draining it, so each sleep costs at most one eventfd write.
	wakeSent atomic.Bool
	stopping atomic.Bool
	started  atomic.Bool
	// expected counts hand-overs announced by Expect and not yet handed over;
	// while positive the loop may poll instead of sleeping (see wait).
	expected atomic.Int64
	// finished is set when Run is about to return: Dispatch then drops its
	// function and wake stops writing the eventfd.
	finished atomic.Bool
	// wakers counts goroutines inside the eventfd write of wake; Run waits for
	// zero before closing the eventfd.
	wakers atomic.Int32
	done   chan struct{} // closed when Run returns

	stats counters
}

// New returns a loop that is not yet running. It opens nothing: Run creates the
// epoll set and the eventfd, so a loop that never runs holds no descriptor.
func New(opts Options) (*Loop, error) {
	if opts.MaxEvents < 0 {
		return nil, fmt.Errorf("sched: MaxEvents %d is negative", opts.MaxEvents)
	}
	if opts.Tick < 0 {
		return nil, fmt.Errorf("sched: Tick %v is negative", opts.Tick)
	}
	if opts.MaxEvents == 0 {
		opts.MaxEvents = defaultMaxEvents
	}
	if opts.Tick == 0 {
		opts.Tick = defaultTick
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Spin == 0 {
		opts.Spin = defaultSpin
	}
	l := &Loop{
		opts:   opts,
		epfd:   -1,
		wakefd: -1,
		done:   make(chan struct{}),
	}
	return l, nil
}

// OnLoop reports whether the caller runs on the loop goroutine. Any goroutine may
// call it.
func (l *Loop) OnLoop() bool {
	o := l.owner.Load()
	return o != 0 && o == curg()
}

// mustOnLoop panics when the caller is not the loop goroutine: a silent race on
// loop state would corrupt it far from the cause.
func (l *Loop) mustOnLoop(method string) {
	if o := l.owner.Load(); o == 0 || o != curg() {
		panic("sched: " + method + " called off the loop goroutine")
	}
}

// Run runs the loop on the calling goroutine (locked to its OS thread when
// Options.LockOSThread says so) until Stop,
// or until Shutdown has drained the descriptors. It returns nil then, ErrRunning
// if the loop is running, ErrStopped if it already ran, or the error that made
// epoll fail. Run closes the epoll set and the eventfd when it returns; it never
// closes the descriptors of events.
func (l *Loop) Run() error {
	if !l.started.CompareAndSwap(false, true) {
		select {
		case <-l.done:
			return ErrStopped
		default:
			return ErrRunning
		}
	}
	defer close(l.done)
	if l.stopping.Load() {
		l.finished.Store(true)
		return nil
	}

	if l.opts.LockOSThread || curgIsThread {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
	}
	if err := l.open(); err != nil {
		l.finished.Store(true)
		return err
	}
	l.owner.Store(curg())
	err := l.run()
	l.owner.Store(0)

	// No producer may write the eventfd once it is closed (its number could
	// belong to someone else by then): stop new writers, wait for those already
	// past the check.
	l.finished.Store(true)
	for l.wakers.Load() != 0 {
		runtime.Gosched()
	}
	l.close()
	return err
}

// open creates the epoll set and the wake-up eventfd.
func (l *Loop) open() error {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("sched: open loop: %w", os.NewSyscallError("epoll_create1", err))
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return fmt.Errorf("sched: open loop: %w", os.NewSyscallError("eventfd", err))
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(wakefd)
		unix.Close(epfd)
		return fmt.Errorf("sched: open loop: %w", os.NewSyscallError("epoll_ctl", err))
	}
	l.epfd, l.wakefd = epfd, wakefd
	l.evbuf = make([]unix.EpollEvent, l.opts.MaxEvents)
	l.base = l.opts.Clock()
	l.now = l.base
	l.wheel.init(l.opts.Tick)
	return nil
}

func (l *Loop) close() {
	unix.Close(l.wakefd)
	unix.Close(l.epfd)
	l.epfd, l.wakefd = -1, -1
}

// yieldEvery is how often a busy loop yields its processor to the Go
// scheduler. The loop goroutine never blocks in the scheduler, only in
// epoll_wait, so without a yield the runtime sees one goroutine running on the
// same scheduling tick for ever: after 10ms it treats the loop as a long runner
// and, from then until the loop is preempted, takes the processor away at
// every epoll_wait that blocks for more than a few tens of microseconds. Each
// such take costs a hand-off, and waking the runtime's monitor thread when the
// loop returns; between a client's commands that is every wait. A yield every
// few milliseconds starts a new tick before the 10ms are up, for the price of
// one pass through the Go scheduler (a hand-over between threads when the
// loop is locked to its thread).
const yieldEvery = 5 * time.Millisecond

// run is the loop proper. Each iteration samples the clock once, right after
// epoll_wait returns, and hands that time to every fd callback, dispatched
// function and timer of the iteration.
func (l *Loop) run() error {
	n := 0 // ready descriptors from the previous epoll_wait
	for {
		l.stats.iterations.Add(1)
		l.now = l.opts.Clock()
		for i := range l.evbuf[:n] {
			e := &l.evbuf[i]
			if fd := int(e.Fd); fd == l.wakefd {
				l.drainWake()
			} else {
				l.fire(fd, e.Events)
			}
		}
		l.runDispatched()
		l.runTimers()
		if l.stopping.Load() || (l.draining && l.live == 0) {
			return nil
		}
		if l.now.Sub(l.yielded) >= yieldEvery {
			l.yielded = l.now
			l.stats.yields.Add(1)
			runtime.Gosched()
		}

		var err error
		n, err = l.wait()
		if err != nil {
			n = 0
			if err != unix.EINTR {
				return fmt.Errorf("sched: run loop: %w", os.NewSyscallError("epoll_wait", err))
			}
		}
	}
}

// drainWake empties the eventfd and re-opens the door for the next wake-up write.
func (l *Loop) drainWake() {
	var buf [8]byte
	for {
		_, err := unix.Read(l.wakefd, buf[:])
		if err == unix.EINTR {
			continue
		}
		break
	}
	l.wakeSent.Store(false)
}

// wake makes a sleeping loop return from epoll_wait. Only the first producer per
// sleep writes the eventfd.
func (l *Loop) wake() {
	if !l.sleeping.Load() || l.wakeSent.Load() || !l.wakeSent.CompareAndSwap(false, true) {
		return
	}
	l.wakers.Add(1)
	defer l.wakers.Add(-1)
	if l.finished.Load() {
		return
	}
	l.stats.wakeups.Add(1)
	var one = [8]byte{1}
	for {
		// EAGAIN means the counter is full, so the loop is awake anyway.
		if _, err := unix.Write(l.wakefd, one[:]); err != unix.EINTR {
			return
		}
	}
}

// fire runs the callback of the event on fd for the epoll bits ev.
func (l *Loop) fire(fd int, bits uint32) {
	if fd >= len(l.events) {
		return
	}
	ev := l.events[fd]
	if ev == nil {
		return
	}
	if ev.state != stateLive {
		if ev.state == stateSuspended && ev.mask != 0 {
			// Ready while suspended: leave the kernel set until Resume.
			l.stats.ctls.Add(1)
			_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil)
			ev.mask = 0
		}
		return
	}
	var fired Mask
	if bits&unix.EPOLLIN != 0 {
		fired |= Read
	}
	if bits&unix.EPOLLOUT != 0 {
		fired |= Write
	}
	if bits&unix.EPOLLPRI != 0 {
		fired |= Except
	}
	if bits&(unix.EPOLLERR|unix.EPOLLHUP) != 0 {
		// Errors and hang-ups arrive whatever the interest; hand them to the
		// operations the callback waits for, whose system calls report them.
		fired |= ev.mask & (Read | Write)
		if fired == 0 {
			fired = Except
		}
	}
	l.stats.callbacks.Add(1)
	l.call(ev, fired)
}

// call runs ev's callback and applies the returned mask.
func (l *Loop) call(ev *Event, fired Mask) {
	mask := ev.cb(ev, fired, l.now)
	if ev.state != stateLive {
		// Suspended or detached during the callback: its return value no longer
		// describes a registration.
		return
	}
	switch {
	case mask == ev.mask:
	case mask == 0:
		l.remove(ev)
	default:
		l.modify(ev, mask)
	}
}

func (l *Loop) epollBits(m Mask) uint32 {
	var e uint32
	if m&Read != 0 {
		e |= unix.EPOLLIN
	}
	if m&Write != 0 {
		e |= unix.EPOLLOUT
	}
	if m&Except != 0 {
		e |= unix.EPOLLPRI
	}
	return e
}

// modify changes the kernel interest of a live event. If the kernel refuses (the
// callback closed the descriptor but returned a mask), the event is dropped: it
// could never fire again.
func (l *Loop) modify(ev *Event, mask Mask) {
	if mask&^maskAll != 0 {
		panic(fmt.Sprintf("sched: callback returned unknown mask bits %v", mask))
	}
	e := unix.EpollEvent{Events: l.epollBits(mask), Fd: int32(ev.fd)}
	l.stats.ctls.Add(1)
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, ev.fd, &e); err != nil {
		l.forget(ev)
		return
	}
	ev.mask = mask
}

// remove takes a live event out of the kernel set and the table.
func (l *Loop) remove(ev *Event) {
	// EBADF or ENOENT mean the callback closed the descriptor first, which took
	// it out of the set already. A mask of 0 is a suspended event that left
	// the set (or a resumed one the kernel refused).
	if ev.mask != 0 {
		l.stats.ctls.Add(1)
		_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, ev.fd, nil)
	}
	l.forget(ev)
}

// forget drops ev from the table without touching the kernel.
func (l *Loop) forget(ev *Event) {
	if l.events[ev.fd] == ev {
		l.events[ev.fd] = nil
	}
	if ev.state != stateFree {
		l.live--
	}
	ev.state = stateFree
	ev.mask = 0
}

// Add registers fd with the interest mask and callback cb; data becomes
// ev.Data. The descriptor should be non-blocking. It returns ErrBusy if fd has a
// live or suspended event, ErrBadFD or ErrBadMask for bad arguments, or the
// epoll_ctl error. Loop-only.
func (l *Loop) Add(fd int, mask Mask, cb Callback, data any) (*Event, error) {
	l.mustOnLoop("Add")
	return l.add(fd, mask, cb, data, false)
}

// AddAndCall registers fd as Add does, then calls cb at once, before it
// returns, with fired as the readiness (which need not be there: IO helpers
// treat a readiness that is not as would-block), and applies the mask cb
// returns as after any callback. It is for a descriptor whose owner has
// something to do before the kernel can say anything, such as a server that
// speaks first on a connection it just accepted: the greeting goes out in the
// accept callback instead of an iteration later, and when mask is what the
// callback returns afterwards (Read, waiting for the client's answer), the
// connection costs a single epoll_ctl. If the registration fails, cb is not
// called. The returned event may be already freed or replaced by a suspended
// duplicate by cb; cb sees every event it is called with. Loop-only.
func (l *Loop) AddAndCall(fd int, mask, fired Mask, cb Callback, data any) (*Event, error) {
	l.mustOnLoop("AddAndCall")
	ev, err := l.add(fd, mask, cb, data, false)
	if err != nil {
		return nil, err
	}
	l.stats.callbacks.Add(1)
	l.call(ev, fired)
	return ev, nil
}

// AddListener registers a listening descriptor for Read. It is Add with one
// difference: Shutdown removes listener events first, calling cb once more with
// fired == 0 so that it can close the descriptor (its return value is ignored).
// Loop-only.
func (l *Loop) AddListener(fd int, cb Callback, data any) (*Event, error) {
	l.mustOnLoop("AddListener")
	return l.add(fd, Read, cb, data, true)
}

func (l *Loop) add(fd int, mask Mask, cb Callback, data any, listener bool) (*Event, error) {
	if fd < 0 {
		return nil, fmt.Errorf("sched: add fd %d: %w", fd, ErrBadFD)
	}
	if mask == 0 || mask&^maskAll != 0 {
		return nil, fmt.Errorf("sched: add fd %d mask %v: %w", fd, mask, ErrBadMask)
	}
	if cb == nil {
		return nil, fmt.Errorf("sched: add fd %d: nil callback", fd)
	}
	if l.draining && listener {
		return nil, fmt.Errorf("sched: add listener fd %d: %w", fd, ErrStopped)
	}
	for fd >= len(l.events) {
		l.events = append(l.events, make([]*Event, len(l.events)+64)...)
	}
	e := unix.EpollEvent{Events: l.epollBits(mask), Fd: int32(fd)}
	l.stats.ctls.Add(1)
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, fd, &e); err != nil {
		if errors.Is(err, unix.EEXIST) && l.events[fd] != nil {
			return nil, fmt.Errorf("sched: add fd %d: %w", fd, ErrBusy)
		}
		return nil, fmt.Errorf("sched: add fd %d: %w", fd, os.NewSyscallError("epoll_ctl", err))
	}
	if old := l.events[fd]; old != nil {
		if old.state == stateSuspended {
			// A suspended event reserves its descriptor. The kernel took fd,
			// so the suspended registration had left the set (the descriptor
			// turned ready while suspended) or died with a close.
			_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, fd, nil)
			return nil, fmt.Errorf("sched: add fd %d: %w", fd, ErrBusy)
		}
		// The kernel accepted fd, so the old registration died with its
		// descriptor: the number was closed and handed out again. The old event
		// is stale; drop it so that its callback never sees the new descriptor.
		l.forget(old)
	}
	ev := &Event{Data: data, fd: fd, loop: l, cb: cb, mask: mask, listener: listener}
	l.events[fd] = ev
	l.live++
	return ev, nil
}

// Suspend returns a duplicate of ev that keeps the descriptor reserved while
// its callback is not called; ev itself is finished, and its callback should
// return 0 (whatever it returns is ignored). Resume the duplicate later, from
// any goroutine, typically when a pool job completes. Loop-only.
//
// The registration stays in the kernel set, so that the usual suspension (a
// session waiting for its pool job while the client waits for the reply) costs
// no epoll_ctl at all, and Resume with the same mask none either. Only if the
// descriptor turns ready while suspended does the loop take it out of the set
// (one EPOLL_CTL_DEL: readiness is level-triggered and would otherwise wake
// every iteration), and Resume puts it back.
func (l *Loop) Suspend(ev *Event) *Event {
	l.mustOnLoop("Suspend")
	if ev.loop != l || ev.state != stateLive {
		panic("sched: Suspend of an event that is not live on this loop")
	}
	dup := &Event{Data: ev.Data, fd: ev.fd, loop: l, cb: ev.cb, mask: ev.mask, state: stateSuspended, listener: ev.listener}
	l.events[ev.fd] = dup
	ev.state = stateFree
	ev.mask = 0
	return dup
}

// Resume re-arms a suspended duplicate with mask and calls its callback once on
// the loop with fired == mask, whether or not the descriptor is ready: the work
// that suspended it has finished and the callback must learn that (IO helpers
// treat a readiness that is not there as would-block). A mask of 0 frees the
// duplicate without a call. Any goroutine may call Resume; on a loop that has
// stopped it does nothing.
func (l *Loop) Resume(ev *Event, mask Mask) {
	if ev.loop != l {
		panic("sched: Resume of an event of another loop")
	}
	l.push(task{ev: ev, mask: mask})
}

func (l *Loop) resume(ev *Event, mask Mask) {
	switch ev.state {
	case stateFree:
		// Dropped meanwhile: a listener removed by Shutdown.
		return
	case stateLive:
		panic("sched: Resume of an event that is not suspended")
	}
	if mask == 0 {
		l.remove(ev)
		return
	}
	if mask&^maskAll != 0 {
		panic(fmt.Sprintf("sched: Resume with unknown mask bits %v", mask))
	}
	if ev.mask != mask {
		op := unix.EPOLL_CTL_ADD
		if ev.mask != 0 {
			op = unix.EPOLL_CTL_MOD
		}
		e := unix.EpollEvent{Events: l.epollBits(mask), Fd: int32(ev.fd)}
		l.stats.ctls.Add(1)
		if err := unix.EpollCtl(l.epfd, op, ev.fd, &e); err == nil {
			ev.mask = mask
		} else {
			ev.mask = 0
		}
	}
	// Live even when the kernel refused (the descriptor was closed meanwhile):
	// the callback's own read or write then reports the error, and a non-zero
	// return drops the event in modify.
	ev.state = stateLive
	l.stats.callbacks.Add(1)
	l.call(ev, mask)
}

// Stop makes Run return at the end of the current iteration, without draining.
// Any goroutine may call it, any number of times.
func (l *Loop) Stop() {
	l.stopping.Store(true)
	l.wake()
}

// Shutdown stops the loop gracefully: listener events (AddListener) are removed
// and their callbacks told with fired == 0, then the loop runs until no fd event
// is left (suspended ones count) and Run returns; timers still pending are
// dropped. If ctx ends first, the loop is stopped and Shutdown returns ctx's
// error once Run has returned. Any goroutine but the loop's may call it; on the
// loop it returns ErrOnLoop. On a loop that was never run it makes a later Run
// return at once and returns ErrStopped.
func (l *Loop) Shutdown(ctx context.Context) error {
	if l.OnLoop() {
		return fmt.Errorf("sched: Shutdown: %w", ErrOnLoop)
	}
	if !l.started.Load() {
		l.Stop()
		return fmt.Errorf("sched: Shutdown: %w", ErrStopped)
	}
	l.Dispatch(func(time.Time) { l.beginDrain() })
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		l.Stop()
		<-l.done
		return ctx.Err()
	}
}

// beginDrain removes the listeners and arms the exit test of run.
func (l *Loop) beginDrain() {
	if l.draining {
		return
	}
	l.draining = true
	for _, ev := range l.events {
		if ev != nil && ev.listener && ev.state != stateFree {
			l.remove(ev)
			ev.cb(ev, 0, l.now)
		}
	}
}

// Live returns the number of fd events in the loop, suspended ones included.
// Loop-only.
func (l *Loop) Live() int {
	l.mustOnLoop("Live")
	return l.live
}

// Now returns the time sampled at the start of the current loop iteration.
// Loop-only.
func (l *Loop) Now() time.Time {
	l.mustOnLoop("Now")
	return l.now
}
