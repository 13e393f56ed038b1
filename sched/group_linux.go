package sched

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Group is a set of loops, one per core, each owning the connections it accepted
// on its own SO_REUSEPORT listener. Loop 0 is the master: the only place where
// configuration and hooks change. Create it with NewGroup.
type Group struct {
	loops []*Loop
}

// NewGroup returns n loops (n >= 1) with the same options.
func NewGroup(n int, opts Options) (*Group, error) {
	if n < 1 {
		return nil, fmt.Errorf("sched: group of %d loops", n)
	}
	g := &Group{}
	for range n {
		l, err := New(opts)
		if err != nil {
			return nil, err
		}
		g.loops = append(g.loops, l)
	}
	return g, nil
}

// Len returns the number of loops. Any goroutine.
func (g *Group) Len() int { return len(g.loops) }

// Loop returns loop i; loop 0 is the master. Any goroutine.
func (g *Group) Loop(i int) *Loop { return g.loops[i] }

// Run runs every loop, loop 0 on the calling goroutine and the others on
// goroutines of their own, and returns when all have returned: nil, or the first
// error (a loop that fails stops the others).
func (g *Group) Run() error {
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	run := func(l *Loop) {
		if err := l.Run(); err != nil {
			errMu.Lock()
			if first == nil {
				first = err
			}
			errMu.Unlock()
			g.Stop()
		}
	}
	for _, l := range g.loops[1:] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(l)
		}()
	}
	run(g.loops[0])
	wg.Wait()
	return first
}

// Stop stops every loop. Any goroutine.
func (g *Group) Stop() {
	for _, l := range g.loops {
		l.Stop()
	}
}

// Shutdown shuts every loop down gracefully (see Loop.Shutdown), in parallel,
// and returns the first error. Any goroutine but the loops'.
func (g *Group) Shutdown(ctx context.Context) error {
	errs := make([]error, len(g.loops))
	var wg sync.WaitGroup
	for i, l := range g.loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = l.Shutdown(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Listen opens one listening socket per loop (SO_REUSEPORT for TCP, so all bind
// the same port, the one picked for the first when the port is 0) and accepts on
// each loop, handing connections to onConn on the loop that accepted them. A
// unix socket cannot be shared that way and listens on loop 0 only. It returns
// the address listened on. Any goroutine; the loops may or may not be running.
func (g *Group) Listen(network, addr string, cfg ListenConfig, onConn AcceptFunc) (net.Addr, error) {
	n := len(g.loops)
	if network == "unix" {
		n = 1
	}
	if n > 1 {
		cfg.ReusePort = true
	}
	fds := make([]int, 0, n)
	fail := func(err error) (net.Addr, error) {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, err
	}
	var bound net.Addr
	for i := range n {
		fd, err := Listen(network, addr, cfg)
		if err != nil {
			return fail(err)
		}
		fds = append(fds, fd)
		if i == 0 {
			if bound, err = Addr(fd); err != nil {
				return fail(err)
			}
			if ta, ok := bound.(*net.TCPAddr); ok {
				// The others bind the port the first one got.
				host, _, _ := net.SplitHostPort(addr)
				addr = net.JoinHostPort(host, fmt.Sprint(ta.Port))
			}
		}
	}
	accept := Acceptor(onConn)
	for i, fd := range fds {
		l := g.loops[i]
		l.Dispatch(func(time.Time) {
			if _, err := l.AddListener(fd, accept, nil); err != nil {
				unix.Close(fd)
			}
		})
	}
	return bound, nil
}
