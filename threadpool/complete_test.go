package threadpool

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecelerity-go/ecelerity/sched"
)

// resumer records the loop-side call of a CompleteModule job.
type resumer struct {
	loop   *sched.Loop
	onLoop bool
	now    time.Time
	done   chan struct{}
}

func (r *resumer) Resume(now time.Time) {
	r.onLoop, r.now = r.loop.OnLoop(), now
	close(r.done)
}

func TestCompletionModes(t *testing.T) {
	loop := startLoop(t)
	m, _ := newTestManager(t, loop)
	io := mustClass(t, m, "io")
	errWork := errors.New("work failed")
	work := func(*Job) error { return errWork }

	tests := []struct {
		name string
		// setup fills the job's mode fields and returns a wait that blocks until the
		// completion has run, then checks it.
		setup func(t *testing.T, j *Job) func()
	}{
		{"none", func(t *testing.T, j *Job) func() {
			ran := make(chan struct{})
			j.Work = func(*Job) error { close(ran); return nil }
			return func() { <-ran }
		}},
		{"module", func(t *testing.T, j *Job) func() {
			r := &resumer{loop: loop, done: make(chan struct{})}
			j.Mode, j.Resumer = CompleteModule, r
			return func() {
				<-r.done
				if !r.onLoop || r.now.IsZero() {
					t.Errorf("Resume on loop %v with now %v; want on the loop with its time", r.onLoop, r.now)
				}
			}
		}},
		{"callback in the worker", func(t *testing.T, j *Job) func() {
			type result struct {
				onLoop bool
				err    error
			}
			got := make(chan result, 1)
			j.Mode, j.Done = CompleteCallback, func(j *Job) { got <- result{loop.OnLoop(), j.Err} }
			return func() {
				r := <-got
				if r.onLoop || !errors.Is(r.err, errWork) {
					t.Errorf("Done on loop %v with Err %v; want in the worker with the work's error", r.onLoop, r.err)
				}
			}
		}},
		{"callback on the loop", func(t *testing.T, j *Job) func() {
			got := make(chan bool, 1)
			j.Mode, j.Done = CompleteCallbackSched, func(j *Job) { got <- loop.OnLoop() && errors.Is(j.Err, errWork) }
			return func() {
				if !<-got {
					t.Error("Done did not run on the loop with the work's error")
				}
			}
		}},
		{"semaphore", func(t *testing.T, j *Job) func() {
			sem := &Semaphore{}
			j.Mode, j.Sem = CompleteSemaphore, sem
			return func() {
				if err := sem.Wait(t.Context()); err != nil {
					t.Error(err)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			freed := make(chan struct{})
			j := &Job{Name: tc.name, Class: io, Work: work, Free: func() { close(freed) }}
			wait := tc.setup(t, j)
			if err := m.Submit(j); err != nil {
				t.Fatalf("Submit: %v", err)
			}
			wait()
			<-freed
		})
	}
}

func TestCompleteEventResumesSuspendedEvent(t *testing.T) {
	loop := startLoop(t)
	m, _ := newTestManager(t, loop)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })

	type resumed struct {
		fired Mask
		data  string
	}
	got := make(chan resumed, 1)
	var calls atomic.Int32
	var callbackDone atomic.Bool
	freedAfterCallback := make(chan bool, 1)
	io := mustClass(t, m, "io")
	job := &Job{Name: "fetch", Class: io, Mode: CompleteEvent, Mask: sched.Write,
		Work: func(j *Job) error { j.Data = "fetched"; return nil },
		Free: func() { freedAfterCallback <- callbackDone.Load() }}
	cb := func(ev *sched.Event, fired sched.Mask, now time.Time) sched.Mask {
		if calls.Add(1) == 1 {
			// The request: suspend the connection while a pool job does the blocking part.
			var buf [16]byte
			if _, err := unix.Read(ev.FD(), buf[:]); err != nil {
				t.Errorf("read: %v", err)
			}
			job.Event = loop.Suspend(ev)
			if err := m.Submit(job); err != nil {
				t.Errorf("Submit from the loop: %v", err)
			}
			return 0
		}
		got <- resumed{Mask(fired), job.Data.(string)}
		callbackDone.Store(true)
		return 0
	}
	onLoop(loop, func(time.Time) {
		if _, err := loop.Add(fds[0], sched.Read, cb, nil); err != nil {
			t.Errorf("Add: %v", err)
		}
	})
	if _, err := unix.Write(fds[1], []byte("GET\n")); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.fired != Mask(sched.Write) || r.data != "fetched" {
		t.Errorf("resumed with %v and %q; want Write and the job's data", r.fired, r.data)
	}
	if !<-freedAfterCallback {
		t.Error("Free ran before the resumed callback")
	}
}

// Mask keeps the test's comparisons typed.
type Mask = sched.Mask

func TestCompleteSync(t *testing.T) {
	loop := startLoop(t)
	m, _ := newTestManager(t, loop)
	tests := []struct {
		name   string
		onLoop bool
	}{
		{"from a goroutine", false},
		{"from the loop", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var workOnLoop, doneRan bool // plain variables: inline or a data race
			j := &Job{Name: "sync", Class: mustClass(t, m, "cpu"), Mode: CompleteSync,
				Work: func(*Job) error { workOnLoop = loop.OnLoop(); return nil },
				Done: func(*Job) { doneRan = true }}
			submit := func(time.Time) {
				if err := m.Submit(j); err != nil {
					t.Errorf("Submit: %v", err)
				}
				if !doneRan {
					t.Error("Submit returned before Done ran")
				}
			}
			if tc.onLoop {
				onLoop(loop, submit)
			} else {
				submit(time.Time{})
			}
			if workOnLoop != tc.onLoop {
				t.Errorf("work on the loop %v, want %v: not the caller's goroutine", workOnLoop, tc.onLoop)
			}
		})
	}
}

func TestBacklogFullOnLoopFails(t *testing.T) {
	loop := startLoop(t)
	m, _ := newTestManager(t, loop)
	if err := m.Apply([]Spec{{Name: "tight", Concurrency: 1, Backlog: 1}}); err != nil {
		t.Fatal(err)
	}
	c := mustClass(t, m, "tight")
	g := newGate()
	defer g.release()
	if err := m.Submit(g.job("running", c)); err != nil {
		t.Fatal(err)
	}
	g.waitStarted(1)
	onLoop(loop, func(time.Time) {
		if err := m.Submit(g.job("fits", c)); err != nil {
			t.Errorf("Submit with room, on the loop: %v", err)
		}
		if err := m.Submit(g.job("overflow", c)); !errors.Is(err, ErrBacklogFull) {
			t.Errorf("Submit on a full backlog, on the loop = %v; want ErrBacklogFull at once", err)
		}
	})
}

func TestSyncLimiterOnLoopFails(t *testing.T) {
	loop := startLoop(t)
	m, _ := newTestManager(t, loop)
	lim := NewLimiter(1)
	g := newGate()
	defer g.release()
	holder := g.job("holder", mustClass(t, m, "cpu"))
	holder.Limiter = lim
	if err := m.Submit(holder); err != nil {
		t.Fatal(err)
	}
	g.waitStarted(1)
	ran := false
	j := &Job{Name: "sync", Class: mustClass(t, m, "cpu"), Mode: CompleteSync, Limiter: lim,
		Work: func(*Job) error { ran = true; return nil }}
	onLoop(loop, func(time.Time) {
		if err := m.Submit(j); !errors.Is(err, ErrLimiterBusy) {
			t.Errorf("sync job with a full limiter on the loop = %v, want ErrLimiterBusy", err)
		}
	})
	if ran {
		t.Error("the refused job ran")
	}
	// Off the loop it waits its turn instead.
	done := make(chan error, 1)
	go func() { done <- m.Submit(j) }()
	waitFor(t, "sync job to park on the limiter", func() bool {
		lim.mu.Lock()
		defer lim.mu.Unlock()
		return lim.parked == 1
	})
	g.release()
	if err := <-done; err != nil || !ran {
		t.Errorf("sync job off the loop: %v, ran %v", err, ran)
	}
}

func TestLoopCompletionsAreBatched(t *testing.T) {
	loop := startLoop(t)
	m, _ := newTestManager(t, loop)
	io := mustClass(t, m, "io")
	hold := make(chan struct{})
	holding := make(chan struct{})
	loop.Dispatch(func(time.Time) { close(holding); <-hold }) // keep the loop busy
	<-holding

	const n = 100
	var mu sync.Mutex
	nows := map[time.Time]int{}
	var all sync.WaitGroup
	all.Add(n)
	jobs := make([]Job, n)
	for i := range jobs {
		jobs[i] = Job{Name: "batched", Class: io, Mode: CompleteCallbackSched, Work: func(*Job) error { return nil },
			Done: func(*Job) {
				mu.Lock()
				nows[loop.Now()]++
				mu.Unlock()
				all.Done()
			}}
		if err := m.Submit(&jobs[i]); err != nil {
			t.Fatal(err)
		}
	}
	q := m.loopQueue(loop)
	waitFor(t, "all completions to queue for the loop", func() bool {
		q.mu.Lock()
		defer q.mu.Unlock()
		k := 0
		for j := q.head; j != nil; j = j.next {
			k++
		}
		return k == n
	})
	before := loop.Stats().Dispatched
	close(hold)
	all.Wait()
	if len(nows) != 1 {
		t.Errorf("completions ran in %d loop iterations, want 1 batch: %v", len(nows), nows)
	}
	// One drain, not one hand-over per job. (The holder was counted when
	// its batch began, before `before` was read.)
	waitFor(t, "loop stats", func() bool { return loop.Stats().Dispatched >= before+1 })
	if d := loop.Stats().Dispatched - before; d != 1 {
		t.Errorf("%d functions handed to the loop for %d completions, want 1 (one batch)", d, n)
	}
}
