package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ecelerity-go/ecelerity/control"
	"github.com/ecelerity-go/ecelerity/logging"
	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/modules/esmtp"
	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// This file wires the reference ESMTP listener (package modules/esmtp) into the
// server: the module system cannot hand a module the loop, the pools or the logs, so
// the server gives them to it before generation 1 is built, and reads the module's
// sessions and spool back for the console and the metrics.

// generationSource is the module manager as the listener sees it: a func, because
// the listener is set up before the manager it reads exists. Any goroutine.
type generationSource func() *modules.Generation

// Current implements esmtp.GenerationSource.
func (f generationSource) Current() *modules.Generation { return f() }

// countingLogs passes the listener's records on to the daemon's logs and counts
// them into the server's counters: a message received per spooled message (the
// listener writes one R line per recipient, in a row, so a message is counted when
// its ID differs from the previous line's), a rejection per rejectlog record.
// Loop goroutine only, as the listener calls it; the counters are atomics.
type countingLogs struct {
	next esmtp.Logs
	c    *Counters
	last string // ID of the message of the previous R line; loop-only
}

var _ esmtp.Logs = (*countingLogs)(nil)

// Reception implements esmtp.Logs.
func (l *countingLogs) Reception(r *esmtp.Reception) {
	if r.MsgID != l.last {
		l.last = r.MsgID
		l.c.MessagesReceived.Add(1)
	}
	l.next.Reception(r)
}

// Rejection implements esmtp.Logs.
func (l *countingLogs) Rejection(r *esmtp.Rejection) {
	l.c.MessagesRejected.Add(1)
	l.next.Rejection(r)
}

// esmtpEnv is what the listener of this server gets: the master loop, the pools,
// the module manager, the mainlog and rejectlog (counted), the paniclog under the
// module's name, and the daemon's version. Start's goroutine, before generation 1.
func (s *Server) esmtpEnv() esmtp.Env {
	return esmtp.Env{
		Loop:        s.loop,
		Pools:       s.pools,
		Generations: generationSource(func() *modules.Generation { return s.mods.Current() }),
		Logs:        &countingLogs{next: esmtp.LoggingLogs{L: s.logs}, c: &s.stats.pub},
		Logger:      s.plog.Logger(esmtp.ModuleName),
		Version:     Version(),
	}
}

// bindListener returns a copy of b in which the ESMTP listener, if b has it, is
// bound to env (esmtp.NewInfo) rather than to the process-wide esmtp.Provide: two
// servers in one process (tests do that) then never share a loop. A set without the
// listener is copied as it is.
func bindListener(b *modules.Builtins, env esmtp.Env) *modules.Builtins {
	out := modules.NewBuiltins()
	for _, info := range b.List() {
		if strings.EqualFold(info.Name, esmtp.ModuleName) {
			info = esmtp.NewInfo(env)
		}
		out.Register(info)
	}
	return out
}

// checkListenerEnv is the listener's Env for `--check`: the module only defines its
// options there (no generation is initialised), but it wants a loop and pools to
// exist. The loop is never run, and a loop that never ran holds no descriptor.
func checkListenerEnv(pools *threadpool.Manager) (esmtp.Env, error) {
	loop, err := sched.New(sched.Options{})
	if err != nil {
		return esmtp.Env{}, fmt.Errorf("server: check: %w", err)
	}
	none := generationSource(func() *modules.Generation { return nil })
	return esmtp.Env{Loop: loop, Pools: pools, Generations: none, Version: Version()}, nil
}

// listener returns the ESMTP listener of the current generation, or nil when the
// configuration does not load it. Any goroutine; it does not wait for the loop.
func (s *Server) listener() *esmtp.Module {
	if s.mods == nil {
		return nil
	}
	g := s.mods.Current()
	if g == nil {
		return nil
	}
	defer g.Release()
	m, _ := g.Instance(esmtp.ModuleName, "").(*esmtp.Module)
	return m
}

// drainShare is the part of the shutdown's time that the listener's sessions may
// take to finish their transactions: what is left is for the pools, the modules
// and the loop once the sessions are gone.
const drainShare = 2.0 / 3

// drainListener stops the ESMTP listener first in a shutdown (esmtp.Module.Drain):
// its sockets close at once, idle sessions get a 421, and sessions in a transaction
// finish it, within drainShare of what is left of ctx. Sessions cut off at that
// deadline are a warning, not a failed shutdown: nothing they were told was
// accepted is lost. The teardown's goroutine; nothing to do when the loop is gone
// or the configuration does not load the listener.
func (s *Server) drainListener(ctx context.Context) {
	if s.loop == nil {
		return
	}
	select {
	case <-s.loopDone:
		return
	default:
	}
	m := s.listener()
	if m == nil {
		return
	}
	dctx := ctx
	if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		dctx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Duration(float64(time.Until(dl))*drainShare)))
		defer cancel()
	}
	if err := m.Drain(dctx); err != nil {
		s.logf(logging.Warning, "shutdown: %v", err)
	}
}

// listenerSessions returns the sessions each generation holds in the listener, by
// generation ID; nil when the listener is not loaded. Any goroutine.
func (s *Server) listenerSessions() map[uint64]int64 {
	m := s.listener()
	if m == nil {
		return nil
	}
	out := map[uint64]int64{}
	for _, g := range m.Sessions() {
		out[g.Generation] = g.Sessions
	}
	return out
}

// listenerReady returns what the ready line adds for the listener: an item per
// address it listens on ("mail 127.0.0.1:2525") and its spool directory; nothing
// when the configuration does not load it. After generation 1.
func (s *Server) listenerReady(set *coreSettings) (items []string, spool string) {
	m := s.listener()
	if m == nil {
		return nil, ""
	}
	for _, a := range m.Addrs() {
		items = append(items, "mail "+a.String())
	}
	return items, set.spoolbase
}

// spoolCommands are the top-level forms of the listener's spool commands, as
// issue 10 names them: `spool count`, `spool list` and `spool drop ID` run
// `ESMTP_Listener spool ...`. They block (the module's Control runs off the loop).
func (s *Server) spoolCommands() []control.Command {
	run := func(args ...string) (string, error) {
		if s.listener() == nil {
			return "", fmt.Errorf("%w: the ESMTP listener is not loaded (no %s stanza)", errUsage, esmtp.ModuleName)
		}
		return s.mods.Control(append([]string{esmtp.ModuleName, "spool"}, args...))
	}
	return []control.Command{
		{Name: "spool", Usage: "spool count | spool list | spool drop ID",
			Help:     "The ESMTP listener's spool: how many messages, one line each (id, size, time, sender, recipients), or drop one.",
			Blocking: true, Complete: fixed("count", "list", "drop"),
			Run: func(_ *control.Ctx, args []string) (string, error) {
				if len(args) != 1 || (!strings.EqualFold(args[0], "count") && !strings.EqualFold(args[0], "list")) {
					return "", usage("spool count | spool list | spool drop ID")
				}
				return run(strings.ToLower(args[0]))
			}},
		{Name: "spool drop", Usage: "spool drop ID", Help: "Remove a message from the ESMTP listener's spool.",
			Blocking: true, Mutating: true,
			Run: func(_ *control.Ctx, args []string) (string, error) {
				if len(args) != 1 {
					return "", usage("spool drop ID")
				}
				return run("drop", args[0])
			}},
	}
}

// formatGenerations renders `generations`: the module system's columns, plus the
// sessions the ESMTP listener holds on each generation when it is loaded.
func formatGenerations(gs []modules.GenerationView, sessions map[uint64]int64) string {
	if sessions == nil {
		return modules.FormatGenerations(gs)
	}
	var b []byte
	b = fmt.Appendf(b, "%-10s %-10s %6s %11s %8s  %s\n", "generation", "age", "refs", "config refs", "sessions", "modules")
	for _, g := range gs {
		id := strconv.FormatUint(g.ID, 10)
		if g.Current {
			id += "*"
		}
		mods := "-"
		if len(g.Modules) > 0 {
			mods = strings.Join(g.Modules, ", ")
		}
		sess := "-"
		if n, ok := sessions[g.ID]; ok {
			sess = strconv.FormatInt(n, 10)
		}
		b = fmt.Appendf(b, "%-10s %-10s %6d %11d %8s  %s\n", id, g.Age.Round(time.Second), g.Refs, g.ConfigRefs, sess, mods)
	}
	return string(b)
}
