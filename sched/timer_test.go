package sched

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"
)

// timerLog records fired timers (by Data) with the loop time they saw.
type timerLog struct {
	names []string
	times []time.Time
}

func (g *timerLog) fn(t *Timer, now time.Time) {
	g.names = append(g.names, t.Data.(string))
	g.times = append(g.times, now)
}

// step moves the fake clock and lets the loop run one iteration at the new time.
func step(t *testing.T, l *Loop, c *fakeClock, d time.Duration) {
	t.Helper()
	c.Advance(d)
	onLoop(t, l, func(time.Time) {})
	onLoop(t, l, func(time.Time) {}) // timers run after dispatched functions
}

func TestTimerOrder(t *testing.T) {
	cases := []struct {
		name   string
		delays []time.Duration // timer i is named by its index
		want   []string
	}{
		{"sorted", []time.Duration{1, 2, 3}, []string{"0", "1", "2"}},
		{"reversed", []time.Duration{3 * time.Second, 2 * time.Second, time.Second}, []string{"2", "1", "0"}},
		{"ties keep arming order", []time.Duration{time.Second, time.Second, time.Millisecond}, []string{"2", "0", "1"}},
		{"inside one tick", []time.Duration{900 * time.Microsecond, 100 * time.Microsecond, 500 * time.Microsecond}, []string{"1", "2", "0"}},
		{"across levels", []time.Duration{20 * time.Minute, 300 * time.Millisecond, 17 * time.Second, 2 * time.Millisecond}, []string{"3", "1", "2", "0"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clock := newFakeClock()
			l := startLoop(t, Options{Clock: clock.Now})
			var log timerLog
			onLoop(t, l, func(time.Time) {
				for i, d := range c.delays {
					l.After(d, log.fn, string(rune('0'+i)))
				}
			})
			step(t, l, clock, time.Hour)
			onLoop(t, l, func(time.Time) {
				if !slices.Equal(log.names, c.want) {
					t.Errorf("fired %v, want %v", log.names, c.want)
				}
			})
		})
	}
}

func TestTimerCancel(t *testing.T) {
	clock := newFakeClock()
	l := startLoop(t, Options{Clock: clock.Now})
	var log timerLog
	var keep, cancelled, fired, victim *Timer
	onLoop(t, l, func(time.Time) {
		keep = l.After(time.Second, log.fn, "keep")
		cancelled = l.After(time.Second, log.fn, "cancelled")
		fired = l.After(time.Millisecond, log.fn, "fired")
		// A timer cancelled by an earlier timer of the same batch does not fire.
		victim = l.After(2*time.Second, log.fn, "victim")
		l.After(2*time.Second-time.Microsecond, func(*Timer, time.Time) {
			if !l.Cancel(victim) {
				t.Error("Cancel of a timer due in the same batch = false")
			}
		}, nil)
		if !l.Cancel(cancelled) {
			t.Error("Cancel of an armed timer = false")
		}
		if l.Cancel(cancelled) {
			t.Error("second Cancel = true")
		}
		if l.Cancel(NewTimer(noopTimer, nil)) {
			t.Error("Cancel of a timer never armed = true")
		}
	})
	step(t, l, clock, 10*time.Millisecond)
	onLoop(t, l, func(time.Time) {
		if l.Cancel(fired) {
			t.Error("Cancel of a fired timer = true")
		}
		if fired.Armed() || !keep.Armed() {
			t.Error("Armed() wrong after firing")
		}
	})
	step(t, l, clock, 3*time.Second)
	onLoop(t, l, func(time.Time) {
		if want := []string{"fired", "keep"}; !slices.Equal(log.names, want) {
			t.Errorf("fired %v, want %v", log.names, want)
		}
		if l.Timers() != 0 {
			t.Errorf("Timers() = %d, want 0", l.Timers())
		}
	})
}

// Recurring work re-arms from its own callback, with Reset (no allocation) or a
// new timer.
func TestTimerRescheduleFromCallback(t *testing.T) {
	for _, useReset := range []bool{true, false} {
		clock := newFakeClock()
		l := startLoop(t, Options{Clock: clock.Now})
		var fires []time.Time
		var tick TimerFunc
		tick = func(tm *Timer, now time.Time) {
			fires = append(fires, now)
			if len(fires) == 5 {
				return
			}
			if useReset {
				l.Reset(tm, 10*time.Millisecond)
			} else {
				l.After(10*time.Millisecond, tick, nil)
			}
		}
		var start time.Time
		onLoop(t, l, func(now time.Time) {
			start = now
			l.After(10*time.Millisecond, tick, nil)
		})
		for range 7 {
			step(t, l, clock, 10*time.Millisecond)
		}
		onLoop(t, l, func(time.Time) {
			if len(fires) != 5 {
				t.Fatalf("reset=%v: fired %d times, want 5", useReset, len(fires))
			}
			for i, f := range fires {
				if want := start.Add(time.Duration(i+1) * 10 * time.Millisecond); !f.Equal(want) {
					t.Errorf("reset=%v: fire %d at %v, want %v", useReset, i, f.Sub(start), want.Sub(start))
				}
			}
		})
	}
}

// A deadline in the past fires at the next timer run; one armed by a firing timer
// waits for the next iteration instead of running in the same batch.
func TestTimerPastDeadline(t *testing.T) {
	l := startLoop(t, Options{})
	type fire struct {
		name string
		iter uint64
	}
	fired := make(chan fire, 4)
	rec := func(name string) TimerFunc {
		return func(*Timer, time.Time) { fired <- fire{name, l.Stats().Iterations} }
	}
	onLoop(t, l, func(now time.Time) {
		l.At(now.Add(-time.Hour), func(tm *Timer, now time.Time) {
			rec("past")(tm, now)
			l.After(-time.Second, rec("rearmed"), nil)
		}, nil)
		l.At(time.Unix(0, 0), rec("epoch"), nil) // wall-clock only deadline
	})
	got := map[string]uint64{}
	for range 3 {
		f := wait(t, fired, "past timers")
		got[f.name] = f.iter
	}
	if got["rearmed"] <= got["past"] {
		t.Errorf("timer armed by a firing timer ran in iteration %d, its parent in %d", got["rearmed"], got["past"])
	}
	if got["epoch"] != got["past"] {
		t.Errorf("epoch deadline fired in iteration %d, not with the other past one (%d)", got["epoch"], got["past"])
	}
}

func TestTimerFarFuture(t *testing.T) {
	clock := newFakeClock()
	l := startLoop(t, Options{Clock: clock.Now})
	var log timerLog
	var start time.Time
	onLoop(t, l, func(now time.Time) {
		start = now
		l.After(3*24*time.Hour, log.fn, "3 days")
		l.After(60*24*time.Hour, log.fn, "60 days") // beyond the wheel's span
		l.At(now.AddDate(2, 0, 0), log.fn, "2 years")
	})
	checks := []struct {
		advance time.Duration
		want    []string
	}{
		{3*24*time.Hour - time.Millisecond, nil},
		{time.Millisecond, []string{"3 days"}},
		{57*24*time.Hour - time.Second, []string{"3 days"}},
		{time.Second, []string{"3 days", "60 days"}},
		{2 * 365 * 24 * time.Hour, []string{"3 days", "60 days", "2 years"}},
	}
	for i, c := range checks {
		step(t, l, clock, c.advance)
		onLoop(t, l, func(time.Time) {
			if !slices.Equal(log.names, c.want) {
				t.Errorf("check %d: fired %v, want %v", i, log.names, c.want)
			}
		})
	}
	onLoop(t, l, func(time.Time) {
		for i, name := range log.names {
			var d time.Duration
			switch name {
			case "3 days":
				d = 3 * 24 * time.Hour
			case "60 days":
				d = 60 * 24 * time.Hour
			default:
				continue
			}
			if got := log.times[i].Sub(start); got != d {
				t.Errorf("%s fired after %v", name, got)
			}
		}
	})
}

// 100k timers with random deadlines fire in deadline order (ties in arming
// order), never before their deadline and never later than the iteration that
// reaches it, while the clock moves in uneven steps through every wheel level.
func TestTimer100kInOrder(t *testing.T) {
	const n = 100_000
	clock := newFakeClock()
	l := startLoop(t, Options{Clock: clock.Now})
	rng := rand.New(rand.NewPCG(1, 2))
	type spec struct{ at time.Duration }
	specs := make([]spec, n)
	for i := range specs {
		// Mostly spread over 2 hours, some crowded into a few milliseconds.
		at := time.Duration(rng.Int64N(int64(2 * time.Hour)))
		if i%10 == 0 {
			at = time.Duration(rng.Int64N(int64(5 * time.Millisecond)))
		}
		specs[i] = spec{at}
	}
	var start time.Time
	var fired []time.Duration
	var seqs []uint64
	early := 0
	onLoop(t, l, func(now time.Time) {
		start = now
		for i := range specs {
			at := specs[i].at
			l.At(now.Add(at), func(tm *Timer, now time.Time) {
				fired = append(fired, at)
				seqs = append(seqs, tm.seq)
				if now.Sub(start) < at {
					early++
				}
			}, nil)
		}
	})
	var elapsed time.Duration
	for elapsed < 2*time.Hour+time.Second {
		d := time.Duration(rng.Int64N(int64(3 * time.Minute)))
		if rng.IntN(4) == 0 {
			d = time.Duration(rng.Int64N(int64(3 * time.Millisecond)))
		}
		elapsed += d
		step(t, l, clock, d)
		// Everything due by now has fired. (Counted on the loop, checked
		// here: a Fatal on the loop's goroutine would end the loop.)
		var cut time.Duration
		due, got := 0, 0
		onLoop(t, l, func(now time.Time) {
			cut = now.Sub(start)
			for _, s := range specs {
				if s.at <= cut {
					due++
				}
			}
			got = len(fired)
		})
		if due != got {
			t.Fatalf("at %v: %d timers due, %d fired", cut, due, got)
		}
	}
	if early > 0 {
		t.Fatalf("%d timers fired before their deadline", early)
	}
	if len(fired) != n {
		t.Fatalf("fired %d timers, want %d", len(fired), n)
	}
	ok := sort.SliceIsSorted(fired, func(i, j int) bool {
		return fired[i] < fired[j] || (fired[i] == fired[j] && seqs[i] < seqs[j])
	})
	if !ok {
		t.Error("timers did not fire in (deadline, arming) order")
	}
}

// The wheel against a sorted list: random arming, cancelling and clock steps
// fire exactly the same timers in the same order.
func TestWheelMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 20 {
		var w wheel
		w.init(time.Millisecond)
		now := time.Duration(rng.Int64N(int64(time.Hour))) - 30*time.Minute
		w.cur = w.tickOf(now)
		type ref struct {
			t     *Timer
			alive bool
		}
		var refs []*ref
		var got, want []*Timer
		for op := range 3000 {
			switch r := rng.IntN(10); {
			case r < 5:
				tm := NewTimer(noopTimer, nil)
				spans := []int64{int64(time.Millisecond), int64(time.Second), int64(time.Minute), int64(time.Hour), int64(100 * 24 * time.Hour)}
				tm.when = now + time.Duration(rng.Int64N(spans[rng.IntN(len(spans))])) - time.Millisecond
				w.add(tm)
				refs = append(refs, &ref{t: tm, alive: true})
			case r < 7 && len(refs) > 0:
				x := refs[rng.IntN(len(refs))]
				if w.cancel(x.t) != x.alive {
					t.Fatalf("round %d op %d: cancel reported %v, reference %v", round, op, !x.alive, x.alive)
				}
				x.alive = false
			default:
				spans := []int64{int64(time.Millisecond), int64(time.Second), int64(time.Hour), int64(30 * 24 * time.Hour)}
				now += time.Duration(rng.Int64N(spans[rng.IntN(len(spans))]))
				w.advance(w.tickOf(now))
				for len(w.heap) > 0 && w.heap[0].when <= now {
					x := w.heapPop()
					x.state = timerIdle
					w.armed--
					got = append(got, x)
				}
				var due []*ref
				for _, x := range refs {
					if x.alive && x.t.when <= now {
						due = append(due, x)
						x.alive = false
					}
				}
				sort.Slice(due, func(i, j int) bool { return timerLess(due[i].t, due[j].t) })
				for _, x := range due {
					want = append(want, x.t)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("round %d op %d: wheel fired %d timers, reference %d (or another order)", round, op, len(got), len(want))
				}
			}
		}
	}
}
