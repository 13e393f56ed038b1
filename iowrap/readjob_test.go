package iowrap

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
	"golang.org/x/sys/unix"
)

// urlConn is the seed's example connection: it reads one URL line, suspends its
// event while a read job fetches the URL in the IO pool, and once resumed writes the
// content (or "ERR ...") back and closes.
type urlConn struct {
	reg   *Registry
	pools *threadpool.Manager
	loop  *sched.Loop
	ops   *sched.FDConn
	rs    sched.ReadState
	ws    sched.WriteState
	state int // reading, fetching, writing

	reply      []byte
	doneOnLoop bool
	doneCalls  int
}

const (
	reading = iota
	fetching
	writing
)

func (c *urlConn) serve(ev *sched.Event, fired sched.Mask, _ time.Time) sched.Mask {
	loop := ev.Loop()
	switch c.state {
	case reading:
		line, need, err := c.rs.ReadUntil(c.ops, []byte("\n"))
		if need != 0 {
			return need
		}
		if err != nil {
			c.ops.Close()
			return 0
		}
		dup := loop.Suspend(ev)
		c.state = fetching
		if err := c.reg.ReadJob(c.pools, loop, strings.TrimSpace(string(line)), dup, sched.Write, c.fetched); err != nil {
			c.reply = []byte("ERR " + err.Error() + "\n")
			loop.Resume(dup, sched.Write)
		}
		return 0
	case fetching:
		// Resumed by the read job's completion, after fetched ran.
		c.state = writing
		need, err := c.ws.Write(c.ops, c.reply)
		if err == nil && need != 0 {
			return need
		}
	case writing:
		need, err := c.ws.Flush(c.ops)
		if err == nil && need != 0 {
			return need
		}
	}
	c.ops.Close()
	return 0
}

// fetched is the read job's done callback.
func (c *urlConn) fetched(data []byte, err error) {
	c.doneCalls++
	c.doneOnLoop = c.loop.OnLoop()
	if err != nil {
		c.reply = []byte("ERR " + err.Error() + "\n")
		return
	}
	c.reply = data
}

// TestReadJobEndToEnd runs the seed's example on the real scheduler and thread pools:
// TCP clients send a URL line, the callback suspends its event, an IO pool job fetches
// the URL from a loopback HTTP server, the completion resumes the event on the loop,
// and the callback writes the content back. One fetch is held up at the server until
// another connection has been served, which shows the loop never waits for a fetch.
func TestReadJobEndToEnd(t *testing.T) {
	gate := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/doc", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "the document body") })
	mux.HandleFunc("/gated", func(w http.ResponseWriter, r *http.Request) {
		<-gate
		io.WriteString(w, "worth the wait")
	})
	web := httptest.NewServer(mux)
	defer web.Close()

	loop, err := sched.New(sched.Options{})
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- loop.Run() }()
	pools := threadpool.NewManager(threadpool.Options{Loop: loop})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pools.Shutdown(ctx); err != nil {
			t.Errorf("pool shutdown: %v", err)
		}
		loop.Stop()
		if err := <-runErr; err != nil {
			t.Errorf("loop: %v", err)
		}
	}()

	lfd, err := sched.Listen("tcp", "127.0.0.1:0", sched.ListenConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(sa.(*unix.SockaddrInet4).Port)

	reg := NewRegistry()
	conns := make(chan *urlConn, 8) // every connection, for the checks at the end
	accept := func(_ *sched.Event, fired sched.Mask, _ time.Time) sched.Mask {
		if fired == 0 {
			return 0
		}
		for {
			fd, _, err := sched.Accept(lfd)
			if errors.Is(err, sched.ErrWouldBlock) {
				return sched.Read
			}
			if err != nil {
				t.Errorf("accept: %v", err)
				return sched.Read
			}
			c := &urlConn{reg: reg, pools: pools, loop: loop, ops: sched.NewFDConn(fd)}
			conns <- c
			if _, err := loop.Add(fd, sched.Read, c.serve, c); err != nil {
				t.Errorf("add: %v", err)
				c.ops.Close()
			}
		}
	}
	added := make(chan error, 1)
	loop.Dispatch(func(time.Time) {
		_, err := loop.AddListener(lfd, accept, nil)
		added <- err
	})
	if err := <-added; err != nil {
		t.Fatal(err)
	}

	// ask sends one URL line and returns a channel with everything the server writes
	// back before it closes.
	ask := func(url string) <-chan string {
		out := make(chan string, 1)
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer conn.Close()
			if _, err := io.WriteString(conn, url+"\r\n"); err != nil {
				out <- "client write: " + err.Error()
				return
			}
			b, err := io.ReadAll(conn)
			if err != nil {
				out <- "client read: " + err.Error()
				return
			}
			out <- string(b)
		}()
		return out
	}
	within := func(ch <-chan string, what string) string {
		t.Helper()
		select {
		case s := <-ch:
			return s
		case <-time.After(20 * time.Second): // a hang, not a timing assertion
			t.Fatalf("no reply for %s", what)
			return ""
		}
	}

	gated := ask(web.URL + "/gated")
	if got := within(ask(web.URL+"/doc"), "/doc"); got != "the document body" {
		t.Errorf("/doc: got %q", got)
	}
	missing := within(ask(web.URL+"/missing"), "/missing")
	if !strings.HasPrefix(missing, "ERR ") || !strings.Contains(missing, "404") {
		t.Errorf("/missing: got %q, want an ERR line with the 404", missing)
	}
	if got := within(ask("nosuch://x"), "nosuch://x"); !strings.Contains(got, "no driver") {
		t.Errorf("unknown scheme: got %q", got)
	}
	close(gate) // only now may the first fetch finish
	if got := within(gated, "/gated"); got != "worth the wait" {
		t.Errorf("/gated: got %q", got)
	}

	for range 4 {
		var c *urlConn
		select {
		case c = <-conns:
		default:
			t.Fatal("fewer than 4 connections were accepted")
		}
		// Read on the loop: the completions ran there.
		checked := make(chan struct{})
		loop.Dispatch(func(time.Time) {
			defer close(checked)
			if c.doneCalls != 1 || !c.doneOnLoop {
				t.Errorf("done called %d times, on loop %v; want once, on the loop", c.doneCalls, c.doneOnLoop)
			}
		})
		<-checked
	}
	for _, ps := range pools.Stats() {
		if ps.Name == threadpool.PoolIO && ps.Completed != 4 {
			t.Errorf("IO pool completed %d jobs, want 4", ps.Completed)
		}
	}
}
