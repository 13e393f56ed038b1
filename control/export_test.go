package control

import (
	"context"
	"time"
)

// SetLoginDelay replaces the wait before a refused login is answered, so that tests
// can see it happen without waiting.
func SetLoginDelay(s *Server, f func(ctx context.Context, d time.Duration)) { s.delay = f }

// SetDrainHook sets a function that Close calls once it has stopped accepting and
// closed the idle connections, just before it waits for the commands in progress.
func SetDrainHook(s *Server, f func()) { s.draining = f }
