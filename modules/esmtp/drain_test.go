package esmtp

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/hooks"
)

// drainAsync runs Drain on its own goroutine, as the daemon's teardown does,
// and returns where its result arrives.
func drainAsync(ctx context.Context, m *Module) <-chan error {
	out := make(chan error, 1)
	go func() { out <- m.Drain(ctx) }()
	return out
}

// refused reports whether a connection to addr is refused: nothing listens.
func refused(t *testing.T, addr string) bool {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// TestDrain: Drain closes the listening socket at once; sessions between
// transactions (before and after EHLO, after a finished message, after RSET,
// one whose EHLO validation is suspended) get the shutdown 421 and are
// closed; a session inside a transaction finishes it, its 250 after the
// spool commit, and then gets the 421 instead of its next command; Drain
// returns once the last session closed. The 421's text follows
// Shutdown_Message.
func TestDrain(t *testing.T) {
	for _, tc := range []struct {
		name, extra, want string
	}{
		{"default message", "", "421 4.3.2 Service shutting down"},
		{"Shutdown_Message", `Shutdown_Message = "4.3.2 mx.test going down for maintenance"`, "421 4.3.2 mx.test going down for maintenance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			suspended := make(chan struct{}, 1)
			policy := func(reg *hooks.Registry) error {
				// EHLO from "stuck" suspends its session, and nothing resumes it.
				return ValidateEHLO.RegisterLast(reg, "testpolicy", func(helo string, ac *Accept, vc *VCtx) Result {
					if helo == "stuck" {
						suspended <- struct{}{}
						return Again
					}
					return Cont
				})
			}
			s := startServer(t, conf(tc.extra)+"testpolicy { }\n", policy)
			addr := s.addr()
			m := s.module()

			greeted := s.dial()
			greeted.expect("220 ")
			helloed := s.dial()
			helloed.expect("220 ")
			helloed.cmd("EHLO client", "250 ")
			reset := s.dial()
			reset.expect("220 ")
			reset.cmd("MAIL FROM:<a@b.example>", "250 ")
			reset.cmd("RSET", "250 ")
			stuck := s.dial()
			stuck.expect("220 ")
			stuck.send("EHLO stuck\r\n")
			// The session suspends in the callback that ran the provider,
			// before the Drain dispatched below can run.
			<-suspended
			inTx := s.dial()
			inTx.expect("220 ")
			inTx.send("EHLO client\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n")
			for _, w := range []string{"250 ", "250 ", "250 ", "354 "} {
				inTx.expect(w)
			}
			inTx.send("Subject: half\r\n\r\nthe first half\r\n")

			done := drainAsync(context.Background(), m)
			for name, c := range map[string]*client{"greeted": greeted, "helloed": helloed, "reset": reset, "stuck": stuck} {
				if got := c.expect("421 "); got != tc.want {
					t.Errorf("%s session: %q, want %q", name, got, tc.want)
				}
				if !c.closed() {
					t.Errorf("%s session still open after its 421", name)
				}
			}
			// The socket closed before the sessions were told.
			if !refused(t, addr) {
				t.Error("the listening socket still accepts after Drain began")
			}
			select {
			case err := <-done:
				t.Fatalf("Drain returned while a transaction was open: %v", err)
			default:
			}

			inTx.send("the second half\r\n.\r\nMAIL FROM:<a@b.example>\r\n")
			inTx.expect("250 2.0.0 OK ")
			if got := inTx.expect("421 "); got != tc.want {
				t.Errorf("after its message: %q, want %q", got, tc.want)
			}
			if !inTx.closed() {
				t.Error("the session that finished its message is still open")
			}
			if err := <-done; err != nil {
				t.Fatalf("Drain: %v", err)
			}
			if n := m.Spool().Count(); n != 1 {
				t.Errorf("spool holds %d messages, want the one finished during the drain", n)
			}
			// Again is harmless: it is over.
			if err := m.Drain(context.Background()); err != nil {
				t.Errorf("second Drain: %v", err)
			}
		})
	}
}

// TestDrainDeadline: a session whose transaction does not finish (its
// data_spool validation never resumes) holds Drain until ctx ends; then it
// gets the 421 and is closed, its message is not spooled, and Drain says how
// many sessions it cut off with ErrDrainTimeout and ctx's error.
func TestDrainDeadline(t *testing.T) {
	policy := func(reg *hooks.Registry) error {
		return ValidateDataSpool.RegisterLast(reg, "testpolicy", func(*Message, *Accept, *VCtx) Result { return Again })
	}
	s := startServer(t, conf("")+"testpolicy { }\n", policy)
	m := s.module()
	slow := s.dial()
	slow.expect("220 ")
	slow.send("EHLO client\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n")
	for _, w := range []string{"250 ", "250 ", "250 ", "354 "} {
		slow.expect(w)
	}
	slow.send("Subject: never\r\n\r\nbody\r\n.\r\n")
	idle := s.dial()
	idle.expect("220 ")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := drainAsync(ctx, m)
	idle.expect("421 4.3.2 ")
	select {
	case err := <-done:
		t.Fatalf("Drain returned with a transaction open: %v", err)
	default:
	}
	cancel()
	slow.expect("421 4.3.2 Service shutting down")
	if !slow.closed() {
		t.Fatal("the session is still open after the deadline")
	}
	err := <-done
	if !errors.Is(err, ErrDrainTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Drain = %v, want ErrDrainTimeout and context.Canceled", err)
	}
	if !strings.Contains(err.Error(), "1 sessions") {
		t.Errorf("Drain = %v, want it to count the one session cut off", err)
	}
	if n := m.Spool().Count(); n != 0 {
		t.Errorf("spool holds %d messages, want none: the message was never answered", n)
	}
}

// TestReloadAfterDrainBindsNothing: once Drain began, a generation that
// would bind a new address is rejected with ErrShuttingDown.
func TestReloadAfterDrainBindsNothing(t *testing.T) {
	s := startServer(t, conf(""), nil)
	if err := s.module().Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := s.tryReload(strings.Replace(conf(""), `Listen "127.0.0.1:0"`, `Listen "127.0.0.2:0"`, 1))
	if !errors.Is(err, ErrShuttingDown) {
		t.Fatalf("reload after Drain = %v, want ErrShuttingDown", err)
	}
}

// TestDrainNotSetUp: a module the configuration never set up (no loop, no
// sockets) has nothing to drain.
func TestDrainNotSetUp(t *testing.T) {
	if err := (&Module{}).Drain(context.Background()); err != nil {
		t.Fatalf("Drain of a module never set up = %v", err)
	}
}
