package esmtp

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/modules/esmtp/spool"
	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// Module is the ESMTP_Listener singleton: one per process, across every
// configuration generation. It owns the listening sockets (shared by the
// generations that name them, so a reload never rebinds a port), the spool
// and the sessions.
type Module struct {
	env  *Env
	opts *optionSet

	// mu guards gens, sockets, spool, spoolDir and shut.
	mu       sync.Mutex
	gens     map[uint64]*genState
	sockets  map[string]*listenSock
	spool    *spool.Spool
	spoolDir string
	shut     bool // Drain began: no address is bound any more

	connSeq atomic.Uint64

	// Loop-only.
	peers map[netip.Addr]int // sessions per client address
	live  *session           // every open session, linked through prev and next
	drain *drainState        // set by Drain; nil while the listener serves
}

var (
	_ modules.ConfSetuper = (*Module)(nil)
	_ modules.ExtIniter   = (*Module)(nil)
	_ modules.Controller  = (*Module)(nil)
	_ modules.Describer   = (*Module)(nil)
)

// genState is the listener's part of one generation.
type genState struct {
	id       uint64
	plan     *plan
	sessions atomic.Int64
}

// Describe implements modules.Describer.
func (m *Module) Describe() string {
	return "ESMTP listener: receives mail, runs the validate_* phases, spools durably"
}

// ConfSetup defines the listener's scope and options. It runs once per
// process, off the loop.
func (m *Module) ConfSetup(ctx *modules.SetupCtx) error {
	if m.env == nil {
		env, err := providedEnv()
		if err != nil {
			return err
		}
		m.env = env
	}
	if err := m.env.check(); err != nil {
		return err
	}
	opts, err := defineOptions(ctx.Config())
	if err != nil {
		return err
	}
	m.opts = opts
	m.gens = map[uint64]*genState{}
	m.sockets = map[string]*listenSock{}
	m.peers = map[netip.Addr]int{}
	return nil
}

// ExtInit resolves a generation's Listen and Peer scopes, binds the
// addresses it adds (on Init) and lets go of them once the generation is gone
// (on Destroy). The spool opens with the first generation: Spoolbase and
// Force_Fsync need a restart to change. Off the loop.
func (m *Module) ExtInit(ctx *modules.InitCtx, mode modules.Mode) error {
	id := ctx.Generation().ID()
	switch mode {
	case modules.Init:
		p, err := buildPlan(m.opts, ctx.Config(), m.env.Version)
		if err != nil {
			return err
		}
		if err := m.openSpool(p, ctx); err != nil {
			return err
		}
		var got []*listenSock
		for _, lp := range p.order {
			ls, err := m.acquire(lp)
			if err != nil {
				for _, g := range got {
					m.release(g)
				}
				return err
			}
			got = append(got, ls)
		}
		m.mu.Lock()
		m.gens[id] = &genState{id: id, plan: p}
		m.mu.Unlock()
	case modules.Destroy:
		m.mu.Lock()
		gs := m.gens[id]
		delete(m.gens, id)
		var socks []*listenSock
		if gs != nil {
			for _, lp := range gs.plan.order {
				socks = append(socks, m.sockets[lp.key])
			}
		}
		m.mu.Unlock()
		for _, ls := range socks {
			if ls != nil {
				m.release(ls)
			}
		}
	}
	return nil
}

func (m *Module) openSpool(p *plan, ctx *modules.InitCtx) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.spool != nil {
		if p.spoolDir != m.spoolDir {
			ctx.Logger().Warn("Spoolbase changed; the spool stays where it is until a restart", "spool", m.spoolDir, "configured", p.spoolDir)
		}
		return nil
	}
	class, ok := m.env.Pools.Class(threadpool.PoolSpoolIn)
	if !ok {
		return fmt.Errorf("%w: no %s pool", ErrSpool, threadpool.PoolSpoolIn)
	}
	sp, rep, err := spool.Open(spool.Options{
		Dir: p.spoolDir, Fsync: p.fsync, GroupCommit: p.group, Window: p.window, SyncFS: p.syncFS, SegmentSize: p.segSize,
		Pools: m.env.Pools, Class: class, Loop: m.env.Loop, Logger: m.env.Logger,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSpool, err)
	}
	ctx.Logger().Info("spool open", "dir", p.spoolDir, "messages", rep.Messages, "fsync", p.fsync, "group_commit", p.group, "sync", map[bool]string{false: "fdatasync", true: "syncfs"}[p.syncFS], "segments", rep.Segments, "segment_size", p.segSize)
	m.spool, m.spoolDir = sp, p.spoolDir
	return nil
}

// genState returns the listener's state of generation id, or nil.
func (m *Module) genState(id uint64) *genState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gens[id]
}

// Spool returns the spool, nil before the first generation. Any goroutine.
func (m *Module) Spool() *spool.Spool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.spool
}

// GenerationSessions is the number of sessions one generation holds.
type GenerationSessions struct {
	Generation uint64
	Sessions   int64
	Listens    []string // the Listen scopes of the generation
}

// Sessions returns, for every generation the listener still has state for,
// oldest first, how many sessions hold it: what the `generations` command
// shows beside each generation. Any goroutine.
func (m *Module) Sessions() []GenerationSessions {
	m.mu.Lock()
	out := make([]GenerationSessions, 0, len(m.gens))
	for _, gs := range m.gens {
		g := GenerationSessions{Generation: gs.id, Sessions: gs.sessions.Load()}
		for _, lp := range gs.plan.order {
			g.Listens = append(g.Listens, lp.name)
		}
		out = append(out, g)
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Generation < out[j].Generation })
	return out
}

// Addrs returns the addresses the listener listens on now, sorted (the
// actual ports, so a test that configures port 0 learns them). Any
// goroutine.
func (m *Module) Addrs() []netip.AddrPort {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]netip.AddrPort, 0, len(m.sockets))
	for _, ls := range m.sockets {
		out = append(out, ls.bound)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// Control runs the module's console commands ("ESMTP_Listener <command>"):
//
//	spool count         number of messages in the spool
//	spool list          one line per message: id, size, sender, recipients
//	spool drop ID       remove a message from the spool
//	sessions            sessions per generation
//
// Called on the console's goroutine.
func (m *Module) Control(_ *modules.ControlCtx, args []string) (string, error) {
	usage := fmt.Errorf("%w: spool count | spool list | spool drop ID | sessions", ErrUsage)
	if len(args) == 0 {
		return "", usage
	}
	sp := m.Spool()
	switch strings.ToLower(args[0]) {
	case "spool":
		if sp == nil {
			return "", fmt.Errorf("%w: the spool is not open", ErrSpool)
		}
		switch {
		case len(args) == 2 && args[1] == "count":
			return fmt.Sprintf("%d\n", sp.Count()), nil
		case len(args) == 2 && args[1] == "list":
			var b strings.Builder
			for _, e := range sp.List() {
				from := e.MailFrom
				if from == "" {
					from = "<>"
				}
				fmt.Fprintf(&b, "%s %d %s %s %s\n", e.ID, e.Size, e.Received.UTC().Format(time.RFC3339), from, strings.Join(e.Rcpts, ","))
			}
			return b.String(), nil
		case len(args) == 3 && args[1] == "drop":
			if err := sp.Drop(args[2]); err != nil {
				return "", err
			}
			return "Dropped " + args[2] + "\n", nil
		}
	case "sessions":
		var b strings.Builder
		for _, g := range m.Sessions() {
			fmt.Fprintf(&b, "generation %d: %d sessions (%s)\n", g.Generation, g.Sessions, strings.Join(g.Listens, " "))
		}
		return b.String(), nil
	}
	return "", usage
}

// listenSock is one listening socket, shared by every generation whose plan
// names its address.
type listenSock struct {
	m     *Module
	key   string
	fd    int
	bound netip.AddrPort
	refs  int // guarded by m.mu

	// Loop-only.
	ev       *sched.Event // a suspended duplicate while resting
	resting  bool         // accept failed for want of descriptors or memory
	closed   bool
	sessions int
}

// acquire returns the socket for lp, binding it if no generation had it.
// Off the loop.
func (m *Module) acquire(lp *listenPlan) (*listenSock, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.shut {
		return nil, fmt.Errorf("%w: Listen %q", ErrShuttingDown, lp.name)
	}
	if ls := m.sockets[lp.key]; ls != nil {
		ls.refs++
		return ls, nil
	}
	fd, err := sched.Listen(lp.network, lp.addr.String(), sched.ListenConfig{Backlog: lp.backlog})
	if err != nil {
		return nil, fmt.Errorf("%w: Listen %q: %w", ErrListen, lp.name, err)
	}
	bound := lp.addr
	if a, err := sched.Addr(fd); err == nil {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			bound = ap
		}
	}
	ls := &listenSock{m: m, key: lp.key, fd: fd, bound: bound, refs: 1}
	m.sockets[lp.key] = ls
	m.env.Loop.Dispatch(func(time.Time) {
		if ls.closed {
			return
		}
		ev, err := m.env.Loop.AddListener(fd, ls.onAccept, ls)
		if err != nil {
			m.env.Logger.Error("esmtp: cannot watch listening socket", "addr", lp.name, "err", err)
			return
		}
		ls.ev = ev
	})
	return ls, nil
}

// release drops a generation's reference; the last one closes the socket on
// the loop. Off the loop.
func (m *Module) release(ls *listenSock) {
	m.mu.Lock()
	ls.refs--
	last := ls.refs == 0
	if last {
		delete(m.sockets, ls.key)
	}
	m.mu.Unlock()
	if !last {
		return
	}
	m.env.Loop.Dispatch(func(time.Time) { ls.close() })
}

// close stops listening: the event goes, then the descriptor. Closing twice
// does nothing. Loop goroutine.
func (ls *listenSock) close() {
	if ls.closed {
		return
	}
	ls.closed = true
	loop := ls.m.env.Loop
	if ls.ev != nil {
		// Free the event before closing, in hand-over order, so that the
		// descriptor number is not reused while the loop still maps it.
		ev := ls.ev
		if !ls.resting {
			ev = loop.Suspend(ev)
		}
		loop.Resume(ev, 0)
		ls.ev = nil
	}
	loop.Dispatch(func(time.Time) { closeFD(ls.fd) })
}

// acceptBatch bounds the connections taken per readiness, so that a flood
// of connections does not starve established sessions.
const acceptBatch = 64

// onAccept is the listening socket's callback. Loop goroutine.
func (ls *listenSock) onAccept(ev *sched.Event, fired sched.Mask, now time.Time) sched.Mask {
	if fired == 0 {
		// The loop shuts down: stop listening.
		ls.closed = true
		ls.ev = nil
		closeFD(ls.fd)
		return 0
	}
	if ls.closed {
		// Resumed after a pause that close cut short.
		return 0
	}
	ls.ev, ls.resting = ev, false
	for range acceptBatch {
		fd, sa, err := sched.Accept(ev.FD())
		if err != nil {
			if errors.Is(err, sched.ErrWouldBlock) {
				break
			}
			// Out of descriptors or memory: rest as sched.Acceptor does;
			// sessions that end meanwhile give descriptors back.
			loop := ls.m.env.Loop
			ls.m.env.Logger.Warn("esmtp: accept failed; the listener pauses", "addr", ls.bound, "pause", sched.AcceptBackoff, "err", err)
			dup := loop.Suspend(ev)
			ls.ev, ls.resting = dup, true
			loop.After(sched.AcceptBackoff, func(*sched.Timer, time.Time) { loop.Resume(dup, sched.Read) }, nil)
			return 0
		}
		ls.m.startSession(ls, fd, sockaddrAddrPort(sa), now)
	}
	return sched.Read
}
