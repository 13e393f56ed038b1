package server

import (
	"sync"
	"sync/atomic"
	"time"
)

// Counters are the message counters a listener adds to; `summary` shows them since
// the last `summary reset`, the metrics since start-up. Any goroutine.
type Counters struct {
	// MessagesReceived counts messages accepted (one per message, not per recipient).
	MessagesReceived atomic.Uint64
	// MessagesRejected counts messages or commands refused by policy.
	MessagesRejected atomic.Uint64
}

// counters are the server's own counters. Totals only grow (Prometheus counters);
// `summary reset` records a baseline that `summary` subtracts.
type counters struct {
	pub           Counters
	reloadsOK     atomic.Uint64
	reloadsFailed atomic.Uint64
	commands      atomic.Uint64 // console commands run

	// mu guards base and resetAt.
	mu      sync.Mutex
	base    [5]uint64
	resetAt time.Time
}

func (c *counters) values() [5]uint64 {
	return [5]uint64{c.reloadsOK.Load(), c.reloadsFailed.Load(), c.commands.Load(),
		c.pub.MessagesReceived.Load(), c.pub.MessagesRejected.Load()}
}

// reset sets the baseline to now's values.
func (c *counters) reset(now time.Time) {
	v := c.values()
	c.mu.Lock()
	c.base, c.resetAt = v, now
	c.mu.Unlock()
}

// sinceReset returns the counters minus the baseline, and when it was set.
func (c *counters) sinceReset() ([5]uint64, time.Time) {
	v := c.values()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range v {
		v[i] -= c.base[i]
	}
	return v, c.resetAt
}

// uptime returns a duration in whole seconds, as `summary` shows them.
func uptime(d time.Duration) int64 { return int64(d / time.Second) }
