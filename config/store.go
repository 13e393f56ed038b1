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
// knowing what it is (the module system is one). All three methods are
// called on the goroutine that commits, never on the event loop, one
// transaction at a time.
type Participant interface {
	// Prepare checks next (and may set up what it needs, such as module
	// instances); an error vetoes the transaction. Called after every value
	// validated and before the swap.
	Prepare(txn *Txn, next *Generation) error
	// Commit is called after next has become current; prev is the generation
	// it replaced (still referenced by the store until Commit returns).
	Commit(prev, next *Generation)
	// Abort is called when a transaction that Prepare saw is rejected
	// (another participant vetoed or a concurrent commit won).
	Abort(next *Generation)
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
	// so that participants see generations in order.
	commitMu sync.Mutex

	// mu guards everything below.
	mu      sync.Mutex
	parts   []Participant
	path    string
	started bool
	live    map[uint64]*Generation
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
	s.track(g)
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

// Path returns the main configuration file.
func (s *Store) Path() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.path
}

// GenerationInfo describes a live generation for the generations listing.
type GenerationInfo struct {
	ID      uint64
	Created time.Time
	Refs    int64
	Current bool
}

// Generations lists the generations not yet retired, oldest first.
func (s *Store) Generations() []GenerationInfo {
	cur := s.cur.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]GenerationInfo, 0, len(s.live))
	for _, g := range s.live {
		out = append(out, GenerationInfo{ID: g.id, Created: g.created, Refs: g.refs.Load(), Current: g == cur})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Store) track(g *Generation) {
	s.mu.Lock()
	s.live[g.id] = g
	s.mu.Unlock()
	g.OnRetire(func() {
		s.mu.Lock()
		delete(s.live, g.id)
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

// Reload parses path (the store's path when empty) and commits it. On any
// error the current generation stays and the error lists every problem.
// The returned generation is held for the caller, who must Release it.
func (s *Store) Reload(path string) (*Generation, error) {
	if path == "" {
		path = s.Path()
	}
	tree, err := ParseFile(path)
	if err != nil {
		return nil, err
	}
	g, err := s.BeginTree(tree).Commit()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.path = path
	s.mu.Unlock()
	return g, nil
}

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
// participant prepare it, and makes it current with one atomic swap. If
// another commit happened since the transaction began, it fails with
// ErrConflict (the first commit wins). On any failure the current generation
// is untouched, every error is returned (an ErrorList), participants that
// prepared are told to Abort and the values built are freed. On success the
// new generation is returned held for the caller, who must Release it.
func (t *Txn) Commit() (*Generation, error) {
	if t.done {
		return nil, ErrTxnDone
	}
	t.done = true
	defer t.base.Release()
	s := t.s
	next, err := s.reg.Build(t.tree)
	if err != nil {
		return nil, err
	}
	next.id = t.base.id + 1

	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if s.cur.Load() != t.base {
		next.Release()
		return nil, fmt.Errorf("%w: generation %d was replaced by %d after this transaction began", ErrConflict, t.base.id, s.cur.Load().id)
	}
	s.mu.Lock()
	parts := append([]Participant(nil), s.parts...)
	started := s.started
	s.mu.Unlock()

	var errs ErrorList
	prepared := 0
	for _, p := range parts {
		prepared++
		if err := p.Prepare(t, next); err != nil {
			if !errors.Is(err, ErrRejected) {
				err = fmt.Errorf("%w: %w", ErrRejected, err)
			}
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		for _, p := range parts[:prepared] {
			p.Abort(next)
		}
		next.Release()
		return nil, errs
	}
	t.warnings = nil
	if started {
		t.warnings = notDynamicChanges(t.base, next)
		for _, w := range t.warnings {
			s.warnf("%s", w)
		}
	}
	prev := t.base
	next.refs.Add(1) // the store's reference; the other one is the caller's
	s.track(next)
	s.cur.Store(next)
	for _, p := range parts {
		p.Commit(prev, next)
	}
	prev.superseded.Store(true)
	prev.Release() // the store's reference
	return next, nil
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
