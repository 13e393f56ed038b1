package server

import (
	"sync"

	"github.com/ecelerity-go/ecelerity/config"
)

// session is one control connection's config state.
type session struct {
	// mu guards cs and gone; it is held while a config command runs for the
	// connection.
	mu   sync.Mutex
	cs   config.Session
	gone bool // the connection ended: cs is closed, and closed again after any late command
}

// sessions maps a control connection (control.Ctx.Conn) to its config session. A
// session is made by the connection's first config command and lives as long as the
// connection: its end, however it comes (quit, hang-up, idle timeout, the listener
// closing), rolls back the open transaction at once through the connection's close
// callback. So there is no idle expiry: a transaction cannot outlive its connection,
// and the control listener's idle timeout bounds a forgotten one.
type sessions struct {
	// mu guards m.
	mu sync.Mutex
	m  map[uint64]*session
}

// run calls fn with the session of connection conn, making it on the connection's
// first config command; onClose is then called once with the function that ends the
// session (control.Ctx.OnClose). It runs on the connection's goroutine, never on the
// loop: fn may commit, which validates the whole configuration.
func (ss *sessions) run(conn uint64, onClose func(func()), fn func(*config.Session) (string, error)) (string, error) {
	ss.mu.Lock()
	s, ok := ss.m[conn]
	if !ok {
		s = &session{}
		ss.m[conn] = s
	}
	ss.mu.Unlock()
	if !ok {
		// Outside ss.mu: a connection that has already ended calls the function at
		// once, and it takes ss.mu.
		onClose(func() { ss.end(conn, s) })
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := fn(&s.cs)
	if s.gone {
		// The connection ended before the command ran (it was made without one, or
		// a caller kept its Ctx): nothing will roll back what it opened.
		s.cs.Close()
	}
	return out, err
}

// end rolls back the open transaction of a connection that ended and forgets its
// session. Called from the connection's close callback.
func (ss *sessions) end(conn uint64, s *session) {
	ss.mu.Lock()
	if ss.m[conn] == s {
		delete(ss.m, conn)
	}
	ss.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gone = true
	s.cs.Close()
}

// inTxn reports whether connection conn has a transaction open.
func (ss *sessions) inTxn(conn uint64) bool {
	ss.mu.Lock()
	s := ss.m[conn]
	ss.mu.Unlock()
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cs.InTxn()
}

// count returns the number of sessions, for tests.
func (ss *sessions) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// closeAll rolls back every open transaction (shutdown). The control listener's
// close has already ended every connection and so every session, unless it gave up
// waiting for a stuck command; a session whose command still runs is left to its
// connection's close callback, which runs when the command returns.
func (ss *sessions) closeAll() {
	ss.mu.Lock()
	all := ss.m
	ss.m = map[uint64]*session{}
	ss.mu.Unlock()
	for _, s := range all {
		if s.mu.TryLock() {
			s.gone = true
			s.cs.Close()
			s.mu.Unlock()
		}
	}
}
