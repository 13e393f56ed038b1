package threadpool

import (
	"context"
	"errors"
	"sync"
	"testing"
)

func TestSemaphoreCounts(t *testing.T) {
	var s Semaphore
	if s.TryWait() {
		t.Fatal("TryWait on a zero semaphore succeeded")
	}
	s.Post()
	s.Post()
	if !s.TryWait() || !s.TryWait() || s.TryWait() {
		t.Fatal("two posts did not give exactly two units")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with a cancelled context = %v", err)
	}
}

func TestSemaphoreNoLostWakeups(t *testing.T) {
	var s Semaphore
	const waiters, each = 8, 500
	var wg sync.WaitGroup
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if err := s.Wait(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 4 {
		go func() {
			for range waiters * each / 4 {
				s.Post()
			}
		}()
	}
	wg.Wait() // hangs if a post were lost
	if s.TryWait() {
		t.Error("a unit left over")
	}
}

func TestNewLimiterRejectsZero(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewLimiter(0) did not panic")
		}
	}()
	NewLimiter(0)
}
