package threadpool

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

func TestShutdownDrainsAndSkips(t *testing.T) {
	m, _ := newTestManager(t, nil)
	if err := m.Apply([]Spec{{Name: "one", Concurrency: 1}}); err != nil {
		t.Fatal(err)
	}
	c := mustClass(t, m, "one")
	g := newGate()
	if err := m.Submit(g.job("running", c)); err != nil {
		t.Fatal(err)
	}
	g.waitStarted(1)
	var completed, freed atomic.Int32
	var skipped []*Job
	for i := range 5 {
		skip := i%2 == 1 // jobs 1 and 3 may be dropped
		j := &Job{Name: fmt.Sprint("queued", i), Class: c, SkipOnShutdown: skip, Mode: CompleteCallback,
			Work: func(*Job) error { return nil },
			Done: func(*Job) { completed.Add(1) },
			Free: func() { freed.Add(1) }}
		if skip {
			skipped = append(skipped, j)
		}
		if err := m.Submit(j); err != nil {
			t.Fatal(err)
		}
	}
	type result struct {
		r   ShutdownReport
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := m.Shutdown(context.Background())
		done <- result{r, err}
	}()
	waitFor(t, "shutdown to begin", func() bool { return m.stopping.Load() })
	waitFor(t, "skip-on-shutdown jobs to be dropped", func() bool { return freed.Load() == 2 })
	late := &Job{Name: "late", Class: c, Work: func(*Job) error { return nil }}
	if err := m.Submit(late); !errors.Is(err, ErrShutdown) {
		t.Errorf("Submit during shutdown = %v, want ErrShutdown", err)
	}
	g.release()
	res := <-done
	if res.err != nil {
		t.Fatalf("Shutdown: %v", res.err)
	}
	want := []Abandoned{{Pool: "ONE", Skipped: 2}}
	if fmt.Sprint(res.r.Abandoned) != fmt.Sprint(want) || res.r.Total() != 2 {
		t.Errorf("report %v, want %v", res.r.Abandoned, want)
	}
	if completed.Load() != 3 || freed.Load() != 5 {
		t.Errorf("completed %d freed %d, want 3 and 5", completed.Load(), freed.Load())
	}
	for _, j := range skipped {
		if !errors.Is(j.Err, ErrShutdown) {
			t.Errorf("skipped job %s: Err %v, want ErrShutdown", j.Name, j.Err)
		}
	}
	if err := m.Apply(nil); !errors.Is(err, ErrShutdown) {
		t.Errorf("Apply after shutdown = %v, want ErrShutdown", err)
	}
}

func TestShutdownDeadline(t *testing.T) {
	m, _ := newTestManager(t, nil)
	if err := m.Apply([]Spec{{Name: "one", Concurrency: 1}}); err != nil {
		t.Fatal(err)
	}
	c := mustClass(t, m, "one")
	g := newGate()
	defer g.release()
	if err := m.Submit(g.job("stuck", c)); err != nil {
		t.Fatal(err)
	}
	g.waitStarted(1)
	var ran atomic.Int32
	for i := range 3 {
		j := &Job{Name: fmt.Sprint("never", i), Class: c, Work: func(*Job) error { ran.Add(1); return nil }}
		if err := m.Submit(j); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the deadline has passed before the stuck job can end
	r, err := m.Shutdown(ctx)
	if !errors.Is(err, ErrDrainTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown = %v, want ErrDrainTimeout wrapping context.Canceled", err)
	}
	want := []Abandoned{{Pool: "ONE", Queued: 3, Running: 1}}
	if fmt.Sprint(r.Abandoned) != fmt.Sprint(want) {
		t.Errorf("report %v, want %v", r.Abandoned, want)
	}
	g.release()
	// The stuck job ends; the dropped ones never run.
	waitFor(t, "pool to drain", func() bool {
		s := statsOf(t, m, "ONE")
		return s.Busy == 0 && s.Threads == 0
	})
	if ran.Load() != 0 {
		t.Errorf("%d dropped jobs ran", ran.Load())
	}
	if s := r.String(); s != "ONE: 0 skipped, 3 queued, 1 running" {
		t.Errorf("report text %q", s)
	}
}

func TestShutdownIdleManager(t *testing.T) {
	m, _ := newTestManager(t, nil)
	r, err := m.Shutdown(context.Background())
	if err != nil || r.Total() != 0 || r.String() != "no jobs abandoned" {
		t.Errorf("Shutdown of an idle manager = %v, %v", r, err)
	}
}
