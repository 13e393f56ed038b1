package sched

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func noopCB(*Event, Mask, time.Time) Mask { return Read }
func noopTimer(*Timer, time.Time)         {}

func TestOffLoopCallsPanic(t *testing.T) {
	l := startLoop(t, Options{})
	a, _ := socketpair(t)
	var ev *Event
	var tm *Timer
	onLoop(t, l, func(time.Time) {
		var err error
		if ev, err = l.Add(a, Read, noopCB, nil); err != nil {
			t.Fatalf("Add: %v", err)
		}
		tm = l.After(time.Hour, noopTimer, nil)
	})
	cases := []struct {
		method string
		call   func()
	}{
		{"Add", func() { l.Add(a, Read, noopCB, nil) }},
		{"AddListener", func() { l.AddListener(a, noopCB, nil) }},
		{"AddAndCall", func() { l.AddAndCall(a, Read, Write, noopCB, nil) }},
		{"After", func() { l.After(time.Second, noopTimer, nil) }},
		{"At", func() { l.At(time.Now(), noopTimer, nil) }},
		{"Reset", func() { l.Reset(tm, time.Second) }},
		{"Cancel", func() { l.Cancel(tm) }},
		{"Suspend", func() { l.Suspend(ev) }},
		{"Live", func() { l.Live() }},
		{"Now", func() { l.Now() }},
		{"Timers", func() { l.Timers() }},
		{"TLSConn.Handshake", func() { NewTLSServer(a, nil).Handshake(ev, Read) }},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			defer func() {
				want := "sched: " + c.method + " called off the loop goroutine"
				if r := recover(); r != want {
					t.Errorf("panic = %v, want %q", r, want)
				}
			}()
			c.call()
		})
	}
	// The same calls on a loop that is not running are caught too.
	idle, _ := New(Options{})
	func() {
		defer func() {
			if r := recover(); r == nil {
				t.Error("After on a loop that is not running did not panic")
			}
		}()
		idle.After(time.Second, noopTimer, nil)
	}()
}

func TestOnLoop(t *testing.T) {
	l := startLoop(t, Options{})
	if l.OnLoop() {
		t.Error("OnLoop() = true on the test goroutine")
	}
	var inside bool
	onLoop(t, l, func(time.Time) { inside = l.OnLoop() })
	if !inside {
		t.Error("OnLoop() = false on the loop")
	}
}

// A callback that leaves bytes in the kernel and returns Read is called again
// without the peer writing anything more.
func TestReadAgainWithoutNewData(t *testing.T) {
	l := startLoop(t, Options{})
	a, b := socketpair(t)
	const payload = "0123456789"
	if _, err := unix.Write(b, []byte(payload)); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	var sb strings.Builder
	calls := 0
	onLoop(t, l, func(time.Time) {
		_, err := l.Add(a, Read, func(ev *Event, fired Mask, _ time.Time) Mask {
			calls++
			var buf [3]byte // less than is buffered: the rest stays in the kernel
			n, _ := unix.Read(ev.FD(), buf[:])
			sb.Write(buf[:n])
			if sb.Len() == len(payload) {
				got <- sb.String()
				return 0
			}
			return Read
		}, nil)
		if err != nil {
			t.Errorf("Add: %v", err)
		}
	})
	if s := wait(t, got, "all bytes"); s != payload {
		t.Errorf("read %q, want %q", s, payload)
	}
	onLoop(t, l, func(time.Time) {
		if calls != 4 {
			t.Errorf("callback ran %d times, want 4", calls)
		}
	})
}

// Returning the same mask costs no epoll_ctl; a new mask costs one; 0 frees the
// event, leaves the descriptor open and costs one.
func TestMaskChanges(t *testing.T) {
	l := startLoop(t, Options{})
	a, b := socketpair(t)
	returns := []Mask{Read, Read, Read | Write, Read | Write, 0}
	var fired []Mask
	done := make(chan struct{})
	var ctlsAtAdd int
	onLoop(t, l, func(time.Time) {
		_, err := l.Add(a, Read, func(ev *Event, f Mask, _ time.Time) Mask {
			fired = append(fired, f)
			m := returns[len(fired)-1]
			if m == 0 {
				close(done)
			}
			return m
		}, nil)
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		ctlsAtAdd = int(l.Stats().EpollCtls)
	})
	// Each write makes a readable iteration; the callback never drains, so
	// level triggering keeps it ready.
	unix.Write(b, []byte("x"))
	wait(t, done, "the callback to return 0")
	onLoop(t, l, func(time.Time) {
		if got := int(l.Stats().EpollCtls) - ctlsAtAdd; got != 2 {
			t.Errorf("epoll_ctl calls after Add = %d, want 2 (one MOD, one DEL)", got)
		}
		if l.Live() != 0 {
			t.Errorf("Live() = %d after returning 0", l.Live())
		}
		if len(l.events) > a && l.events[a] != nil {
			t.Error("event still in the table")
		}
	})
	want := []Mask{Read, Read, Read, Read | Write, Read | Write}
	if fmt.Sprint(fired) != fmt.Sprint(want) {
		t.Errorf("fired = %v, want %v", fired, want)
	}
	if _, err := unix.FcntlInt(uintptr(a), unix.F_GETFD, 0); err != nil {
		t.Errorf("descriptor closed by the scheduler: %v", err)
	}
}

func TestAddErrors(t *testing.T) {
	l := startLoop(t, Options{})
	a, _ := socketpair(t)
	cases := []struct {
		name string
		fd   int
		mask Mask
		cb   Callback
		want error
	}{
		{"negative fd", -1, Read, noopCB, ErrBadFD},
		{"empty mask", a, 0, noopCB, ErrBadMask},
		{"unknown bits", a, 1 << 7, noopCB, ErrBadMask},
		{"not a descriptor", 1 << 20, Read, noopCB, unix.EBADF},
	}
	onLoop(t, l, func(time.Time) {
		for _, c := range cases {
			if _, err := l.Add(c.fd, c.mask, c.cb, nil); !errors.Is(err, c.want) {
				t.Errorf("%s: Add error = %v, want %v", c.name, err, c.want)
			}
		}
		if _, err := l.Add(a, Read, nil, nil); err == nil {
			t.Error("nil callback: Add succeeded")
		}
		if _, err := l.Add(a, Read, noopCB, nil); err != nil {
			t.Fatalf("Add: %v", err)
		}
		if _, err := l.Add(a, Write, noopCB, nil); !errors.Is(err, ErrBusy) {
			t.Errorf("second Add error = %v, want ErrBusy", err)
		}
	})
}

// AddAndCall runs the callback before it returns, with the readiness it was
// given, and applies the mask returned as after any callback: the mask it
// was registered with costs nothing more, another one a MOD, 0 a DEL, and a
// suspension keeps the descriptor reserved. A failed registration calls
// nothing.
func TestAddAndCall(t *testing.T) {
	l := startLoop(t, Options{})
	cases := []struct {
		name     string
		ret      Mask // what the first call returns (suspend: see below)
		suspend  bool
		wantCtls uint64
		wantSet  bool // still in the kernel set afterwards
		wantLive int  // events in the table afterwards
	}{
		{"same mask", Read, false, 1, true, 1},
		{"other mask", Read | Write, false, 2, true, 1},
		{"done", 0, false, 2, false, 0},
		{"suspended", 0, true, 1, true, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, _ := socketpair(t)
			onLoop(t, l, func(time.Time) {
				before := l.Stats().EpollCtls
				var calls []Mask
				var inCall *Event
				var dup *Event
				ev, err := l.AddAndCall(a, Read, Write, func(ev *Event, fired Mask, _ time.Time) Mask {
					calls = append(calls, fired)
					inCall = ev
					if c.suspend {
						dup = l.Suspend(ev)
					}
					return c.ret
				}, nil)
				if err != nil {
					t.Fatalf("AddAndCall: %v", err)
				}
				if len(calls) != 1 || calls[0] != Write {
					t.Fatalf("calls before AddAndCall returned = %v, want [%v]", calls, Write)
				}
				if inCall != ev {
					t.Error("the callback was not called with the returned event")
				}
				if got := l.Stats().EpollCtls - before; got != c.wantCtls {
					t.Errorf("epoll_ctl calls = %d, want %d", got, c.wantCtls)
				}
				if got := inEpollSet(t, l.epfd, a); got != c.wantSet {
					t.Errorf("in the kernel set = %v, want %v", got, c.wantSet)
				}
				if got := l.Live(); got != c.wantLive {
					t.Errorf("Live() = %d, want %d", got, c.wantLive)
				}
				if _, err := l.Add(a, Read, noopCB, nil); (err == nil) != (c.wantLive == 0) {
					t.Errorf("Add after AddAndCall: %v", err)
				}
				if dup != nil {
					l.resume(dup, 0)
				}
				for _, e := range l.events {
					if e != nil && e.fd == a {
						l.remove(e)
					}
				}
			})
		})
	}
	onLoop(t, l, func(time.Time) {
		called := false
		cb := func(*Event, Mask, time.Time) Mask { called = true; return Read }
		if _, err := l.AddAndCall(-1, Read, Read, cb, nil); !errors.Is(err, ErrBadFD) {
			t.Errorf("AddAndCall(-1) error = %v, want ErrBadFD", err)
		}
		if called {
			t.Error("the callback ran although the registration failed")
		}
	})
}

// A callback that closes its descriptor and gets the same number back (from
// accept, socket...) may add it at once; the stale event never fires.
func TestDescriptorNumberReusedInCallback(t *testing.T) {
	l := startLoop(t, Options{})
	a, b := socketpair(t)
	unix.Write(b, []byte("x"))
	res := make(chan error, 1)
	newFired := make(chan Mask, 1)
	onLoop(t, l, func(time.Time) {
		l.Add(a, Read, func(ev *Event, _ Mask, _ time.Time) Mask {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				res <- err
				return 0
			}
			// dup3 closes the event's descriptor and puts the new socket
			// under the same number in one step, as a close followed by an
			// accept that gets the lowest free number would, without another
			// goroutine's open taking the number in between.
			if err := unix.Dup3(fds[0], ev.FD(), unix.O_CLOEXEC); err != nil {
				res <- err
				return 0
			}
			unix.Close(fds[0])
			t.Cleanup(func() { unix.Close(fds[1]) })
			unix.Write(fds[1], []byte("y"))
			_, err = l.Add(a, Read, func(*Event, Mask, time.Time) Mask {
				newFired <- Read
				return 0
			}, nil)
			res <- err
			return 0 // must not remove the new registration
		}, nil)
	})
	if err := wait(t, res, "the callback"); err != nil {
		t.Fatalf("Add of the reused number: %v", err)
	}
	wait(t, newFired, "the new event to fire")
}

func TestDispatchFromEightGoroutines(t *testing.T) {
	l := startLoop(t, Options{})
	const producers, each = 8, 2000
	seen := make([][]int, producers)
	total := 0
	done := make(chan struct{})
	var start sync.WaitGroup
	start.Add(1)
	for p := range producers {
		go func() {
			start.Wait()
			for i := range each {
				l.Dispatch(func(time.Time) {
					if !l.OnLoop() {
						t.Error("dispatched function off the loop")
					}
					seen[p] = append(seen[p], i)
					if total++; total == producers*each {
						close(done)
					}
				})
			}
		}()
	}
	start.Done()
	wait(t, done, "every dispatched function")
	for p, s := range seen {
		for i, v := range s {
			if v != i {
				t.Fatalf("producer %d: function %d ran as %d: order lost", p, i, v)
			}
		}
	}
	st := l.Stats()
	if st.Dispatched < producers*each {
		t.Errorf("Stats().Dispatched = %d, want >= %d", st.Dispatched, producers*each)
	}
	if st.Wakeups > st.Iterations {
		t.Errorf("%d eventfd writes for %d iterations: more than one per sleep", st.Wakeups, st.Iterations)
	}
}

func TestSuspendResume(t *testing.T) {
	l := startLoop(t, Options{})
	a, b := socketpair(t)
	type call struct {
		ev    *Event
		fired Mask
		data  any
	}
	calls := make(chan call, 4)
	var dup *Event
	suspended := make(chan struct{})
	onLoop(t, l, func(time.Time) {
		l.Add(a, Read, func(ev *Event, fired Mask, _ time.Time) Mask {
			calls <- call{ev, fired, ev.Data}
			if dup == nil {
				dup = l.Suspend(ev)
				close(suspended)
				return 0
			}
			var buf [16]byte
			unix.Read(ev.FD(), buf[:])
			return 0
		}, "conn-data")
	})
	unix.Write(b, []byte("1"))
	first := wait(t, calls, "the first call")
	wait(t, suspended, "Suspend")
	// More data while suspended: the iteration that sees it takes the
	// descriptor out of the kernel set and calls nobody.
	unix.Write(b, []byte("2"))
	for deadline := time.Now().Add(5 * time.Second); inEpollSet(t, l.epfd, a); {
		if time.Now().After(deadline) {
			t.Fatal("a descriptor ready while suspended is still in the epoll set")
		}
		onLoop(t, l, func(time.Time) {}) // one more iteration
	}
	onLoop(t, l, func(time.Time) {
		if l.Live() != 1 {
			t.Errorf("Live() = %d while suspended, want 1", l.Live())
		}
	})
	select {
	case c := <-calls:
		t.Fatalf("callback ran while suspended: %+v", c)
	default:
	}
	// Resume from another goroutine, with a mask that is not ready (Write is
	// always ready on a socket, so use Except): the callback runs anyway.
	go l.Resume(dup, Read|Except)
	second := wait(t, calls, "the resumed call")
	if second.ev != dup || second.fired != Read|Except || second.data != "conn-data" {
		t.Errorf("resumed call = %+v, want the duplicate with read|except and the data", second)
	}
	if first.ev == dup {
		t.Error("Suspend returned the original event, not a duplicate")
	}
	onLoop(t, l, func(time.Time) {
		if l.Live() != 0 {
			t.Errorf("Live() = %d after the duplicate returned 0", l.Live())
		}
	})
}

// TestSuspendCosts counts the epoll_ctl calls of a suspension: none when the
// descriptor stays quiet and Resume asks for the same mask (a session waiting
// for its spool write while the client waits for the reply), one MOD for
// another mask, and when the descriptor turns ready meanwhile one DEL (level
// triggering would otherwise wake every iteration) and one ADD at Resume,
// with the callback not called until then.
func TestSuspendCosts(t *testing.T) {
	l := startLoop(t, Options{})
	a, b := socketpair(t)
	calls := make(chan Mask, 8)
	var dup *Event
	suspend, drain := true, false
	onLoop(t, l, func(time.Time) {
		_, err := l.Add(a, Read, func(ev *Event, fired Mask, _ time.Time) Mask {
			calls <- fired
			if suspend {
				if drain {
					var buf [16]byte
					unix.Read(ev.FD(), buf[:])
				}
				dup = l.Suspend(ev)
				return Read | Write // ignored: ev is finished
			}
			var buf [16]byte
			unix.Read(ev.FD(), buf[:])
			return fired // keep the mask Resume set
		}, nil)
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
	})
	ctls := func() (n int) {
		onLoop(t, l, func(time.Time) { n = int(l.Stats().EpollCtls) })
		return n
	}
	// cycle makes the callback run and suspend (after reading what is there
	// when quiet), lets iterations pass, resumes with resume and counts the
	// epoll_ctl calls of the whole.
	cycle := func(name string, quiet bool, resume Mask, wantCtls int) {
		t.Helper()
		onLoop(t, l, func(time.Time) { drain = quiet })
		before := ctls()
		unix.Write(b, []byte("x"))
		wait(t, calls, name+": the call that suspends")
		onLoop(t, l, func(time.Time) { suspend = false })
		onLoop(t, l, func(time.Time) {})
		if quiet && !inEpollSet(t, l.epfd, a) {
			t.Errorf("%s: quiet suspended descriptor left the epoll set", name)
		}
		go l.Resume(dup, resume)
		if got := wait(t, calls, name+": the resumed call"); got != resume {
			t.Errorf("%s: resumed with %v, want %v", name, got, resume)
		}
		onLoop(t, l, func(time.Time) { suspend = true })
		if got := ctls() - before; got != wantCtls {
			t.Errorf("%s: %d epoll_ctl calls, want %d", name, got, wantCtls)
		}
	}
	// Left unread, "x" keeps the descriptor ready while suspended: out of
	// the set, and back in at Resume, with no call in between.
	cycle("ready while suspended", false, Read, 2)
	if !inEpollSet(t, l.epfd, a) {
		t.Error("descriptor not in the epoll set after Resume")
	}
	select {
	case f := <-calls:
		t.Fatalf("callback ran while suspended: %v", f)
	default:
	}
	// Quiet while suspended, as a session is after it read its command.
	cycle("quiet, same mask", true, Read, 0)
	cycle("quiet, another mask", true, Read|Except, 1)
}

func TestRunStates(t *testing.T) {
	l, _ := New(Options{})
	errc := make(chan error, 1)
	go func() { errc <- l.Run() }()
	onLoop(t, l, func(time.Time) {})
	if err := l.Run(); !errors.Is(err, ErrRunning) {
		t.Errorf("second Run while running = %v, want ErrRunning", err)
	}
	l.Stop()
	l.Stop() // idempotent
	if err := wait(t, errc, "Run to return"); err != nil {
		t.Errorf("Run = %v", err)
	}
	if err := l.Run(); !errors.Is(err, ErrStopped) {
		t.Errorf("Run after stop = %v, want ErrStopped", err)
	}
	ran := false
	l.Dispatch(func(time.Time) { ran = true }) // dropped, no panic, no write
	if ran {
		t.Error("Dispatch ran on a stopped loop")
	}

	never, _ := New(Options{})
	if err := never.Shutdown(context.Background()); !errors.Is(err, ErrStopped) {
		t.Errorf("Shutdown of a loop never run = %v, want ErrStopped", err)
	}
	if err := never.Run(); err != nil {
		t.Errorf("Run after Shutdown = %v, want nil at once", err)
	}
	if _, err := New(Options{MaxEvents: -1}); err == nil {
		t.Error("New accepted MaxEvents -1")
	}
	if _, err := New(Options{Tick: -time.Second}); err == nil {
		t.Error("New accepted a negative Tick")
	}
}

func TestShutdown(t *testing.T) {
	l, _ := New(Options{})
	runErr := make(chan error, 1)
	go func() { runErr <- l.Run() }()
	lfd, cfd := socketpair(t) // stand-ins: a "listener" and a connection
	listenerTold := make(chan Mask, 1)
	var conn *Event
	onLoop(t, l, func(time.Time) {
		l.AddListener(lfd, func(ev *Event, fired Mask, _ time.Time) Mask {
			listenerTold <- fired
			return Read
		}, nil)
		conn, _ = l.Add(cfd, Read, func(*Event, Mask, time.Time) Mask { return 0 }, nil)
	})
	shutErr := make(chan error, 1)
	go func() { shutErr <- l.Shutdown(context.Background()) }()
	if f := wait(t, listenerTold, "the listener's last call"); f != 0 {
		t.Errorf("listener told with fired = %v, want 0", f)
	}
	select {
	case err := <-shutErr:
		t.Fatalf("Shutdown returned %v with a connection left", err)
	default:
	}
	// The connection ends (its callback returns 0 on the next readiness).
	unix.Write(lfd, []byte("bye"))
	if err := wait(t, shutErr, "Shutdown"); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if err := wait(t, runErr, "Run"); err != nil {
		t.Errorf("Run = %v", err)
	}
	_ = conn
}

func TestShutdownDeadline(t *testing.T) {
	l, _ := New(Options{})
	runErr := make(chan error, 1)
	go func() { runErr <- l.Run() }()
	a, _ := socketpair(t)
	onLoop(t, l, func(time.Time) { l.Add(a, Read, noopCB, nil) })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v, want context.Canceled", err)
	}
	if err := wait(t, runErr, "Run"); err != nil {
		t.Errorf("Run = %v", err)
	}
	var onLoopErr error
	l2 := startLoop(t, Options{})
	onLoop(t, l2, func(time.Time) { onLoopErr = l2.Shutdown(context.Background()) })
	if !errors.Is(onLoopErr, ErrOnLoop) {
		t.Errorf("Shutdown on the loop = %v, want ErrOnLoop", onLoopErr)
	}
}

func TestMaskString(t *testing.T) {
	cases := map[Mask]string{0: "0", Read: "read", Read | Write: "read|write", Except | 1<<5: "except|0x20"}
	for m, want := range cases {
		if got := m.String(); got != want {
			t.Errorf("Mask(%d).String() = %q, want %q", uint32(m), got, want)
		}
	}
}

// TestResumeAllocatesNothing: a suspension costs one allocation, the
// duplicate event Suspend returns, and Resume adds none: it is queued as data,
// not as a closure. A session suspends once per durably spooled message, so
// this is an allocation per message.
func TestResumeAllocatesNothing(t *testing.T) {
	l := startLoop(t, Options{})
	a, _ := socketpair(t)
	dups := make(chan *Event, 1)
	onLoop(t, l, func(time.Time) {
		ev, err := l.Add(a, Read, func(ev *Event, _ Mask, _ time.Time) Mask {
			dups <- l.Suspend(ev) // suspend again at every call, as a session would
			return 0
		}, nil)
		if err != nil {
			t.Errorf("Add: %v", err)
			return
		}
		dups <- l.Suspend(ev)
	})
	dup := wait(t, dups, "the first suspension")
	cycle := func() {
		l.Resume(dup, Read)
		dup = <-dups
	}
	// The control cycle resumes through a function made once: what it
	// allocates is the rest of the cycle (the duplicate, and whatever the race
	// detector adds), which Resume must not add to.
	resume := func(time.Time) { l.resume(dup, Read) }
	control := func() {
		l.Dispatch(resume)
		dup = <-dups
	}
	cycle() // warm the queue's slices
	control()
	base := testing.AllocsPerRun(200, control)
	if n := testing.AllocsPerRun(200, cycle); n > base {
		t.Errorf("a suspend and Resume cycle costs %.1f allocations, the same resumed by a function made once %.1f", n, base)
	}
	if !raceEnabled && base > 1 {
		t.Errorf("the control cycle costs %.1f allocations, want 1 (Suspend's duplicate)", base)
	}
	l.Resume(dup, 0)
}
