package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Participant takes part in every transaction's commit without config
// knowing what it is (the module system is one). Prepare, Commit and Abort
// are called on the goroutine that prepares or finishes the commit, never on
// the event loop by this package, one transaction at a time.
type Participant interface {
	// Prepare checks next (and may set up what it needs, such as module
	// instances); an error vetoes the transaction. Called after every value
	// validated and before the swap.
	Prepare(txn *Txn, next *Generation) error
	// Commit is called once next has become current (Prepared.Finish);
	// prev is the generation it replaced, still referenced by the store
	// until Commit returns. It may block: it does not run inside the swap.
	Commit(prev, next *Generation)
	// Abort is called when a transaction that Prepare saw is rejected
	// (another participant vetoed or a concurrent commit won).
	Abort(next *Generation)
}

// Swapper is implemented by a Participant whose own state must change in the
// same instant as the store's current generation: the module system's hook
// registry and module generation, which a reader must never see paired with
// another configuration generation. Swap is called by Prepared.Swap right
// after the store's pointer changed, in participant order, on whichever
// goroutine runs the swap (the event loop, for the module system). It must be
// cheap and must not block or call back into the store; what can wait goes in
// Commit.
type Swapper interface {
	Swap(prev, next *Generation)
}

// StoreOptions configure a Store.
type StoreOptions struct {
	// Path is the main configuration file that Reload("") reads.
	Path string
	// Warn receives warnings: NotDynamic options changed after start-up,
	// writeback to a virtual file. Called on the committing goroutine. Nil
	// drops them.
	Warn func(msg string)
}

// Store holds the current Generation and commits new ones. Current is safe
// from any goroutine and never blocks; commits are serialised.
type Store struct {
	reg  *Registry
	cur  atomic.Pointer[Generation]
	warn func(string)

	// commitMu serialises commits, from Prepare to the participants' Commit,
	// so that participants see generations in order. A Prepared holds it
	// from Txn.Prepare until Finish or Abort.
	commitMu sync.Mutex

	// mu guards everything below.
	mu      sync.Mutex
	parts   []Participant
	path    string
	started bool
	live    map[uint64]*Generation
	runSwap func(swap func())
}

// NewStore returns a store whose current generation (ID 1) is built from an
// empty tree: every option at its default.
func NewStore(reg *Registry, opts StoreOptions) *Store {
	s := &Store{reg: reg, warn: opts.Warn, path: opts.Path, live: make(map[uint64]*Generation)}
	g, err := reg.Build(&Tree{Main: &File{}})
	if err != nil {
		// An empty tree has no values to reject; only a Postset could, and
		// it runs only for values that are set.
		panic(err)
	}
	g.id = 1
	s.watch(g)
	s.live[g.id] = g
	s.cur.Store(g)
	return s
}

// Registry returns the store's registry.
func (s *Store) Registry() *Registry { return s.reg }

// Current returns the current generation with a reference the caller must
// Release. Safe from any goroutine; lock-free.
func (s *Store) Current() *Generation {
	for {
		g := s.cur.Load()
		if g.tryAcquire() {
			return g
		}
		// g retired between the load and the acquire: a newer one is
		// current now.
	}
}

// AddParticipant adds p to every later transaction, after those added
// before it. Safe from any goroutine.
func (s *Store) AddParticipant(p Participant) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.parts = append(s.parts, p)
}

// MarkStarted records that start-up is over: from now on a committed change
// to a NotDynamic option warns.
func (s *Store) MarkStarted() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = true
}

// SetSwapRunner makes Txn.Commit hand each swap to run, which must call swap
// once, on the goroutine whose readers need configuration and whatever the
// Swappers switch to change together, and return once it has. The module
// system passes one that runs it on the event loop, so that a commit made
// through Commit (the console's `config set`) switches configuration, hooks
// and modules in one step of the loop. nil, the default, runs the swap on the
// committing goroutine. Any goroutine.
func (s *Store) SetSwapRunner(run func(swap func())) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runSwap = run
}

// Path returns the main configuration file: the one given in StoreOptions,
// or the one a committed transaction named with SetPath (Reload does).
func (s *Store) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.path
}

// SetPath makes path the main configuration file, what Reload("") reads.
// Txn.SetPath changes it with a commit instead. Any goroutine.
func (s *Store) SetPath(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.path = path
}

// GenerationInfo describes a live generation for the generations listing.
type GenerationInfo struct {
	ID      uint64
	Created time.Time
	Refs    int64
	Current bool
}

// Generations lists the generations not yet retired, oldest first: the
// current one and those it superseded, not one still being committed.
func (s *Store) Generations() []GenerationInfo {
	cur := s.cur.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]GenerationInfo, 0, len(s.live))
	for _, g := range s.live {
		if g.id > cur.id {
			continue
		}
		out = append(out, GenerationInfo{ID: g.id, Created: g.created, Refs: g.refs.Load(), Current: g == cur})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// watch makes g leave the live list when it retires. Registered before g can
// become current, so that the swap itself only inserts g in the list.
func (s *Store) watch(g *Generation) {
	g.OnRetire(func() {
		s.mu.Lock()
		if s.live[g.id] == g {
			delete(s.live, g.id)
		}
		s.mu.Unlock()
	})
}

func (s *Store) warnf(format string, args ...any) {
	if s.warn != nil {
		s.warn(fmt.Sprintf(format, args...))
	}
}

// Txn is a transaction: a working tree, copied from the generation it
// started from (or parsed anew), that Commit validates into a new
// generation. A Txn is used by one goroutine at a time.
type Txn struct {
	s        *Store
	base     *Generation // held until the transaction ends
	tree     *Tree
	replay   []string
	done     bool
	warnings []string
	path     string // the store's new main file once committed; "" keeps it
}

// Begin starts a transaction on a copy of the current generation's tree.
func (s *Store) Begin() *Txn {
	base := s.Current()
	return &Txn{s: s, base: base, tree: base.tree.Clone()}
}

// BeginFromScratch starts a transaction on an empty tree (every option at
// its default), keeping the current generation's file names for writeback.
func (s *Store) BeginFromScratch() *Txn {
	base := s.Current()
	t := &Tree{Main: &File{}, LocalPath: base.tree.LocalPath}
	if base.tree.Main != nil {
		t.Main.Path = base.tree.Main.Path
	}
	t.Files = []*File{t.Main}
	return &Txn{s: s, base: base, tree: t}
}

// BeginTree starts a transaction that replaces the whole configuration with
// tree (a reload).
func (s *Store) BeginTree(tree *Tree) *Txn {
	return &Txn{s: s, base: s.Current(), tree: tree}
}

// Reload parses path (the store's path when empty) and commits it; path then
// becomes the store's path. On any error the current generation and the path
// stay and the error lists every problem.
// The returned generation is held for the caller, who must Release it.
func (s *Store) Reload(path string) (*Generation, error) {
	if path == "" {
		path = s.Path()
	}
	tree, err := ParseFile(path)
	if err != nil {
		return nil, err
	}
	txn := s.BeginTree(tree)
	txn.SetPath(path)
	return txn.Commit()
}

// SetPath makes path the store's main file (Store.Path) when the transaction
// commits (in Finish, before the next commit can start); a rejected
// transaction leaves the old one. For a reload of another file than the
// last.
func (t *Txn) SetPath(path string) { t.path = path }

// Tree returns the transaction's working tree. Edit it only through Set and
// Unset, so that Replay stays true.
func (t *Txn) Tree() *Tree { return t.tree }

// Base returns the generation the transaction started from.
func (t *Txn) Base() *Generation { return t.base }

// Replay returns the set and unset commands applied so far, in console
// syntax.
func (t *Txn) Replay() []string { return append([]string(nil), t.replay...) }

// Warnings returns the warnings of the last Commit.
func (t *Txn) Warnings() []string { return t.warnings }

// Rollback discards the transaction. Calling it after Commit does nothing.
func (t *Txn) Rollback() {
	if t.done {
		return
	}
	t.done = true
	t.base.Release()
}

// Commit validates the working tree into a new generation, lets every
// participant prepare it, and makes it current with one atomic swap: Prepare,
// then Prepared.Swap (through the store's swap runner, if one is set), then
// Prepared.Finish. If another commit happened since the transaction began, it
// fails with ErrConflict (the first commit wins). On any failure the current
// generation is untouched, every error is returned (an ErrorList),
// participants that prepared are told to Abort and the values built are
// freed. On success the new generation is returned held for the caller, who
// must Release it. With a swap runner that hands the swap to the event loop,
// Commit must not be called on the loop unless the runner runs it in place
// there.
func (t *Txn) Commit() (*Generation, error) {
	p, err := t.Prepare()
	if err != nil {
		return nil, err
	}
	t.s.mu.Lock()
	run := t.s.runSwap
	t.s.mu.Unlock()
	if run != nil {
		run(p.Swap)
	}
	// Without a runner, or if one returned without swapping (a broken
	// runner), the swap happens here; after a swap it does nothing.
	p.Swap()
	return p.Finish(), nil
}

// Prepared is a transaction that validated and that every participant
// prepared, waiting to be swapped in (Swap, then Finish) or dropped (Abort).
// It holds the store's commit slot from Txn.Prepare until Finish or Abort:
// another commit waits meanwhile, then fails with ErrConflict, so one of the
// two must follow. Used by one goroutine at a time, except Swap, which may run
// on another (the event loop) in between.
type Prepared struct {
	t     *Txn
	next  *Generation
	parts []Participant
	state preparedState
}

type preparedState uint8

const (
	statePrepared preparedState = iota
	stateSwapped
	stateEnded
)

// Prepare is the first half of Commit: it builds and validates the working
// tree into the next generation, checks that no other commit happened since
// the transaction began (ErrConflict), and runs every participant's Prepare.
// On success the transaction holds the store's commit slot until the
// returned Prepared is finished or aborted; on failure nothing changed and
// the errors are those Commit returns. Off the event loop: this is where
// everything costly happens.
func (t *Txn) Prepare() (*Prepared, error) {
	if t.done {
		return nil, ErrTxnDone
	}
	t.done = true
	s := t.s
	next, err := s.reg.Build(t.tree)
	if err != nil {
		t.base.Release()
		return nil, err
	}
	next.id = t.base.id + 1

	s.commitMu.Lock()
	fail := func(err error) (*Prepared, error) {
		next.Release()
		s.commitMu.Unlock()
		t.base.Release()
		return nil, err
	}
	if cur := s.cur.Load(); cur != t.base {
		return fail(fmt.Errorf("%w: generation %d was replaced by %d after this transaction began", ErrConflict, t.base.id, cur.id))
	}
	s.mu.Lock()
	parts := append([]Participant(nil), s.parts...)
	started := s.started
	s.mu.Unlock()

	// Every participant prepares, even after a veto, so that the operator
	// sees every problem at once; then all of them abort.
	var errs ErrorList
	for _, p := range parts {
		if err := p.Prepare(t, next); err != nil {
			if !errors.Is(err, ErrRejected) {
				err = fmt.Errorf("%w: %w", ErrRejected, err)
			}
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		for _, p := range parts {
			p.Abort(next)
		}
		return fail(errs)
	}
	t.warnings = nil
	if started {
		t.warnings = notDynamicChanges(t.base, next)
	}
	// Listed now, so that the swap takes no lock and allocates nothing;
	// Generations leaves it out until it is current, and its retirement
	// (on Abort) removes it.
	s.watch(next)
	s.mu.Lock()
	s.live[next.id] = next
	s.mu.Unlock()
	return &Prepared{t: t, next: next, parts: parts}, nil
}

// Generation returns the generation being committed. It is not current until
// Swap; it stays valid while p is neither finished nor aborted.
func (p *Prepared) Generation() *Generation { return p.next }

// Swap makes the prepared generation current: one atomic pointer store, then
// every Swapper participant's Swap. It allocates nothing and takes no lock,
// so that it can run on the event loop: whoever wants readers on one
// goroutine to see the store and the Swappers change together runs Swap
// there. Calling it again, or after Abort, does nothing. Finish must follow.
func (p *Prepared) Swap() {
	if p.state != statePrepared {
		return
	}
	p.state = stateSwapped
	s, prev, next := p.t.s, p.t.base, p.next
	next.refs.Add(1) // the store's reference; the other one is the caller's
	s.cur.Store(next)
	prev.superseded.Store(true)
	for _, part := range p.parts {
		if sw, ok := part.(Swapper); ok {
			sw.Swap(prev, next)
		}
	}
}

// Finish completes a swapped commit on the committing goroutine: every
// participant's Commit, the warnings for NotDynamic changes, and the release
// of the previous generation's store reference (which may retire it and run
// its OnRetire callbacks and Datafree). It then frees the commit slot and
// returns the new generation held for the caller, who must Release it; nil
// when Swap has not run. Not on the event loop: participants' Commit may
// block.
func (p *Prepared) Finish() *Generation {
	if p.state != stateSwapped {
		return nil
	}
	p.state = stateEnded
	s, prev, next := p.t.s, p.t.base, p.next
	if p.t.path != "" {
		// Before the commit slot is freed: the next transaction that can
		// commit reads the new path.
		s.SetPath(p.t.path)
	}
	for _, part := range p.parts {
		part.Commit(prev, next)
	}
	for _, w := range p.t.warnings {
		s.warnf("%s", w)
	}
	prev.Release() // the store's reference
	s.commitMu.Unlock()
	prev.Release() // the transaction's reference
	return next
}

// Abort drops a prepared transaction before its swap: every participant's
// Abort, the values built are freed, the commit slot is freed and the current
// generation stays. After Swap it does nothing (the commit has happened;
// Finish it).
func (p *Prepared) Abort() {
	if p.state != statePrepared {
		return
	}
	p.state = stateEnded
	s := p.t.s
	for _, part := range p.parts {
		part.Abort(p.next)
	}
	p.next.Release()
	s.commitMu.Unlock()
	p.t.base.Release()
}

// notDynamicChanges lists the NotDynamic options whose values differ between
// prev and next.
func notDynamicChanges(prev, next *Generation) []string {
	var out []string
	for i, st := range next.states {
		var def *optDef
		sig, prevSig := "", ""
		if st != nil {
			sig = st.signature()
			def = stateDef(st)
		}
		if i < len(prev.states) && prev.states[i] != nil {
			prevSig = prev.states[i].signature()
			if def == nil {
				def = stateDef(prev.states[i])
			}
		}
		if def != nil && def.notDynamic && sig != prevSig {
			out = append(out, fmt.Sprintf("option %s changed; it is read at start-up only and needs a restart to take effect", def.name))
		}
	}
	return out
}

// stateDef returns the definition behind a state.
func stateDef(st optState) *optDef {
	if d, ok := st.(interface{ definition() *optDef }); ok {
		return d.definition()
	}
	return nil
}

func (st *state[T]) definition() *optDef { return st.o.def }

// scopePathString writes a console scope path: "Keyword [instance] ...".
func scopePathString(path []ScopeRef) string {
	parts := make([]string, 0, 2*len(path))
	for _, r := range path {
		parts = append(parts, r.Keyword)
		if r.Name != "" {
			parts = append(parts, r.Name)
		}
	}
	return strings.Join(parts, " ")
}
