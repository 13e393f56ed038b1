package threadpool

import (
	"context"
	"sync"
)

// Semaphore is a counting semaphore posted by CompleteSemaphore jobs. Post never blocks, so a
// worker completing a job is never held up by a slow waiter. The zero value is ready to use
// with a count of 0. Any goroutine may call its methods, except that the master loop must not
// call Wait.
type Semaphore struct {
	mu sync.Mutex
	// mu guards count and wake.
	count int
	// wake holds at most one token telling a sleeping waiter to look at count again; a waiter
	// that takes a unit and sees more passes the token on, so no post is lost when several
	// posts coalesce into one token.
	wake chan struct{}
}

// wakeLocked returns the wake channel, creating it for the zero value.
func (s *Semaphore) wakeLocked() chan struct{} {
	if s.wake == nil {
		s.wake = make(chan struct{}, 1)
	}
	return s.wake
}

// Post adds one unit and wakes a waiter.
func (s *Semaphore) Post() {
	s.mu.Lock()
	s.count++
	wake := s.wakeLocked()
	s.mu.Unlock()
	select {
	case wake <- struct{}{}:
	default: // a token is already pending; its taker re-checks count.
	}
}

// TryWait takes one unit if one is available and reports whether it did.
func (s *Semaphore) TryWait() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.takeLocked()
}

// takeLocked takes a unit if there is one, passing the wake token on when units remain.
func (s *Semaphore) takeLocked() bool {
	if s.count == 0 {
		return false
	}
	s.count--
	if s.count > 0 {
		select {
		case s.wakeLocked() <- struct{}{}:
		default:
		}
	}
	return true
}

// Wait blocks until it takes one unit or ctx is done; then it returns ctx's error.
// Never call it on the master loop.
func (s *Semaphore) Wait(ctx context.Context) error {
	for {
		s.mu.Lock()
		took := s.takeLocked()
		wake := s.wakeLocked()
		s.mu.Unlock()
		if took {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
