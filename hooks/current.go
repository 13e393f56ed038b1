package hooks

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Current holds the registry of the live generation. The Call* forms read it
// with the registry pinned for the call's duration, so a reload that swaps
// in a new registry meanwhile does not destroy what the call runs. The zero
// value holds no registry: calls find no provider.
type Current struct {
	// swapMu serialises Swap, so that each registry's installed count follows
	// the pointer.
	swapMu sync.Mutex
	p      atomic.Pointer[Registry]
}

// Swap installs next (sealed, not retired) and returns the registry it
// replaces, which the caller retires when it is done with the swap. A nil
// next uninstalls (shutdown). Called by the goroutine that commits reloads.
func (c *Current) Swap(next *Registry) (prev *Registry, err error) {
	c.swapMu.Lock()
	defer c.swapMu.Unlock()
	if next != nil {
		next.mu.Lock()
		switch {
		case next.retiring:
			err = ErrRetired
		case !next.sealed:
			err = ErrNotSealed
		default:
			next.installed++
		}
		next.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("hooks: swap: %w", err)
		}
	}
	prev = c.p.Swap(next)
	if prev != nil {
		prev.mu.Lock()
		prev.installed--
		prev.mu.Unlock()
	}
	return prev, nil
}

// Load returns the installed registry, or nil, without pinning it: for
// introspection (List, Show), which reads nothing a cleanup destroys. Any
// goroutine.
func (c *Current) Load() *Registry { return c.p.Load() }

// Acquire returns the installed registry pinned, or nil when none is
// installed. The caller calls Unpin when done; in between it may use the In
// call forms on it, which is how a caller makes many calls, or a session
// keeps its generation, for the price of one pin. Any goroutine.
func (c *Current) Acquire() *Registry {
	for {
		r := c.p.Load()
		if r == nil {
			return nil
		}
		if r.Pin() == nil {
			return r
		}
		// r was retired after we loaded it, so it is no longer installed:
		// the next load sees its successor.
	}
}

// enter finds hook id's slot in the installed registry and counts the call
// in, which pins the registry for the call unless it has been retired: the
// caller then checks retired and, if set, calls reenter. (That check is left
// to the caller so that enter stays small enough to inline.) exit counts the
// call out. A nil slot means there is no provider to call, and nothing to
// exit.
func (c *Current) enter(id int) (*Registry, *slot, uint64) {
	r := c.p.Load()
	if !r.has(id) {
		return nil, nil, 0
	}
	s := &r.slots[id]
	return r, s, s.entered.Add(1)
}

// reenter backs a call out of r, which was retired between the load of the
// pointer and the count, and enters the registry installed now. A retired
// registry is no longer installed, so each round reads a newer pointer.
func (c *Current) reenter(r *Registry, s *slot, id int) (*Registry, *slot, uint64) {
	for {
		s.backouts.Add(1)
		r.exit(s)
		r = c.p.Load()
		if !r.has(id) {
			return nil, nil, 0
		}
		s = &r.slots[id]
		seq := s.entered.Add(1)
		if !r.retired.Load() {
			return r, s, seq
		}
	}
}
