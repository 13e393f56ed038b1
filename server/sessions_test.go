package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/control"
)

// connProbe adds two test commands to a fixture's console: `test conn` answers the
// connection's id, `test onclose` registers a close callback that reports the id on
// ended. Registered after a config command, the callback runs after the session's
// (callbacks run in registration order), so ended says the session is over.
type connProbe struct {
	ended chan uint64
}

func probeConns(t *testing.T, f *fixture) *connProbe {
	t.Helper()
	p := &connProbe{ended: make(chan uint64, 8)}
	reg := f.s.ctl.Registry()
	for _, c := range []control.Command{
		{Name: "test conn", Blocking: true, Run: func(ctx *control.Ctx, _ []string) (string, error) {
			return strconv.FormatUint(ctx.Conn, 10), nil
		}},
		{Name: "test onclose", Blocking: true, Run: func(ctx *control.Ctx, _ []string) (string, error) {
			id := ctx.Conn
			ctx.OnClose(func() { p.ended <- id })
			return strconv.FormatUint(id, 10), nil
		}},
	} {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func connID(t *testing.T, s string) uint64 {
	t.Helper()
	id, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("connection id %q: %v", s, err)
	}
	return id
}

func TestConfigTransactionsArePerConnection(t *testing.T) {
	f := startFixture(t, "")
	probeConns(t, f)
	// Two connections from one process: the same peer ("uid=U pid=P"), two sessions.
	a, b := f.client(t), f.client(t)
	do(t, a, "config begin")
	do(t, a, "config set TimestampFormat = from-a")

	if msg := doErr(t, b, "config replay"); !strings.Contains(msg, "no transaction") {
		t.Errorf("b sees a transaction it did not begin: %q", msg)
	}
	do(t, b, "config begin")
	do(t, b, "config set TimestampFormat = from-b")
	for _, c := range []struct {
		name          string
		client        *control.Client
		want, notWant string
	}{{"a", a, "from-a", "from-b"}, {"b", b, "from-b", "from-a"}} {
		out := do(t, c.client, "config replay")
		if !strings.Contains(out, c.want) || strings.Contains(out, c.notWant) {
			t.Errorf("%s's replay = %q, want its own change only", c.name, out)
		}
	}
	do(t, b, "config rollback")
	if !f.s.sessions.inTxn(connID(t, do(t, a, "test conn"))) {
		t.Error("b's rollback ended a's transaction")
	}
	if f.s.sessions.inTxn(connID(t, do(t, b, "test conn"))) {
		t.Error("b's transaction survived its rollback")
	}
	// b, out of its transaction, may reload while a still holds one.
	if out := do(t, b, "config reload"); !strings.Contains(out, "reloaded") {
		t.Errorf("reload on b: %q", out)
	}
}

func TestEndedConnectionRollsBackItsTransaction(t *testing.T) {
	cases := []struct {
		name string
		end  func(t *testing.T, c *control.Client)
	}{
		{"client hangs up", func(t *testing.T, c *control.Client) { c.Close() }},
		{"quit", func(t *testing.T, c *control.Client) { do(t, c, "quit") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := startFixture(t, "")
			p := probeConns(t, f)
			c := f.client(t)
			do(t, c, "config begin")
			do(t, c, "config set TimestampFormat = dropped")
			id := connID(t, do(t, c, "test onclose"))
			f.s.sessions.mu.Lock()
			sess := f.s.sessions.m[id]
			f.s.sessions.mu.Unlock()
			if sess == nil || !f.s.sessions.inTxn(id) {
				t.Fatal("no open transaction for the connection")
			}

			tc.end(t, c)
			if got := <-p.ended; got != id {
				t.Fatalf("close callback for connection %d, want %d", got, id)
			}
			sess.mu.Lock()
			open, gone := sess.cs.InTxn(), sess.gone
			sess.mu.Unlock()
			if open || !gone {
				t.Errorf("after the connection ended: transaction open %v, session ended %v; want rolled back", open, gone)
			}
			if n := f.s.sessions.count(); n != 0 {
				t.Errorf("%d sessions kept after their connection ended", n)
			}
			// Nothing was committed.
			other := f.client(t)
			if out := do(t, other, "config eval TimestampFormat"); strings.Contains(out, "dropped") {
				t.Errorf("the rolled back change is live: %q", out)
			}
		})
	}
}

func TestSessionOfAnEndedConnectionIsClosedAfterItsCommand(t *testing.T) {
	f := startFixture(t, "")
	var ss sessions
	ss.m = map[uint64]*session{}
	// The connection has already ended: the close function runs at once, as
	// control.Ctx.OnClose runs it, before the command.
	atOnce := func(fn func()) { fn() }
	out, err := ss.run(7, atOnce, func(cs *configSession) (string, error) {
		return f.s.store.Command(cs, []string{"begin"})
	})
	if err != nil {
		t.Fatalf("begin: %q, %v", out, err)
	}
	if ss.inTxn(7) || ss.count() != 0 {
		t.Errorf("a transaction begun for an ended connection was kept (sessions %d)", ss.count())
	}
}

func TestConsoleShutdownGetsItsReply(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.conf")
	writeConf(t, conf, baseConfig(dir, ""))
	n := newNotes()
	s, err := New(Options{ConfigPath: conf, Stderr: &syncBuffer{}, Loaders: testLoaders(), Notify: n.notify})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), nil) }()
	n.waitLen(t, 1) // READY=1
	c, err := control.Dial(filepath.Join(dir, "ctl.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Run shuts down as soon as the command has run, racing the reply's write; the
	// control listener's Close must let the reply out before it hangs up.
	if out, err := c.Do("shutdown"); err != nil || out != "Shutting down.\n" {
		t.Errorf("shutdown = %q, %v; want \"Shutting down.\\n\"", out, err)
	}
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if _, err := c.Do("pid"); err == nil {
		t.Error("the connection outlived the shutdown")
	}
	if _, err := os.Stat(filepath.Join(dir, "ctl.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("control socket left after shutdown: %v", err)
	}
}

func TestShutdownWithAnOpenTransaction(t *testing.T) {
	f := startFixture(t, "")
	c := f.client(t)
	do(t, c, "config begin")
	// The console stays connected with its transaction open; the transaction holds
	// a generation that the modules' close waits for, so the shutdown must roll it
	// back (the connection's close callback) before closing them.
	f.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown with a console in a transaction: %v", err)
	}
}
