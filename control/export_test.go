package control

import (
	"context"
	"time"
)

// SetLoginDelay replaces the wait before a refused login is answered, so that tests
// can see it happen without waiting.
func SetLoginDelay(s *Server, f func(ctx context.Context, d time.Duration)) { s.delay = f }
