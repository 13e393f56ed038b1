// Package sched is the master scheduler: one event loop that owns every file
// descriptor and timer of the server, after the scheduler of Momentum/Ecelerity.
//
// A [Loop] runs on one goroutine and waits in epoll (the goroutine may be locked to
// its OS thread, see [Options].LockOSThread; by default it is not). Each
// iteration samples the clock once and hands that time to every callback it runs:
//
//   - fd events ([Event], added with [Loop.Add]): a [Callback] receives the event,
//     the [Mask] that fired and now, and returns the new interest mask; 0 frees the
//     event (the descriptor stays open: closing it is the callback's business).
//     [Loop.AddAndCall] registers a descriptor and runs its callback at once, for
//     a server that speaks first on a connection it has just accepted;
//   - timers ([Timer], from [Loop.After], [Loop.At] or [Loop.Reset]) kept in a
//     hierarchical timing wheel whose due slots drain into a small heap, so that a
//     million connection timeouts cost O(1) each and timers still fire in deadline
//     order;
//   - hand-overs from other goroutines ([Loop.Dispatch], [Loop.Resume]), queued in a
//     batch and woken through an eventfd only when the loop may be asleep. A producer
//     that knows a hand-over is coming soon (a thread pool job taken by a running
//     worker) announces it with [Loop.Expect]; while one is expected the loop polls
//     epoll with a zero timeout for up to [Options].Spin before it sleeps, so that the
//     hand-over finds it awake: no eventfd write, no thread wake-up. With nothing
//     expected the loop never polls.
//
// Everything else is loop-only: a call from another goroutine panics with
// "sched: <Method> called off the loop goroutine" instead of racing.
//
// Non-blocking IO sits on an operator set ([Ops]): [FDConn] for a plain descriptor
// and [TLSConn] for crypto/tls over the same descriptor (also as a STARTTLS upgrade
// of a live connection). [WriteState] carries a partial write across callbacks and
// [ReadState] keeps read-until-delimiter and read-exactly-N buffers across callbacks;
// each reports the [Mask] it needs when the descriptor would block.
//
// [Listen] and [Accept] open non-blocking, close-on-exec listening sockets
// ([NewNonblockingFDConn] skips the flag check for what Accept returns); a
// [Group] runs several loops, each with its own SO_REUSEPORT listener, loop 0 being
// the master.
//
// The package knows nothing about configuration, hooks or SMTP.
package sched
