package sched

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// until yields until cond holds. It fails the test if cond stays false for a
// long time, which means a hang, not slowness.
func until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		runtime.Gosched()
	}
}

// polling announces one hand-over on l and waits until the loop polls for it.
func polling(t testing.TB, l *Loop) {
	t.Helper()
	onLoop(t, l, func(time.Time) { l.Expect(1) })
	until(t, "the loop to poll", func() bool { return l.Stats().Polls > 0 })
}

// TestSpinEndsOn: a loop polling for an expected hand-over (with a budget of an
// hour, so that only the event under test can end the poll) still serves
// everything a sleeping loop would, at once, and a hand-over that arrives while
// it polls costs no eventfd write.
func TestSpinEndsOn(t *testing.T) {
	cases := []struct {
		name string
		// run makes the event happen on a polling loop and waits for its effect.
		run func(t *testing.T, l *Loop)
	}{
		{"hand-over without a wake-up", func(t *testing.T, l *Loop) {
			polling(t, l)
			before := l.Stats().Wakeups
			ran := make(chan struct{})
			l.Dispatch(func(time.Time) { l.Expect(-1); close(ran) })
			wait(t, ran, "the dispatched function")
			if w := l.Stats().Wakeups - before; w != 0 {
				t.Errorf("%d eventfd writes for a hand-over to a polling loop, want 0", w)
			}
		}},
		{"descriptor ready", func(t *testing.T, l *Loop) {
			a, b := socketpair(t)
			fired := make(chan Mask, 1)
			onLoop(t, l, func(time.Time) {
				if _, err := l.Add(a, Read, func(_ *Event, m Mask, _ time.Time) Mask {
					fired <- m
					return 0
				}, nil); err != nil {
					t.Errorf("Add: %v", err)
				}
			})
			polling(t, l)
			if _, err := unix.Write(b, []byte("x")); err != nil {
				t.Fatalf("write: %v", err)
			}
			if m := wait(t, fired, "the read callback"); m != Read {
				t.Errorf("fired %v, want read", m)
			}
		}},
		{"timer due", func(t *testing.T, l *Loop) {
			fired := make(chan struct{})
			onLoop(t, l, func(time.Time) {
				l.After(2*time.Millisecond, func(*Timer, time.Time) { close(fired) }, nil)
			})
			polling(t, l)
			wait(t, fired, "the timer")
		}},
		{"nothing expected any more", func(t *testing.T, l *Loop) {
			polling(t, l)
			l.Expect(-1)
			until(t, "the loop to sleep", l.sleeping.Load)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, startLoop(t, Options{Spin: time.Hour}))
		})
	}
}

func TestSpinEndsOnStop(t *testing.T) {
	l, err := New(Options{Spin: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- l.Run() }()
	polling(t, l)
	l.Stop()
	if err := wait(t, errc, "Run to return"); err != nil {
		t.Errorf("Run: %v", err)
	}
}

// TestSpinBudget: with a hand-over expected that never comes, the loop polls for
// its budget, then sleeps, and records the miss so that it passes over the next
// chance to poll.
func TestSpinBudget(t *testing.T) {
	l := startLoop(t, Options{Spin: time.Millisecond})
	polling(t, l)
	until(t, "the loop to sleep after its budget", l.sleeping.Load)
	onLoop(t, l, func(time.Time) {
		if l.backoff.Misses() != 1 {
			t.Errorf("backoff.Misses() = %d after one spin ran out, want 1", l.backoff.Misses())
		}
	})
}

// TestNoPolling: the loop never polls when no hand-over is expected, nor when
// polling is turned off, however many hand-overs it gets.
func TestNoPolling(t *testing.T) {
	cases := []struct {
		name   string
		spin   time.Duration
		expect int
	}{
		{"nothing expected", 0, 0},
		{"polling off", -1, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := startLoop(t, Options{Spin: c.spin})
			onLoop(t, l, func(time.Time) { l.Expect(c.expect) })
			for range 100 {
				onLoop(t, l, func(time.Time) {})
			}
			if p := l.Stats().Polls; p != 0 {
				t.Errorf("Stats().Polls = %d, want 0", p)
			}
		})
	}
}

func TestExpectedInStats(t *testing.T) {
	l := startLoop(t, Options{Spin: -1})
	for _, d := range []int{3, -1, -2} {
		l.Expect(d)
	}
	l.Expect(2)
	if e := l.Stats().Expected; e != 2 {
		t.Errorf("Stats().Expected = %d, want 2", e)
	}
}
