package server

import (
	"sync"
	"time"

	"github.com/ecelerity-go/ecelerity/config"
)

// sessionIdle is how long a console's open config transaction survives without a
// config command. The control protocol does not tell commands when a connection
// ends, so a transaction left open by a console that went away is rolled back after
// this long instead; a live console keeps its transaction by using it.
const sessionIdle = 10 * time.Minute

// session is one console peer's config state.
type session struct {
	mu       sync.Mutex // held while a config command runs for the peer
	cs       config.Session
	lastUsed time.Time
}

// sessions maps a control peer to its config session. A peer is what control.Ctx
// names: "uid=U pid=P" on the unix socket (one console process, one connection) or
// ip:port on TCP (one connection). Only sessions with an open transaction are kept.
type sessions struct {
	// mu guards m.
	mu sync.Mutex
	m  map[string]*session
}

// run calls fn with peer's session and forgets the session afterwards unless it
// holds a transaction. Idle transactions of other peers are rolled back first.
func (ss *sessions) run(peer string, now time.Time, fn func(*config.Session) (string, error)) (string, error) {
	ss.mu.Lock()
	for p, s := range ss.m {
		if p != peer && s.mu.TryLock() {
			if now.Sub(s.lastUsed) > sessionIdle {
				s.cs.Close()
				delete(ss.m, p)
			}
			s.mu.Unlock()
		}
	}
	s := ss.m[peer]
	if s == nil {
		s = &session{}
		ss.m[peer] = s
	}
	ss.mu.Unlock()

	s.mu.Lock()
	out, err := fn(&s.cs)
	s.lastUsed = now
	keep := s.cs.InTxn()
	s.mu.Unlock()

	if !keep {
		ss.mu.Lock()
		if ss.m[peer] == s {
			delete(ss.m, peer)
		}
		ss.mu.Unlock()
	}
	return out, err
}

// inTxn reports whether peer has a transaction open.
func (ss *sessions) inTxn(peer string) bool {
	ss.mu.Lock()
	s := ss.m[peer]
	ss.mu.Unlock()
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cs.InTxn()
}

// closeAll rolls back every open transaction (shutdown).
func (ss *sessions) closeAll() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for p, s := range ss.m {
		s.mu.Lock()
		s.cs.Close()
		s.mu.Unlock()
		delete(ss.m, p)
	}
}
