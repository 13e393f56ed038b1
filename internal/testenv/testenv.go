package testenv

import (
	"bytes"
	"sync"
	"testing"

	"github.com/ecelerity-go/ecelerity/sched"
)

// StartLoop creates a loop with opts and runs it on a goroutine of its own until
// the test's cleanup stops it; a Run error fails the test then. Cleanups the
// caller registers afterwards run before the loop stops, so they may still
// dispatch to it. Call it from the test's goroutine: it fails t with Fatal.
func StartLoop(t testing.TB, opts sched.Options) *sched.Loop {
	t.Helper()
	l, err := sched.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	t.Cleanup(func() {
		l.Stop()
		if err := <-done; err != nil {
			t.Errorf("loop: %v", err)
		}
	})
	return l
}

// SyncBuffer is a bytes.Buffer that a logger and the test may use at once. The
// zero value is empty and ready; any goroutine may call its methods.
type SyncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
