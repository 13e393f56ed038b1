package threadpool

import (
	"bytes"
	"errors"
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/sched"
)

// logBuffer is a goroutine-safe buffer for a test's slog output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newTestManager returns a manager logging into the returned buffer, shut down at cleanup.
func newTestManager(t testing.TB, loop *sched.Loop) (*Manager, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	m := NewManager(Options{Loop: loop, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	t.Cleanup(func() {
		if _, err := m.Shutdown(t.Context()); err != nil && !errors.Is(err, ErrDrainTimeout) {
			t.Errorf("cleanup shutdown: %v", err)
		}
	})
	return m, logs
}

// startLoop runs a real scheduler loop until the test ends.
func startLoop(t testing.TB) *sched.Loop {
	t.Helper()
	l, err := sched.New(sched.Options{})
	if err != nil {
		t.Fatalf("sched.New: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	t.Cleanup(func() {
		l.Stop()
		if err := <-done; err != nil {
			t.Errorf("loop Run: %v", err)
		}
	})
	return l
}

// onLoop runs fn on the loop goroutine and waits for it.
func onLoop(l *sched.Loop, fn func(now time.Time)) {
	done := make(chan struct{})
	l.Dispatch(func(now time.Time) {
		defer close(done)
		fn(now)
	})
	<-done
}

// mustClass returns the class of a pool that must exist.
func mustClass(t testing.TB, m *Manager, name string) ClassID {
	t.Helper()
	c, ok := m.Class(name)
	if !ok {
		t.Fatalf("Class(%q): no such pool", name)
	}
	return c
}

// gate is a set of jobs held inside their work function until it opens.
type gate struct {
	started chan string   // each held job's name, as it starts
	open    chan struct{} // closed to let every held job return
	once    sync.Once
}

func newGate() *gate {
	return &gate{started: make(chan string, 1024), open: make(chan struct{})}
}

// job returns a job of class c that reports its start and waits for the gate.
func (g *gate) job(name string, c ClassID) *Job {
	return &Job{Name: name, Class: c, Work: func(j *Job) error {
		g.started <- j.Name
		<-g.open
		return nil
	}}
}

// waitStarted waits for n held jobs to start and returns their names.
func (g *gate) waitStarted(n int) []string {
	names := make([]string, 0, n)
	for range n {
		names = append(names, <-g.started)
	}
	return names
}

// release opens the gate; later calls do nothing.
func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// statsOf returns the stats of one pool.
func statsOf(t testing.TB, m *Manager, name string) PoolStats {
	t.Helper()
	for _, s := range m.Stats() {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no stats for pool %s", name)
	return PoolStats{}
}

// waitFor yields until cond holds, for states that no channel announces (a submitter parked on
// a condition variable). It fails the test if cond stays false for a long time, which means a
// hang, not slowness.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		runtime.Gosched()
	}
}
