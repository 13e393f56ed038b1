package esmtp

import (
	"context"
	"fmt"
	"time"

	"github.com/ecelerity-go/ecelerity/sched"
)

// cutGrace bounds the wait, after Drain cut the last sessions off, for their
// close callbacks to run: each is one non-blocking write and a close on the
// next loop iteration, so only a loop that no longer runs takes longer.
const cutGrace = time.Second

// drainState is a shutdown in progress. Loop-only, like the sessions it
// waits for.
type drainState struct {
	done   chan struct{} // closed once the last session closed
	closed bool          // done is closed
}

// Drain stops the listener for a shutdown. At once it closes every listening
// socket (a connection not yet accepted is refused by the kernel) and refuses
// later generations an address (ErrShuttingDown); a session between
// transactions gets the Shutdown_Message (421 4.3.2 by default) and is
// closed, one in the middle of a TLS handshake is closed. A session inside a
// transaction may finish it: its message is spooled and answered as usual,
// then it gets the 421 instead of its next command. Drain returns nil once
// the last session closed. Sessions still open when ctx ends are sent the
// 421 and closed (a message they had not finished is not spooled), and Drain
// returns an error wrapping ErrDrainTimeout and ctx's error.
//
// The work runs on the loop (Dispatch); Drain waits for it, so it must not
// be called on the loop. Any other goroutine may call it, more than once;
// a module that was never set up has nothing to drain.
func (m *Module) Drain(ctx context.Context) error {
	m.mu.Lock()
	setUp := m.sockets != nil // ConfSetup ran: the Env is checked
	m.shut = setUp
	m.mu.Unlock()
	if !setUp {
		return nil
	}
	loop := m.env.Loop
	begun := make(chan chan struct{}, 1)
	loop.Dispatch(func(time.Time) { begun <- m.beginDrain() })
	var done chan struct{}
	select {
	case done = <-begun:
	case <-ctx.Done():
		return fmt.Errorf("%w: the loop did not start the drain: %w", ErrDrainTimeout, ctx.Err())
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	cut := make(chan int, 1)
	loop.Dispatch(func(time.Time) { cut <- m.cutSessions() })
	t := time.NewTimer(cutGrace)
	defer t.Stop()
	n := 0
	select {
	case n = <-cut:
	case <-t.C:
		return fmt.Errorf("%w: the loop did not cut them: %w", ErrDrainTimeout, ctx.Err())
	}
	select {
	case <-done:
	case <-t.C:
	}
	return fmt.Errorf("%w: %d sessions: %w", ErrDrainTimeout, n, ctx.Err())
}

// beginDrain closes the listening sockets and tells every session, once;
// it returns the channel closed when no session is left. Loop goroutine.
func (m *Module) beginDrain() chan struct{} {
	if m.drain != nil {
		return m.drain.done
	}
	m.drain = &drainState{done: make(chan struct{})}
	m.mu.Lock()
	socks := make([]*listenSock, 0, len(m.sockets))
	for _, ls := range m.sockets {
		socks = append(socks, ls)
	}
	m.mu.Unlock()
	for _, ls := range socks {
		ls.close()
	}
	for s := m.live; s != nil; {
		next := s.next // a TLS session closes, and unlinks, at once
		s.shutDown(false)
		s = next
	}
	m.drainedIfEmpty()
	return m.drain.done
}

// cutSessions ends every session still open, in a transaction or not, and
// returns how many it cut off. Loop goroutine.
func (m *Module) cutSessions() int {
	n := 0
	for s := m.live; s != nil; {
		next := s.next
		if !s.closed {
			n++
			s.shutDown(true)
		}
		s = next
	}
	return n
}

// drainedIfEmpty closes the drain's channel once no session is left. Loop
// goroutine.
func (m *Module) drainedIfEmpty() {
	if d := m.drain; d != nil && !d.closed && m.live == nil {
		d.closed = true
		close(d.done)
	}
}

// link adds s to the open sessions. Loop goroutine.
func (m *Module) link(s *session) {
	s.next = m.live
	if m.live != nil {
		m.live.prev = s
	}
	m.live = s
}

// unlink removes s from the open sessions. Loop goroutine.
func (m *Module) unlink(s *session) {
	if s.prev != nil {
		s.prev.next = s.next
	} else if m.live == s {
		m.live = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	}
	s.prev, s.next = nil, nil
	m.drainedIfEmpty()
}

// shutDown is what a shutdown does to one session, outside its callbacks: a
// session in a TLS handshake is closed (there is no channel to answer on);
// one between transactions, or any when force is set, gets the
// Shutdown_Message and is closed. A session inside a transaction is left to
// finish it: process answers its next command with the 421. Loop goroutine.
func (s *session) shutDown(force bool) {
	switch {
	case s.closed:
	case s.wait == waitTLS:
		// Closing the TLS connection interrupts the handshake; the
		// handshake's goroutine frees the event without a callback.
		s.close()
	case s.closing && !force:
		// QUIT or a refusal already ends it once its replies are out.
	case s.msg == nil || force:
		r := s.set.shutdown
		s.abort(r.Code, r.Enhanced, r.Text)
	}
}

// abort queues a last reply and makes the session's callback run once more
// to send it (as far as the socket takes it) and close, whatever the session
// waited for. A completion that arrives afterwards finds it closed. Loop
// goroutine, outside the session's callbacks.
func (s *session) abort(code int, enhanced, text string) {
	if s.hardStop {
		return // aborted already: the callback that closes is on its way
	}
	s.reply(code, enhanced, text)
	s.closing, s.hardStop = true, true
	suspended := s.wait != waitNone
	s.wait, s.pend = waitNone, pendNone
	if !suspended {
		s.ev = s.loop.Suspend(s.ev)
	}
	s.loop.Resume(s.ev, sched.Write)
}
