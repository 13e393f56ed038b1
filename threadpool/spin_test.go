package threadpool

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecelerity-go/ecelerity/sched"
)

// spinManager returns a manager whose workers spin for spin (see Options.Spin), with one pool
// per name of the given concurrency.
func spinManager(t *testing.T, loop *sched.Loop, spin time.Duration, concurrency int, names ...string) *Manager {
	t.Helper()
	m := NewManager(Options{Loop: loop, Spin: spin, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		// Not t.Context(), which is done by now: a spin that ignored the shutdown would
		// show as a drain timeout.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := m.Shutdown(ctx); err != nil {
			t.Errorf("cleanup shutdown: %v", err)
		}
	})
	specs := make([]Spec, 0, len(names))
	for _, n := range names {
		specs = append(specs, Spec{Name: n, Concurrency: concurrency})
	}
	if err := m.Apply(specs); err != nil {
		t.Fatal(err)
	}
	return m
}

// poolNamed returns the live pool of a name.
func poolNamed(t *testing.T, m *Manager, name string) *pool {
	t.Helper()
	return m.poolAt(mustClass(t, m, name))
}

// locked reads pool state under its lock.
func locked[T any](p *pool, read func() T) T {
	p.mu.Lock()
	defer p.mu.Unlock()
	return read()
}

// runOnLoop submits a CompleteCallbackSched job of class c and waits for its completion.
func runOnLoop(t *testing.T, m *Manager, c ClassID) {
	t.Helper()
	done := make(chan struct{})
	j := &Job{Name: "round trip", Class: c, Mode: CompleteCallbackSched,
		Work: func(*Job) error { return nil }, Done: func(*Job) { close(done) }}
	if err := m.Submit(j); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	<-done
}

// TestSpinningWorkerTakesNextJob: a worker that has just finished a job spins, and the next
// job goes to it: no second worker is started although the pool allows two.
func TestSpinningWorkerTakesNextJob(t *testing.T) {
	loop := startLoop(t)
	m := spinManager(t, loop, time.Hour, 2, "spin")
	p, c := poolNamed(t, m, "spin"), mustClass(t, m, "spin")
	runOnLoop(t, m, c)
	waitFor(t, "the worker to spin", func() bool { return locked(p, func() bool { return p.spinning == 1 }) })
	runOnLoop(t, m, c)
	if w := locked(p, func() int { return p.workers }); w != 1 {
		t.Errorf("%d workers after a job submitted to a spinning worker, want 1", w)
	}
}

// TestSpinEndsOnKick: a resize ends a spin at once, so the worker re-checks its place (and a
// shutdown does not wait for the spin budget).
func TestSpinEndsOnKick(t *testing.T) {
	loop := startLoop(t)
	m := spinManager(t, loop, time.Hour, 1, "spin")
	p, c := poolNamed(t, m, "spin"), mustClass(t, m, "spin")
	runOnLoop(t, m, c)
	waitFor(t, "the worker to spin", func() bool { return locked(p, func() bool { return p.spinning == 1 }) })
	if err := m.Apply([]Spec{{Name: "spin", Concurrency: 2}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the worker to stop spinning and wait", func() bool {
		return locked(p, func() bool { return p.spinning == 0 && p.idle == 1 })
	})
}

// TestSpinnerCap: no more workers spin at once than the Manager allows, whatever the pools.
func TestSpinnerCap(t *testing.T) {
	loop := startLoop(t)
	m := spinManager(t, loop, time.Hour, 1, "a", "b")
	m.maxSpinners = 1
	a, b := poolNamed(t, m, "a"), poolNamed(t, m, "b")
	runOnLoop(t, m, mustClass(t, m, "a"))
	waitFor(t, "a's worker to spin", func() bool { return locked(a, func() bool { return a.spinning == 1 }) })
	runOnLoop(t, m, mustClass(t, m, "b"))
	waitFor(t, "b's worker to wait, not spin", func() bool { return locked(b, func() bool { return b.idle == 1 }) })
	if n := m.spinners.Load(); n != 1 {
		t.Errorf("%d spinners, want 1", n)
	}
}

// TestAnnouncedCompletions: a job handed to a spinning worker is announced to the loop it
// completes on (sched.Loop.Expect), and every way the job can end takes the announcement back
// exactly once. Workers here never spin for real (Spin < 0): the test stands in for a spinner
// by raising the pool's spinning count, so that the job stays queued until the test lets a
// worker take it.
func TestAnnouncedCompletions(t *testing.T) {
	loop := startLoop(t)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })

	type env struct {
		m     *Manager
		p     *pool
		start func() // lets a worker take the queued job
	}
	cases := []struct {
		name      string
		announced bool
		// setup fills the job's mode fields and returns what drives the job to its end and
		// waits for it.
		setup func(t *testing.T, e env, j *Job) func()
	}{
		{"callback on the loop", true, func(t *testing.T, e env, j *Job) func() {
			done := make(chan struct{})
			j.Mode, j.Done = CompleteCallbackSched, func(*Job) { close(done) }
			return func() { e.start(); <-done }
		}},
		{"module", true, func(t *testing.T, e env, j *Job) func() {
			r := &resumer{loop: loop, done: make(chan struct{})}
			j.Mode, j.Resumer = CompleteModule, r
			return func() { e.start(); <-r.done }
		}},
		{"event", true, func(t *testing.T, e env, j *Job) func() {
			resumed := make(chan struct{})
			onLoop(loop, func(time.Time) {
				ev, err := loop.Add(fds[0], sched.Read, func(*sched.Event, sched.Mask, time.Time) sched.Mask {
					close(resumed)
					return 0
				}, nil)
				if err != nil {
					t.Errorf("Add: %v", err)
					return
				}
				j.Event = loop.Suspend(ev)
			})
			j.Mode, j.Mask = CompleteEvent, sched.Read
			return func() { e.start(); <-resumed }
		}},
		{"callback in the worker", false, func(t *testing.T, e env, j *Job) func() {
			done := make(chan struct{})
			j.Mode, j.Done = CompleteCallback, func(*Job) { close(done) }
			return func() { e.start(); <-done }
		}},
		{"completed later", true, func(t *testing.T, e env, j *Job) func() {
			done := make(chan struct{})
			j.Mode, j.Done, j.SkipCompletion = CompleteCallbackSched, func(*Job) { close(done) }, true
			return func() {
				e.start()
				waitFor(t, "the work", func() bool { return j.state.Load() == jobAwaiting })
				if n := loop.Stats().Expected; n != 0 {
					t.Errorf("%d hand-overs expected while the job awaits Complete, want 0", n)
				}
				if err := e.m.Complete(j); err != nil {
					t.Errorf("Complete: %v", err)
				}
				<-done
			}
		}},
		{"dropped at shutdown", true, func(t *testing.T, e env, j *Job) func() {
			j.Mode, j.Done, j.SkipOnShutdown = CompleteCallbackSched, func(*Job) { t.Error("completion of a dropped job") }, true
			return func() {
				if _, err := e.m.Shutdown(t.Context()); err != nil {
					t.Errorf("Shutdown: %v", err)
				}
			}
		}},
		{"parked on a limiter", true, func(t *testing.T, e env, j *Job) func() {
			lim := NewLimiter(1)
			lim.tryAcquire() // the slot is taken: the job will park
			done := make(chan struct{})
			j.Mode, j.Done, j.Limiter = CompleteCallbackSched, func(*Job) { close(done) }, lim
			return func() {
				e.start()
				waitFor(t, "the job to park", func() bool { return locked(e.p, func() bool { return e.p.parked == 1 }) })
				if n := loop.Stats().Expected; n != 0 {
					t.Errorf("%d hand-overs expected while the job is parked, want 0", n)
				}
				e.m.handOff(lim.release())
				<-done
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := spinManager(t, loop, -1, 1, "spin")
			p := poolNamed(t, m, "spin")
			e := env{m: m, p: p, start: func() {
				p.mu.Lock()
				p.spinning--
				p.kickLocked()
				p.mu.Unlock()
			}}
			p.mu.Lock()
			p.spinning++ // a stand-in spinner: pushes announce and wake no one
			p.mu.Unlock()

			j := &Job{Name: tc.name, Class: mustClass(t, m, "spin"), Work: func(*Job) error { return nil }}
			finish := tc.setup(t, e, j)
			if err := m.Submit(j); err != nil {
				t.Fatalf("Submit: %v", err)
			}
			want := int64(0)
			if tc.announced {
				want = 1
			}
			if n := loop.Stats().Expected; n != want {
				t.Errorf("%d hand-overs expected after Submit, want %d", n, want)
			}
			finish()
			// Once the worker waits again, it has finished with the job, announcement
			// included.
			waitFor(t, "the worker to wait", func() bool {
				return locked(p, func() bool { return p.workers == 0 || p.idle == 1 })
			})
			if n := loop.Stats().Expected; n != 0 {
				t.Errorf("%d hand-overs expected at the end, want 0", n)
			}
		})
	}
}
