package esmtp

import (
	"net"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/internal/fdexhaust"
	"github.com/ecelerity-go/ecelerity/sched"
)

// TestAcceptPausesWhenOutOfDescriptors runs the process out of descriptors
// while a connection waits to be accepted. The listening socket stays
// readable, so a listener that tried again at once would run its callback
// without end; it must rest instead, and take the connection once
// descriptors are free again.
func TestAcceptPausesWhenOutOfDescriptors(t *testing.T) {
	s := startServer(t, baseConf, nil)
	addr := s.addr()

	fds := fdexhaust.Lower(t)
	fds.Fill()
	before := s.loop.Stats().Callbacks
	c := dialAddr(t, addr)
	time.Sleep(500 * time.Millisecond)
	// Resting 100ms between tries makes about 5 calls in that time; trying
	// again at once makes tens of thousands.
	if n := s.loop.Stats().Callbacks - before; n > 50 {
		t.Errorf("%d callbacks in half a second without descriptors: the listener spins", n)
	}
	fds.Release()
	c.expect("220 ")
	c.cmd("QUIT", "221 ")
	// The server's descriptor must be closed before the table fills again.
	if !c.closed() {
		t.Fatal("connection open after QUIT")
	}

	// The listening socket closes (its Listen left the configuration) while
	// it rests: the pause ends quietly and nothing is accepted any more.
	var ls *listenSock
	m := s.module()
	m.mu.Lock()
	for _, l := range m.sockets {
		ls = l
	}
	m.mu.Unlock()
	fds.Fill()
	c2 := dialAddr(t, addr)
	waitFor(t, "the listener to rest", func() bool {
		resting := make(chan bool)
		s.loop.Dispatch(func(time.Time) { resting <- ls.resting })
		return <-resting
	})
	closed := make(chan struct{})
	s.loop.Dispatch(func(time.Time) { ls.close(); close(closed) })
	<-closed
	fds.Release()
	time.Sleep(2 * sched.AcceptBackoff)
	if !c2.closed() {
		t.Error("a connection queued on a closed listening socket was served")
	}
	if conn, err := net.DialTimeout("tcp", addr, 5*time.Second); err == nil {
		conn.Close()
		t.Error("the closed listening socket still takes connections")
	}
}
