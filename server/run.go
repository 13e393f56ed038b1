package server

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ecelerity-go/ecelerity/logging"
	"golang.org/x/sys/unix"
)

// Run starts the server and serves until it is told to stop, then shuts it down.
// sigs delivers the signals the caller subscribed to (signal.Notify): SIGHUP
// reloads the configuration (a failure is logged and the server keeps serving),
// SIGTERM and SIGINT shut down gracefully within the shutdown timeout, and a second
// one while that runs stops at once. The console's `shutdown` does what SIGTERM does.
// Run returns nil after a clean shutdown, the start-up error if it never started,
// or the shutdown's error.
func (s *Server) Run(ctx context.Context, sigs <-chan os.Signal) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	for {
		select {
		case sig := <-sigs:
			switch sig {
			case unix.SIGHUP:
				s.logf(logging.Notice, "SIGHUP: reloading %s", s.configPath)
				// The error is logged by Reload; the server keeps serving.
				s.Reload(ctx, "")
				continue
			case unix.SIGTERM, unix.SIGINT:
				s.logf(logging.Notice, "%s: shutting down (a second one stops at once)", sigName(sig))
			default:
				continue
			}
		case <-s.stopReq:
			s.logf(logging.Notice, "shutdown requested from the console")
		case <-s.loopDone:
			s.logf(logging.Critical, "the master loop stopped unexpectedly: %v", s.loopErr)
		case <-ctx.Done():
		}
		return s.shutdownWatching(sigs)
	}
}

// shutdownWatching shuts down with the shutdown timeout while watching for a second
// SIGTERM or SIGINT, which cancels the graceful wait.
func (s *Server) shutdownWatching(sigs <-chan os.Signal) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Shutdown(ctx) }()
	for {
		select {
		case err := <-done:
			return err
		case sig := <-sigs:
			if sig == unix.SIGTERM || sig == unix.SIGINT {
				s.logf(logging.Warning, "second %s: stopping now", sigName(sig))
				cancel()
			}
		}
	}
}

func sigName(sig os.Signal) string {
	if n, ok := sig.(unix.Signal); ok {
		return unix.SignalName(n)
	}
	return fmt.Sprint(sig)
}

// IsStartupConflict reports whether err says that another daemon holds the pidfile or
// the control socket.
func IsStartupConflict(err error) bool {
	return errors.Is(err, ErrPidfileHeld) || errors.Is(err, ErrControlInUse)
}
