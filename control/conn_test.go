package control_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/control"
)

// connCommand returns a command that answers with the request's Ctx.Conn.
func connCommand(blocking bool) control.Command {
	name := "conn"
	if blocking {
		name = "conn blocking"
	}
	return control.Command{Name: name, Blocking: blocking, Run: func(ctx *control.Ctx, _ []string) (string, error) {
		return strconv.FormatUint(ctx.Conn, 10), nil
	}}
}

func TestConnIDsArePerConnection(t *testing.T) {
	reg := control.NewRegistry()
	must(t, reg.Register(connCommand(false)))
	must(t, reg.Register(connCommand(true)))
	_, path := startUnix(t, control.Config{Registry: reg})
	// Both connections come from this process: the same Peer, distinct Conns.
	c1, c2 := dial(t, path), dial(t, path)
	ids := map[string]string{}
	for _, c := range []struct {
		name   string
		client *control.Client
	}{{"first", c1}, {"second", c2}} {
		id := do(t, c.client, "conn")
		if id == "0" {
			t.Errorf("%s connection: Conn is 0", c.name)
		}
		// Every request of a connection, on the executor or not, carries its id.
		for _, line := range []string{"conn", "conn blocking"} {
			if got := do(t, c.client, line); got != id {
				t.Errorf("%s connection: %q answered Conn %s, the connection's first request %s", c.name, line, got, id)
			}
		}
		if other, dup := ids[id]; dup {
			t.Errorf("%s connection has the %s's id %s", c.name, other, id)
		}
		ids[id] = c.name
	}
}

// closeWatch is a server with a "watch" command that registers an OnClose callback
// recording the connection's id.
type closeWatch struct {
	mu     sync.Mutex
	closed []uint64 // Conn of every callback call, in call order
	fired  chan uint64
}

func newCloseWatch() *closeWatch { return &closeWatch{fired: make(chan uint64, 16)} }

func (w *closeWatch) command() control.Command {
	return control.Command{Name: "watch", Run: func(ctx *control.Ctx, _ []string) (string, error) {
		id := ctx.Conn
		ctx.OnClose(func() {
			w.mu.Lock()
			w.closed = append(w.closed, id)
			w.mu.Unlock()
			w.fired <- id
		})
		return strconv.FormatUint(id, 10), nil
	}}
}

func (w *closeWatch) calls() []uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.closed)
}

func do(t testing.TB, c *control.Client, line string) string {
	t.Helper()
	out, err := c.Do(line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return out
}

func TestOnCloseRunsOnceWhenTheConnectionEnds(t *testing.T) {
	cases := []struct {
		name string
		idle time.Duration
		// end ends the connection (raw has already sent "watch" and read its reply)
		// and reports whether the test should wait for the callback; false means the
		// callback must have run when end returns.
		end func(t *testing.T, s *control.Server, raw *rawConn) (wait bool)
	}{
		{"quit", 0, func(t *testing.T, _ *control.Server, r *rawConn) bool {
			r.send(t, "quit")
			r.reply(t)
			return true
		}},
		{"client hangs up", 0, func(t *testing.T, _ *control.Server, r *rawConn) bool {
			r.Close()
			return true
		}},
		// Long enough that the watch request gets in first on a loaded machine; the
		// test waits for the callback, not for a time.
		{"idle timeout", 300 * time.Millisecond, func(*testing.T, *control.Server, *rawConn) bool { return true }},
		{"over-long line", 0, func(t *testing.T, _ *control.Server, r *rawConn) bool {
			r.send(t, strings.Repeat("x", control.MaxRequestLine))
			r.reply(t)
			return true
		}},
		{"server Close", 0, func(t *testing.T, s *control.Server, _ *rawConn) bool {
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			return false
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newCloseWatch()
			reg := control.NewRegistry()
			must(t, reg.Register(w.command()))
			s, path := startUnix(t, control.Config{Registry: reg, IdleTimeout: tc.idle})
			r := dialRaw(t, "unix", path)
			r.line(t) // greeting
			r.send(t, "watch")
			_, id := r.reply(t)
			if tc.end(t, s, r) {
				<-w.fired
			}
			// Close waits for every connection's callbacks: nothing more can come.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := w.calls(); len(got) != 1 || strconv.FormatUint(got[0], 10) != id {
				t.Errorf("callbacks ran for connections %v, want once for %s", got, id)
			}
		})
	}
}

func TestOnCloseOrderPanicsAndLateRegistration(t *testing.T) {
	var (
		mu     sync.Mutex
		order  []string
		kept   *control.Ctx // a Ctx kept past its connection's end
		logs   = &logBuffer{}
		closed = make(chan struct{})
	)
	note := func(s string) func() {
		return func() { mu.Lock(); order = append(order, s); mu.Unlock() }
	}
	reg := control.NewRegistry()
	must(t, reg.Register(control.Command{Name: "arm", Blocking: true, Run: func(ctx *control.Ctx, _ []string) (string, error) {
		ctx.OnClose(note("first"))
		ctx.OnClose(func() { panic("callback exploded") })
		ctx.OnClose(note("third"))
		ctx.OnClose(func() { close(closed) })
		kept = ctx
		return "", nil
	}}))
	_, path := startUnix(t, control.Config{Registry: reg, Logf: logs.Logf})
	c := dial(t, path)
	do(t, c, "arm")
	c.Close()
	<-closed
	mu.Lock()
	got := slices.Clone(order)
	mu.Unlock()
	if want := []string{"first", "third"}; !slices.Equal(got, want) {
		t.Errorf("callbacks ran %v, want %v (in order, past the panicking one)", got, want)
	}
	if !logs.contains("callback exploded") {
		t.Error("the callback's panic was not logged")
	}

	// After the end, and on a Ctx no server made, a callback runs at once.
	for name, ctx := range map[string]*control.Ctx{"ended connection": kept, "zero Ctx": {}} {
		ran := false
		ctx.OnClose(func() { ran = true })
		if !ran {
			t.Errorf("%s: OnClose did not run the callback at once", name)
		}
	}
}

func TestCloseDeliversTheRunningReply(t *testing.T) {
	for _, blocking := range []bool{true, false} {
		t.Run("blocking="+strconv.FormatBool(blocking), func(t *testing.T) {
			entered, release := make(chan struct{}), make(chan struct{})
			var releaseOnce sync.Once
			t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
			reg := control.NewRegistry()
			must(t, reg.Register(control.Command{Name: "hold", Blocking: blocking, Run: func(*control.Ctx, []string) (string, error) {
				close(entered)
				<-release
				return "done", nil
			}}))
			s, path := startUnix(t, control.Config{Registry: reg})
			draining := make(chan struct{})
			control.SetDrainHook(s, func() { close(draining) })

			idle := dialRaw(t, "unix", path)
			idle.line(t)
			r := dialRaw(t, "unix", path)
			r.line(t)
			// "pid" is sent before Close begins but after "hold": it must not run.
			r.send(t, "hold\npid")
			<-entered
			closed := make(chan error, 1)
			go func() { closed <- s.Close() }()
			<-draining

			// Close has stopped accepting and hung up on the idle connection while
			// "hold" still runs.
			if b, err := idle.br.ReadByte(); err != io.EOF {
				t.Errorf("idle connection: read %q, %v; want EOF", b, err)
			}
			if c, err := net.Dial("unix", path); err == nil {
				c.Close()
				t.Error("a new connection was accepted during Close")
			}
			releaseOnce.Do(func() { close(release) })
			if word, body := r.reply(t); word != "OK" || body != "done" {
				t.Errorf("running command's reply = %s %q, want OK \"done\"", word, body)
			}
			if b, err := r.br.ReadByte(); err != io.EOF {
				t.Errorf("after the last reply: read %q, %v; want EOF (the queued request must not run)", b, err)
			}
			if err := <-closed; err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

// StopAccepting does not wait for a running command: the socket is gone when it
// returns, and the CloseContext after it still delivers the command's reply.
func TestStopAcceptingDoesNotWait(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	reg := control.NewRegistry()
	must(t, reg.Register(control.Command{Name: "hold", Run: func(*control.Ctx, []string) (string, error) {
		close(entered)
		<-release
		return "done", nil
	}}))
	s, path := startUnix(t, control.Config{Registry: reg})
	r := dialRaw(t, "unix", path)
	r.line(t)
	r.send(t, "hold")
	<-entered
	if err := s.StopAccepting(); err != nil {
		t.Fatalf("StopAccepting: %v", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket after StopAccepting: %v, want it removed", err)
	}
	if err := s.StopAccepting(); err != nil {
		t.Errorf("second StopAccepting: %v, want nil", err)
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	releaseOnce.Do(func() { close(release) })
	if word, body := r.reply(t); word != "OK" || body != "done" {
		t.Errorf("running command's reply = %s %q, want OK \"done\"", word, body)
	}
	if err := <-closed; err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestCloseContextDeadlineCutsTheCommand(t *testing.T) {
	entered := make(chan struct{})
	cancelled := make(chan bool, 1)
	reg := control.NewRegistry()
	must(t, reg.Register(control.Command{Name: "stuck", Blocking: true, Run: func(ctx *control.Ctx, _ []string) (string, error) {
		close(entered)
		<-ctx.Context().Done()
		cancelled <- true
		return "too late", nil
	}}))
	s, path := startUnix(t, control.Config{Registry: reg})
	r := dialRaw(t, "unix", path)
	r.line(t)
	r.send(t, "stuck")
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the deadline has passed: Close waits for nothing
	if err := s.CloseContext(ctx); err != nil {
		t.Fatal(err)
	}
	if !<-cancelled {
		t.Error("the command's Context was not cancelled")
	}
	// The socket was closed before the command's context was cancelled, so its reply
	// cannot have got out.
	if line, err := r.br.ReadString('\n'); !errors.Is(err, io.EOF) {
		t.Errorf("read %q, %v; want EOF with no reply", line, err)
	}
}

// send writes line and a newline.
func (r *rawConn) send(t testing.TB, line string) {
	t.Helper()
	if _, err := r.Write([]byte(line + "\n")); err != nil {
		t.Fatalf("sending %q: %v", line, err)
	}
}
