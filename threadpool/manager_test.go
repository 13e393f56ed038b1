package threadpool

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestDefaultPools(t *testing.T) {
	m, _ := newTestManager(t, nil)
	want := map[string][2]int{ // name -> concurrency, backlog (REFERENCE section 4)
		"SWAPOUT": {5, 0}, "SWAPIN": {5, 0}, "UNLINK": {6, 100}, "BATCH_UNLINK": {4, 0},
		"CLOSE": {0, 0}, "CPU": {4, 0}, "IO": {50, 0}, "SPOOLIN": {1, 0},
	}
	stats := m.Stats()
	if len(stats) != len(want) {
		t.Fatalf("got %d pools, want %d", len(stats), len(want))
	}
	for i, s := range stats {
		if i > 0 && stats[i-1].Name >= s.Name {
			t.Errorf("stats not sorted: %s before %s", stats[i-1].Name, s.Name)
		}
		w, ok := want[s.Name]
		if !ok {
			t.Errorf("unexpected pool %s", s.Name)
			continue
		}
		if s.Concurrency != w[0] || s.Backlog != w[1] {
			t.Errorf("%s: concurrency %d backlog %d, want %d %d", s.Name, s.Concurrency, s.Backlog, w[0], w[1])
		}
		if s.Threads != 0 {
			t.Errorf("%s: %d threads before any job, want 0", s.Name, s.Threads)
		}
	}
}

func TestClassLookup(t *testing.T) {
	m, _ := newTestManager(t, nil)
	io := mustClass(t, m, "IO")
	tests := []struct {
		name string
		want ClassID
		ok   bool
	}{
		{"io", io, true},
		{"Io", io, true},
		{"IO", io, true},
		{"batch_unlink", mustClass(t, m, "BATCH_UNLINK"), true},
		{"nosuch", 0, false},
		{"", 0, false},
		{"i o", 0, false},
	}
	for _, tc := range tests {
		got, ok := m.Class(tc.name)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Class(%q) = %d, %v; want %d, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
	if name, ok := m.ClassName(io); !ok || name != "IO" {
		t.Errorf("ClassName(%d) = %q, %v; want IO, true", io, name, ok)
	}
	for _, c := range []ClassID{0, 9999} {
		if name, ok := m.ClassName(c); ok {
			t.Errorf("ClassName(%d) = %q, true; want false", c, name)
		}
	}
}

func TestApplySpecs(t *testing.T) {
	m, _ := newTestManager(t, nil)
	if err := m.Apply([]Spec{{Name: "Bulk", Concurrency: 3, Backlog: 7}, {Name: "io", Concurrency: 9}}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	bulk := mustClass(t, m, "bulk")
	if s := statsOf(t, m, "BULK"); s.Concurrency != 3 || s.Backlog != 7 || s.Class != bulk {
		t.Errorf("BULK = %+v, want concurrency 3 backlog 7 class %d", s, bulk)
	}
	if s := statsOf(t, m, "IO"); s.Concurrency != 9 {
		t.Errorf("IO concurrency %d, want 9", s.Concurrency)
	}
	// The configuration no longer names either: BULK goes, IO returns to its default.
	if err := m.Apply(nil); err != nil {
		t.Fatalf("Apply(nil): %v", err)
	}
	if _, ok := m.Class("bulk"); ok {
		t.Error("BULK still resolves after removal")
	}
	if s := statsOf(t, m, "IO"); s.Concurrency != 50 {
		t.Errorf("IO concurrency %d after reset, want 50", s.Concurrency)
	}
	// Created again, it keeps its class.
	if err := m.Apply([]Spec{{Name: "BULK", Concurrency: 1}}); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if again := mustClass(t, m, "bulk"); again != bulk {
		t.Errorf("BULK class %d after re-creation, want %d", again, bulk)
	}
}

func TestApplyRejectsBadSpecs(t *testing.T) {
	tests := []struct {
		name  string
		specs []Spec
	}{
		{"empty name", []Spec{{Name: ""}}},
		{"space in name", []Spec{{Name: "my pool", Concurrency: 1}}},
		{"control char in name", []Spec{{Name: "p\n", Concurrency: 1}}},
		{"negative concurrency", []Spec{{Name: "p", Concurrency: -1}}},
		{"huge concurrency", []Spec{{Name: "p", Concurrency: maxConcurrency + 1}}},
		{"negative backlog", []Spec{{Name: "p", Concurrency: 1, Backlog: -5}}},
		{"duplicate differing in case", []Spec{{Name: "p", Concurrency: 1}, {Name: "P", Concurrency: 2}}},
		{"bad spec after a good one", []Spec{{Name: "good", Concurrency: 1}, {Name: "io", Concurrency: -3}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := newTestManager(t, nil)
			before := m.Stats()
			err := m.Apply(tc.specs)
			if !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("Apply = %v, want ErrInvalidSpec", err)
			}
			if after := m.Stats(); fmt.Sprint(names(after)) != fmt.Sprint(names(before)) || statsOf(t, m, "IO").Concurrency != 50 {
				t.Errorf("a rejected Apply changed the pools: %v -> %v", names(before), names(after))
			}
		})
	}
}

func names(stats []PoolStats) []string {
	var out []string
	for _, s := range stats {
		out = append(out, fmt.Sprintf("%s/%d", s.Name, s.Concurrency))
	}
	return out
}

func TestSubmitRejectsBadJobs(t *testing.T) {
	m, _ := newTestManager(t, nil) // no loop: loop completions cannot be honoured
	io := mustClass(t, m, "io")
	work := func(*Job) error { return nil }
	tests := []struct {
		name string
		job  *Job
		want error
	}{
		{"nil job", nil, ErrInvalidJob},
		{"no work", &Job{Class: io}, ErrInvalidJob},
		{"no class", &Job{Work: work}, ErrInvalidJob},
		{"unknown class", &Job{Class: 4242, Work: work}, ErrUnknownClass},
		{"event without event", &Job{Class: io, Work: work, Mode: CompleteEvent}, ErrInvalidJob},
		{"module without resumer", &Job{Class: io, Work: work, Mode: CompleteModule}, ErrInvalidJob},
		{"callback without done", &Job{Class: io, Work: work, Mode: CompleteCallback}, ErrInvalidJob},
		{"callback sched without done", &Job{Class: io, Work: work, Mode: CompleteCallbackSched}, ErrInvalidJob},
		{"callback sched without a loop", &Job{Class: io, Work: work, Mode: CompleteCallbackSched, Done: func(*Job) {}}, ErrInvalidJob},
		{"semaphore without sem", &Job{Class: io, Work: work, Mode: CompleteSemaphore}, ErrInvalidJob},
		{"unknown mode", &Job{Class: io, Work: work, Mode: Completion(99)}, ErrInvalidJob},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := m.Submit(tc.job)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Submit = %v, want %v", err, tc.want)
			}
			if tc.job != nil && tc.job.state.Load() != jobIdle {
				t.Error("a rejected job is not idle again")
			}
		})
	}
}

func TestJobBusyAndReuse(t *testing.T) {
	m, _ := newTestManager(t, nil)
	g := newGate()
	j := g.job("held", mustClass(t, m, "cpu"))
	if err := m.Submit(j); err != nil {
		t.Fatal(err)
	}
	g.waitStarted(1)
	if err := m.Submit(j); !errors.Is(err, ErrJobBusy) {
		t.Fatalf("second Submit of an in-flight job = %v, want ErrJobBusy", err)
	}
	g.release()
	// Reuse: a job whose completion ran may be submitted again.
	waitFor(t, "first run to end", func() bool { return j.state.Load() == jobIdle })
	var sem Semaphore
	j.Mode, j.Sem = CompleteSemaphore, &sem
	for range 3 {
		if err := m.Submit(j); err != nil {
			t.Fatalf("resubmit: %v", err)
		}
		if err := sem.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		<-g.started
	}
}

func TestConcurrencyZeroRunsInline(t *testing.T) {
	m, _ := newTestManager(t, nil)
	ran := false // written by the work, read here without synchronisation: inline or a race
	j := &Job{Name: "close fd", Class: mustClass(t, m, "close"), Work: func(*Job) error { ran = true; return nil }}
	if err := m.Submit(j); err != nil {
		t.Fatal(err)
	}
	if !ran {
		t.Fatal("Submit returned before the CLOSE pool's job ran: not inline")
	}
	if s := statsOf(t, m, "CLOSE"); s.Threads != 0 || s.Completed != 1 {
		t.Errorf("CLOSE stats %+v, want 0 threads and 1 completed", s)
	}
}

func TestResizeUnderLoad(t *testing.T) {
	m, _ := newTestManager(t, nil)
	if err := m.Apply([]Spec{{Name: "work", Concurrency: 4}}); err != nil {
		t.Fatal(err)
	}
	c := mustClass(t, m, "work")
	first := newGate()
	for i := range 4 {
		if err := m.Submit(first.job(fmt.Sprint("first", i), c)); err != nil {
			t.Fatal(err)
		}
	}
	first.waitStarted(4)

	// Shrink to 1 while 4 run and 30 wait: the queued ones must then run one at a time.
	var active, peak atomic.Int32
	var wg sync.WaitGroup
	const queued = 30
	wg.Add(queued)
	for i := range queued {
		j := &Job{Name: fmt.Sprint("second", i), Class: c, Mode: CompleteCallback,
			Work: func(*Job) error {
				n := active.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				active.Add(-1)
				return nil
			},
			Done: func(*Job) { wg.Done() }}
		if err := m.Submit(j); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Apply([]Spec{{Name: "work", Concurrency: 1}}); err != nil {
		t.Fatal(err)
	}
	first.release()
	wg.Wait()
	if p := peak.Load(); p != 1 {
		t.Errorf("after shrinking to 1, up to %d jobs ran at once", p)
	}
	waitFor(t, "extra workers to leave", func() bool { return statsOf(t, m, "WORK").Threads <= 1 })

	// Grow to 8 with 8 held jobs queued behind a held one: all 8 must start together.
	third := newGate()
	for i := range 8 {
		if err := m.Submit(third.job(fmt.Sprint("third", i), c)); err != nil {
			t.Fatal(err)
		}
	}
	third.waitStarted(1)
	if err := m.Apply([]Spec{{Name: "work", Concurrency: 8}}); err != nil {
		t.Fatal(err)
	}
	third.waitStarted(7) // would hang if growing did not start workers for the queue
	if s := statsOf(t, m, "WORK"); s.Busy != 8 || s.Threads != 8 {
		t.Errorf("after growing: busy %d threads %d, want 8 and 8", s.Busy, s.Threads)
	}
	third.release()
}

func TestApplyRemoveDrainsQueue(t *testing.T) {
	m, logs := newTestManager(t, nil)
	if err := m.Apply([]Spec{{Name: "serial", Concurrency: 1}}); err != nil {
		t.Fatal(err)
	}
	c := mustClass(t, m, "serial")
	g := newGate()
	var order []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	record := func(j *Job) { mu.Lock(); order = append(order, j.Name); mu.Unlock(); wg.Done() }
	const n = 10
	wg.Add(n)
	for i := range n {
		j := g.job(fmt.Sprint("job", i), c)
		j.Mode, j.Done = CompleteCallback, record
		if err := m.Submit(j); err != nil {
			t.Fatal(err)
		}
	}
	g.waitStarted(1)
	m.mu.Lock()
	p := m.pools["SERIAL"]
	m.mu.Unlock()

	if err := m.Apply(nil); err != nil {
		t.Fatal(err)
	}
	s := statsOf(t, m, "SERIAL")
	if !s.Retiring || s.Queued != n-1 {
		t.Fatalf("removed pool: retiring %v queued %d, want true and %d", s.Retiring, s.Queued, n-1)
	}
	if _, ok := m.Class("serial"); ok {
		t.Error("a retiring pool still resolves by name")
	}
	// A job of the removed class goes to the IO pool.
	var sem Semaphore
	late := &Job{Name: "late", Class: c, Work: func(*Job) error { return nil }, Mode: CompleteSemaphore, Sem: &sem}
	for range 2 {
		if err := m.Submit(late); err != nil {
			t.Fatalf("submit to removed class: %v", err)
		}
		if err := sem.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "late job to be idle", func() bool { return late.state.Load() == jobIdle })
	}
	if late.pool.name != PoolIO || strings.Count(logs.String(), "pool=SERIAL") != 1 {
		t.Errorf("late job ran in %s; want IO and one warning, log %q", late.pool.name, logs.String())
	}

	g.release()
	wg.Wait()
	<-p.left
	for i, name := range order {
		if name != fmt.Sprint("job", i) {
			t.Fatalf("drain order %v, want FIFO", order)
		}
	}
	for _, s := range m.Stats() {
		if s.Name == "SERIAL" {
			t.Error("drained pool still listed")
		}
	}
}

func TestApplyRevivesRetiringPool(t *testing.T) {
	m, _ := newTestManager(t, nil)
	if err := m.Apply([]Spec{{Name: "p", Concurrency: 1}}); err != nil {
		t.Fatal(err)
	}
	c := mustClass(t, m, "p")
	g := newGate()
	for i := range 3 {
		if err := m.Submit(g.job(fmt.Sprint(i), c)); err != nil {
			t.Fatal(err)
		}
	}
	g.waitStarted(1)
	if err := m.Apply(nil); err != nil {
		t.Fatal(err)
	}
	if err := m.Apply([]Spec{{Name: "P", Concurrency: 2}}); err != nil {
		t.Fatal(err)
	}
	if got := mustClass(t, m, "p"); got != c {
		t.Errorf("revived class %d, want %d", got, c)
	}
	g.waitStarted(1) // the second worker of the revived pool takes a queued job
	s := statsOf(t, m, "P")
	if s.Retiring || s.Concurrency != 2 || s.Queued != 1 {
		t.Errorf("revived pool %+v, want not retiring, concurrency 2, 1 queued", s)
	}
	g.release()
}

func TestBacklogOffLoopWaits(t *testing.T) {
	m, _ := newTestManager(t, nil)
	if err := m.Apply([]Spec{{Name: "tight", Concurrency: 1, Backlog: 2}}); err != nil {
		t.Fatal(err)
	}
	c := mustClass(t, m, "tight")
	g := newGate()
	for i := range 3 { // one runs, two fill the backlog
		if err := m.Submit(g.job(fmt.Sprint(i), c)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			g.waitStarted(1)
		}
	}
	if err := m.TrySubmit(g.job("try", c)); !errors.Is(err, ErrBacklogFull) {
		t.Fatalf("TrySubmit on a full backlog = %v, want ErrBacklogFull", err)
	}
	blocked := make(chan error, 1)
	go func() { blocked <- m.Submit(g.job("blocked", c)) }()
	waitFor(t, "submitter to wait for room", func() bool { return statsOf(t, m, "TIGHT").Waiting == 1 })
	select {
	case err := <-blocked:
		t.Fatalf("Submit on a full backlog returned %v instead of waiting", err)
	default:
	}
	g.release()
	if err := <-blocked; err != nil {
		t.Fatalf("waiting Submit: %v", err)
	}
	g.waitStarted(3) // the two queued and the one that waited all run
}

func TestPanickingJob(t *testing.T) {
	m, logs := newTestManager(t, nil)
	c := mustClass(t, m, "cpu")
	var sem Semaphore
	bad := &Job{Name: "explode", Class: c, Mode: CompleteSemaphore, Sem: &sem,
		Work: func(*Job) error { panic("boom") }}
	if err := m.Submit(bad); err != nil {
		t.Fatal(err)
	}
	if err := sem.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(bad.Err, ErrPanic) || !strings.Contains(bad.Err.Error(), "boom") || !strings.Contains(bad.Err.Error(), "explode") {
		t.Errorf("Err = %v, want ErrPanic naming the job and the value", bad.Err)
	}
	for _, want := range []string{"pool=CPU", "job=explode", "panic=boom"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q: %s", want, logs.String())
		}
	}
	good := &Job{Name: "fine", Class: c, Mode: CompleteSemaphore, Sem: &sem, Work: func(*Job) error { return nil }}
	if err := m.Submit(good); err != nil {
		t.Fatal(err)
	}
	if err := sem.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if good.Err != nil {
		t.Errorf("job after a panic: %v", good.Err)
	}
	s := statsOf(t, m, "CPU")
	if s.Panics != 1 || s.Failed != 1 || s.Completed != 2 {
		t.Errorf("stats panics %d failed %d completed %d, want 1 1 2", s.Panics, s.Failed, s.Completed)
	}
}

func TestLimiterBoundsAcrossPools(t *testing.T) {
	m, _ := newTestManager(t, nil)
	lim := NewLimiter(2)
	var active, peak atomic.Int32
	var wg sync.WaitGroup
	const n = 200
	wg.Add(n)
	classes := []ClassID{mustClass(t, m, "io"), mustClass(t, m, "cpu"), mustClass(t, m, "swapin")}
	for i := range n {
		j := &Job{Name: fmt.Sprint(i), Class: classes[i%len(classes)], Limiter: lim, Mode: CompleteCallback,
			Work: func(*Job) error {
				now := active.Add(1)
				for {
					p := peak.Load()
					if now <= p || peak.CompareAndSwap(p, now) {
						break
					}
				}
				for range 10 {
					runtime.Gosched() // widen the window in which an excess job would overlap
				}
				active.Add(-1)
				return nil
			},
			Done: func(*Job) { wg.Done() }}
		if err := m.Submit(j); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if p := peak.Load(); p > 2 {
		t.Errorf("up to %d limited jobs ran at once, limit 2", p)
	}
	if a := lim.Active(); a != 0 {
		t.Errorf("limiter holds %d slots after all jobs finished", a)
	}
}

func TestLimiterParksWithoutHoldingAWorker(t *testing.T) {
	m, _ := newTestManager(t, nil)
	if err := m.Apply([]Spec{{Name: "two", Concurrency: 2}}); err != nil {
		t.Fatal(err)
	}
	c := mustClass(t, m, "two")
	lim := NewLimiter(1)
	g := newGate()
	holder := g.job("holder", c)
	holder.Limiter = lim
	if err := m.Submit(holder); err != nil {
		t.Fatal(err)
	}
	g.waitStarted(1)
	var sem Semaphore
	parked := &Job{Name: "parked", Class: c, Limiter: lim, Mode: CompleteSemaphore, Sem: &sem, Work: func(*Job) error { return nil }}
	free := &Job{Name: "free", Class: c, Mode: CompleteSemaphore, Sem: &sem, Work: func(*Job) error { return nil }}
	if err := m.Submit(parked); err != nil {
		t.Fatal(err)
	}
	if err := m.Submit(free); err != nil {
		t.Fatal(err)
	}
	// With only two workers and one held, "free" can run only if "parked" left its worker.
	if err := sem.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if free.state.Load() != jobIdle || parked.state.Load() == jobIdle {
		t.Fatal("the unlimited job did not finish first")
	}
	q, err := m.Queue("two")
	if err != nil || q.Parked != 1 {
		t.Errorf("Queue = %+v, %v; want 1 parked", q, err)
	}
	g.release()
	if err := sem.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if lim.Active() != 0 {
		t.Errorf("limiter active %d, want 0", lim.Active())
	}
}

func TestSkipCompletion(t *testing.T) {
	m, _ := newTestManager(t, nil)
	worked := make(chan struct{})
	var done atomic.Int32
	j := &Job{Name: "later", Class: mustClass(t, m, "io"), SkipCompletion: true, Mode: CompleteCallback,
		Work: func(*Job) error { close(worked); return nil },
		Done: func(*Job) { done.Add(1) }}
	if err := m.Complete(j); !errors.Is(err, ErrNotPending) {
		t.Fatalf("Complete before submit = %v, want ErrNotPending", err)
	}
	if err := m.Submit(j); err != nil {
		t.Fatal(err)
	}
	<-worked
	waitFor(t, "job to await completion", func() bool { return j.state.Load() == jobAwaiting })
	if done.Load() != 0 {
		t.Fatal("completion ran although skipped")
	}
	if err := m.Submit(j); !errors.Is(err, ErrJobBusy) {
		t.Errorf("Submit of an awaiting job = %v, want ErrJobBusy", err)
	}
	if err := m.Complete(j); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if done.Load() != 1 {
		t.Errorf("Done ran %d times, want 1", done.Load())
	}
	if err := m.Complete(j); !errors.Is(err, ErrNotPending) {
		t.Errorf("second Complete = %v, want ErrNotPending", err)
	}
}

func TestStatsCounts(t *testing.T) {
	m, _ := newTestManager(t, nil)
	c := mustClass(t, m, "swapout")
	var sem Semaphore
	errBad := errors.New("bad")
	for i, fail := range []bool{false, true, false} {
		j := &Job{Name: fmt.Sprint(i), Class: c, Mode: CompleteSemaphore, Sem: &sem,
			Work: func(*Job) error {
				if fail {
					return errBad
				}
				return nil
			}}
		if err := m.Submit(j); err != nil {
			t.Fatal(err)
		}
		if err := sem.Wait(t.Context()); err != nil {
			t.Fatal(err)
		}
		if fail != errors.Is(j.Err, errBad) {
			t.Errorf("job %d Err = %v", i, j.Err)
		}
	}
	s := statsOf(t, m, "SWAPOUT")
	if s.Invocations != 3 || s.Completed != 3 || s.Failed != 1 || s.Panics != 0 || s.Busy != 0 || s.Queued != 0 {
		t.Errorf("stats %+v, want 3 invocations, 3 completed, 1 failed, idle", s)
	}
	if s.P99Wait < s.MeanWait && s.MeanWait > 0 {
		t.Errorf("p99 wait %v below mean %v", s.P99Wait, s.MeanWait)
	}
	if s.AvgConcurrency < 0 || s.Saturation < 0 || s.AvgConcurrency > float64(s.Concurrency) {
		t.Errorf("avg concurrency %v saturation %v out of range", s.AvgConcurrency, s.Saturation)
	}
}

func TestQueueListing(t *testing.T) {
	m, _ := newTestManager(t, nil)
	if err := m.Apply([]Spec{{Name: "one", Concurrency: 1}}); err != nil {
		t.Fatal(err)
	}
	c := mustClass(t, m, "one")
	g := newGate()
	for _, name := range []string{"running", "a", "b"} {
		if err := m.Submit(g.job(name, c)); err != nil {
			t.Fatal(err)
		}
		if name == "running" {
			g.waitStarted(1)
		}
	}
	q, err := m.Queue("One")
	if err != nil {
		t.Fatal(err)
	}
	if q.Pool != "ONE" || strings.Join(q.Jobs, ",") != "a,b" {
		t.Errorf("Queue = %+v, want ONE with a,b", q)
	}
	if _, err := m.Queue("nosuch"); !errors.Is(err, ErrNoPool) {
		t.Errorf("Queue(nosuch) = %v, want ErrNoPool", err)
	}
	g.release()
}

func TestShrinkToZeroDrainsQueue(t *testing.T) {
	m, _ := newTestManager(t, nil)
	if err := m.Apply([]Spec{{Name: "p", Concurrency: 1}}); err != nil {
		t.Fatal(err)
	}
	c := mustClass(t, m, "p")
	g := newGate()
	for i := range 3 {
		if err := m.Submit(g.job(fmt.Sprint(i), c)); err != nil {
			t.Fatal(err)
		}
	}
	g.waitStarted(1)
	if err := m.Apply([]Spec{{Name: "p", Concurrency: 0}}); err != nil {
		t.Fatal(err)
	}
	// A new job now runs inline; the two queued ones still get a worker.
	inline := false
	if err := m.Submit(&Job{Name: "inline", Class: c, Work: func(*Job) error { inline = true; return nil }}); err != nil {
		t.Fatal(err)
	}
	if !inline {
		t.Error("job of a concurrency-0 pool did not run inline")
	}
	g.release()
	g.waitStarted(2) // hangs if the queue were stranded without a worker
	waitFor(t, "the last worker to leave", func() bool { return statsOf(t, m, "P").Threads == 0 })
}

func TestJobLoopOverride(t *testing.T) {
	main, other := startLoop(t), startLoop(t)
	m, _ := newTestManager(t, main)
	got := make(chan [2]bool, 1)
	j := &Job{Name: "elsewhere", Class: mustClass(t, m, "io"), Loop: other, Mode: CompleteCallbackSched,
		Work: func(*Job) error { return nil },
		Done: func(*Job) { got <- [2]bool{main.OnLoop(), other.OnLoop()} }}
	if err := m.Submit(j); err != nil {
		t.Fatal(err)
	}
	if r := <-got; r != [2]bool{false, true} {
		t.Errorf("Done on main %v, on other %v; want the job's own loop", r[0], r[1])
	}
}

func TestShutdownDropsParkedJobAndPassesSlot(t *testing.T) {
	m, _ := newTestManager(t, nil)
	lim := NewLimiter(1)
	g := newGate()
	c := mustClass(t, m, "io")
	holder := g.job("holder", c)
	holder.Limiter = lim
	if err := m.Submit(holder); err != nil {
		t.Fatal(err)
	}
	g.waitStarted(1)
	var ran atomic.Int32
	var sem Semaphore
	skip := &Job{Name: "skip", Class: c, Limiter: lim, SkipOnShutdown: true, Work: func(*Job) error { ran.Add(1); return nil }}
	keep := &Job{Name: "keep", Class: c, Limiter: lim, Mode: CompleteSemaphore, Sem: &sem, Work: func(*Job) error { ran.Add(10); return nil }}
	for _, j := range []*Job{skip, keep} {
		if err := m.Submit(j); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both jobs to park", func() bool { return statsOf(t, m, "IO").Queued == 2 })
	done := make(chan ShutdownReport, 1)
	go func() {
		r, err := m.Shutdown(t.Context())
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	// The pool's own flag, not the Manager's: Shutdown raises the Manager's first, and a slot
	// released in between would let "skip" run.
	io := m.poolAt(c)
	waitFor(t, "shutdown to reach the pool", func() bool { return locked(io, func() bool { return io.stopping }) })
	g.release() // the slot goes to "skip", which is dropped and must pass it on to "keep"
	if err := sem.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if ran.Load() != 10 || !errors.Is(skip.Err, ErrShutdown) || lim.Active() != 0 {
		t.Errorf("ran %d, skip.Err %v, limiter active %d; want only keep to run and the slot back", ran.Load(), skip.Err, lim.Active())
	}
	if want := "IO: 1 skipped, 0 queued, 0 running"; r.String() != want {
		t.Errorf("report %q, want %q", r.String(), want)
	}
}
