package config

import (
	"fmt"
	"sort"
	"strings"
)

// Spec is an option definition. T is the Go type of its values.
type Spec[T any] struct {
	// Name is the canonical spelling; matching is case-insensitive.
	Name string
	// Fallback lists, most specific first and separated by '>', the scopes
	// where the option may be set, each a ':'-separated chain of keywords
	// from the top level down: "Binding:Domain>Domain>Global". A singleton
	// module's own options use "[module]", a non-singleton's "module" (the
	// module's scope keyword, defined with DefineScope first); a module's
	// chains may end in core scopes and Global ("ESMTP_Listener>Global").
	// Fetch walks the list in order; the first scope that sets the option
	// wins, then Default. These scopes are also the option's identity:
	// another definition of the name must be valid in none of them. Binding_Group directly above Binding (and Pathway_Group above
	// Pathway) may be written but is implied: a binding's group is the one
	// it is declared in.
	Fallback string
	// NotDynamic marks an option that is read at start-up only: a change
	// committed after Store.MarkStarted is applied to the new generation but
	// produces a warning that a restart is needed.
	NotDynamic bool
	// Default is the value when no scope sets the option, in config syntax
	// ("0640", "( a b )"). Empty means the zero value of T.
	Default string
	// Validate checks a value beyond its type; its error rejects the
	// transaction, with the value's position. Called on the goroutine that
	// commits; it must not call Define.
	Validate func(v T) error
	// Postset is called for every value a new generation sets, after all
	// values validated and before participants prepare; its error rejects
	// the transaction. Same goroutine rules as Validate.
	Postset func(v T) error
	// Datafree releases what a value holds. It runs for every value of a
	// generation when the generation retires (superseded and released), or
	// when the transaction that built the value is rejected.
	Datafree func(v T)
}

// Option is the handle of a defined option; its methods fetch typed values
// from a Generation without allocating. A handle is valid for the life of
// the Registry and safe for concurrent use.
type Option[T any] struct {
	def  *optDef
	typ  Type[T]
	spec Spec[T]
	dflt T
}

// optDef is the untyped part of an option definition.
type optDef struct {
	index       int
	name        string
	ns          string // the module scope its chains name (lower case), "" for a core option
	chains      []chain
	notDynamic  bool
	typeName    string
	defaultText string
	impl        optImpl
}

// optImpl is what the untyped build and console code needs of an Option.
type optImpl interface {
	newBuilder() builder
	checkValue(v Value) error
	defaultString() string
	isArray() bool
}

// builder collects the values of one option while a Tree is validated.
type builder interface {
	add(u use) error
	finish() (optState, ErrorList)
	free()
}

// optState is one option's values in one Generation.
type optState interface {
	// lookup finds the slot the fallback walk selects; raw is the entry.
	lookupEntry(g *Generation, rs *refSet) (*Entry, bool)
	// at returns the entry set exactly at chain ci, key.
	at(ci int, key string) (*Entry, bool)
	signature() string
	free()
}

// use is one occurrence of an option in the merged tree.
type use struct {
	ci    int    // chain index
	key   string // instance names of the chain's named levels, joined by "\x00"
	first string // the first and last of those names
	last  string
	id    int32 // the number of last (Generation.domainIDs) for a byID chain, else -1
	entry *Entry
	regex bool // the last level's name is a /regex/
	hint  int  // how many values of this option the scope and its siblings hold, if counted
}

// Define registers an option in r and returns its handle. An option is its
// name and the scopes it is valid in (spec.Fallback): the same name may be
// defined again for scopes none of its other definitions is valid in (a
// module's Concurrency beside the thread pools', a module option that falls
// back to Global beside no core option of that name), and the definition in
// force at a scope is the one valid there. Two definitions valid in one
// scope are an error wrapping ErrDuplicate that names both and the scopes
// they share. Other programmer errors (bad fallback, bad default) wrap
// ErrBadDefinition. Safe from any goroutine.
func Define[T any](r *Registry, spec Spec[T], typ Type[T]) (*Option[T], error) {
	if spec.Name == "" || needsQuote(spec.Name) {
		return nil, fmt.Errorf("%w: option name %q", ErrBadDefinition, spec.Name)
	}
	if spec.Fallback == "" {
		spec.Fallback = "Global"
	}
	o := &Option[T]{typ: typ, spec: spec}
	if spec.Default != "" {
		v, err := ParseValue(spec.Default)
		if err != nil {
			return nil, fmt.Errorf("%w: option %s: default: %v", ErrBadDefinition, spec.Name, err)
		}
		if o.dflt, err = typ.Parse(v); err != nil {
			return nil, fmt.Errorf("%w: option %s: default %q: %v", ErrBadDefinition, spec.Name, spec.Default, err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	chains, ns, err := r.parseFallbackLocked(spec.Fallback)
	if err != nil {
		return nil, fmt.Errorf("option %s: %w", spec.Name, err)
	}
	lname := strings.ToLower(spec.Name)
	if _, clash := r.scopes[lname]; clash {
		return nil, fmt.Errorf("%w: option %s has the name of a scope", ErrBadDefinition, spec.Name)
	}
	def := &optDef{
		index: len(r.list), name: spec.Name, ns: ns, chains: chains,
		notDynamic: spec.NotDynamic, typeName: typ.Name(), defaultText: spec.Default, impl: o,
	}
	defs := r.opts[lname]
	for _, old := range defs {
		var shared []string
		for i := range old.chains {
			if def.chainAt(old.chains[i].path) >= 0 {
				shared = append(shared, describeChain(&old.chains[i]))
			}
		}
		if len(shared) > 0 {
			return nil, fmt.Errorf("%w: option %s %s overlaps option %s %s, defined before: both are valid in %s",
				ErrDuplicate, def.name, r.ownerLocked(def), old.name, r.ownerLocked(old), strings.Join(shared, ", "))
		}
	}
	o.def = def
	// A new slice, never an append in place: snapshots share the old one.
	r.opts[lname] = append(defs[:len(defs):len(defs)], def)
	r.list = append(r.list, def)
	return o, nil
}

// ownerLocked describes whose definition d is and where it is valid, for
// errors: "of the core scopes (valid in Domain, Global)" or "of scope
// ESMTP_Listener (valid in ...)". r.mu must be held.
func (r *Registry) ownerLocked(d *optDef) string {
	who := "of the core scopes"
	if d.ns != "" {
		who = "of scope " + r.scopes[d.ns].keyword
	}
	return who + " (valid in " + describeChains(d) + ")"
}

// MustDefine is Define that panics on error; for tests and for tables of
// definitions whose failure is a programmer error.
func MustDefine[T any](r *Registry, spec Spec[T], typ Type[T]) *Option[T] {
	o, err := Define(r, spec, typ)
	if err != nil {
		panic(err)
	}
	return o
}

// ParseValue parses text as one option value in config syntax: a word, a
// quoted string, an array or a dictionary.
func ParseValue(text string) (Value, error) {
	entries, err := parseText("", "v = "+text)
	if err != nil {
		return Value{}, err
	}
	if len(entries) != 1 || entries[0].Kind != OptionEntry {
		return Value{}, &Error{Kind: ErrSyntax, Msg: fmt.Sprintf("expected one value, got %q", text)}
	}
	v := entries[0].Value
	clearPos(&v)
	return v, nil
}

func clearPos(v *Value) {
	v.Pos = Pos{}
	for i := range v.Items {
		v.Items[i].Pos = Pos{}
	}
	for i := range v.Pairs {
		v.Pairs[i].Value.Pos = Pos{}
	}
}

// Name returns the option's canonical name.
func (o *Option[T]) Name() string { return o.def.name }

// Default returns the option's default value.
func (o *Option[T]) Default() T { return o.dflt }

func (o *Option[T]) defaultString() string {
	if o.spec.Default != "" {
		return o.spec.Default
	}
	return o.typ.Format(o.dflt)
}

func (o *Option[T]) isArray() bool {
	_, ok := o.typ.(interface{ isArray() })
	return ok
}

// slot is one value and the entry it came from.
type slot[T any] struct {
	v T
	e *Entry
}

type chainVals[T any] struct {
	m map[string]slot[T]
	// m2 holds the same values as m for a chain of two named levels that is
	// not byID, keyed level by level, so that the hot path looks up both
	// names as given instead of building a joined key.
	m2 map[string]map[string]slot[T]
	// byID (one level) and byID2 (two levels, by the first name) hold the
	// same values as m for a byID chain, by the number of the domain or
	// host name.
	byID  map[int32]slot[T]
	byID2 map[string]map[int32]slot[T]
	regex bool // some key's last name is a /regex/
}

// state is an Option's values in one generation. It is immutable once the
// generation is built.
type state[T any] struct {
	o         *Option[T]
	eff       T // global value if set, else the default
	globalSet bool
	global    slot[T]
	chains    []chainVals[T] // parallel to def.chains
	specific  bool           // some non-global chain holds a value
	// steps lists, in fallback order, the chains a fetch has to try: those
	// holding values, up to and including Global when it is set (nothing
	// after it can be reached), each with how to look it up. Built by
	// finish.
	steps []fetchStep[T]
}

// fetchStep is one chain of a fallback walk and how lookup searches it.
// It points at the chain and its values so that the walk does no indexing.
type fetchStep[T any] struct {
	c    *chain
	cv   *chainVals[T]
	last *elem // the chain's innermost level; nil for Global
	op   stepOp
}

type stepOp uint8

const (
	opGlobal   stepOp = iota
	opByID            // byID chain without /regex/ values, one level
	opByID2           // the same with two levels
	opTwoNames        // two named levels, not byID: m2
	opKey             // anything else: lookupKey
)

type optBuilder[T any] struct {
	st   *state[T]
	errs ErrorList
}

func (o *Option[T]) newBuilder() builder {
	return &optBuilder[T]{st: &state[T]{o: o, eff: o.dflt, chains: make([]chainVals[T], len(o.def.chains))}}
}

func (b *optBuilder[T]) add(u use) error {
	o := b.st.o
	v, err := o.typ.Parse(u.entry.Value)
	if err == nil && o.spec.Validate != nil {
		err = o.spec.Validate(v)
	}
	if err != nil {
		if e, ok := err.(*Error); ok {
			return &Error{Pos: e.Pos, Kind: e.Kind, Msg: o.def.name + ": " + e.Msg}
		}
		return &Error{Pos: u.entry.Value.Pos, Kind: ErrBadValue, Msg: o.def.name + ": " + err.Error()}
	}
	s := slot[T]{v: v, e: u.entry}
	if len(o.def.chains[u.ci].elems) == 0 {
		if b.st.globalSet && o.spec.Datafree != nil {
			o.spec.Datafree(b.st.global.v)
		}
		b.st.globalSet, b.st.global, b.st.eff = true, s, v
		return nil
	}
	cv := &b.st.chains[u.ci]
	if cv.m == nil {
		cv.m = make(map[string]slot[T], u.hint)
	}
	if old, ok := cv.m[u.key]; ok && o.spec.Datafree != nil {
		o.spec.Datafree(old.v)
	}
	cv.m[u.key] = s
	c := &o.def.chains[u.ci]
	switch {
	case u.id >= 0 && len(c.elems) == 1:
		if cv.byID == nil {
			cv.byID = make(map[int32]slot[T], u.hint)
		}
		cv.byID[u.id] = s
	case u.id >= 0:
		if cv.byID2 == nil {
			cv.byID2 = make(map[string]map[int32]slot[T])
		}
		inner := cv.byID2[u.first]
		if inner == nil {
			inner = make(map[int32]slot[T], u.hint)
			cv.byID2[u.first] = inner
		}
		inner[u.id] = s
	case c.named == 2 && len(c.elems) == 2 && !c.byID:
		if cv.m2 == nil {
			cv.m2 = make(map[string]map[string]slot[T])
		}
		inner := cv.m2[u.first]
		if inner == nil {
			inner = make(map[string]slot[T], u.hint)
			cv.m2[u.first] = inner
		}
		inner[u.last] = s
	}
	cv.regex = cv.regex || u.regex
	b.st.specific = true
	return nil
}

func (b *optBuilder[T]) finish() (optState, ErrorList) {
	o := b.st.o
	for ci := range o.def.chains {
		c, cv := &o.def.chains[ci], &b.st.chains[ci]
		sp := fetchStep[T]{c: c, cv: cv, op: opKey}
		if len(c.elems) > 0 {
			sp.last = &c.elems[len(c.elems)-1]
		}
		switch {
		case len(c.elems) == 0:
			if !b.st.globalSet {
				continue
			}
			sp.op = opGlobal
		case len(cv.m) == 0:
			continue
		case c.byID && !cv.regex && len(c.elems) == 1:
			sp.op = opByID
		case c.byID && !cv.regex:
			sp.op = opByID2
		case len(c.elems) == 2 && c.named == 2 && !c.byID:
			sp.op = opTwoNames
		}
		b.st.steps = append(b.st.steps, sp)
		if sp.op == opGlobal {
			break
		}
	}
	if o.spec.Postset != nil {
		b.st.each(func(s slot[T]) {
			if err := o.spec.Postset(s.v); err != nil {
				b.errs = append(b.errs, &Error{Pos: s.e.Pos, Kind: ErrRejected, Msg: o.def.name + ": " + err.Error()})
			}
		})
	}
	return b.st, b.errs
}

func (b *optBuilder[T]) free() { b.st.free() }

// each calls f for every value set, in a stable order.
func (st *state[T]) each(f func(slot[T])) {
	if st.globalSet {
		f(st.global)
	}
	for _, cv := range st.chains {
		keys := make([]string, 0, len(cv.m))
		for k := range cv.m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f(cv.m[k])
		}
	}
}

func (st *state[T]) free() {
	if st.o.spec.Datafree == nil {
		return
	}
	st.each(func(s slot[T]) { st.o.spec.Datafree(s.v) })
}

func (st *state[T]) signature() string {
	var b strings.Builder
	for ci := range st.chains {
		if len(st.o.def.chains[ci].elems) == 0 {
			continue
		}
		keys := make([]string, 0, len(st.chains[ci].m))
		for k := range st.chains[ci].m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%d/%s=%s;", ci, k, formatValue(st.chains[ci].m[k].e.Value))
		}
	}
	if st.globalSet {
		b.WriteString("global=" + formatValue(st.global.e.Value))
	}
	return b.String()
}

func (st *state[T]) at(ci int, key string) (*Entry, bool) {
	if len(st.o.def.chains[ci].elems) == 0 {
		return st.global.e, st.globalSet
	}
	s, ok := st.chains[ci].m[key]
	return s.e, ok
}

func (st *state[T]) lookupEntry(g *Generation, rs *refSet) (*Entry, bool) {
	s, ok := st.lookup(g, rs)
	if ok {
		return s.e, true
	}
	if st.globalSet {
		return st.global.e, true
	}
	return nil, false
}

// lookup walks the fallback chains for the scopes in rs, Global last.
// This is the hot path: it allocates nothing unless a name longer than 128
// bytes needs lower-casing, and its common shapes (one named level, two
// named levels, a Domain or Host last) look each name up once.
func (st *state[T]) lookup(g *Generation, rs *refSet) (slot[T], bool) {
	for i := range st.steps {
		sp := &st.steps[i]
		switch sp.op {
		case opGlobal:
			return st.global, true
		case opByID, opByID2:
			num := &rs.domainNum
			if sp.last.kind == kindHost {
				num = &rs.hostNum
			}
			if *num == 0 {
				*num = rs.number(g, sp.last)
			}
			if *num < 0 {
				continue // no exact stanza has the name: nothing set for it
			}
			if sp.op == opByID {
				if s, hit := sp.cv.byID[*num-1]; hit {
					return s, true
				}
			} else if n1, ok := rs.name(g, 0, &sp.c.elems[0]); ok {
				if s, hit := sp.cv.byID2[n1][*num-1]; hit {
					return s, true
				}
			}
		case opTwoNames:
			// A lookup per level, names as given, unless the first needs
			// lower-casing.
			n1, ok1 := rs.name(g, 0, &sp.c.elems[0])
			n2, ok2 := rs.name(g, 1, &sp.c.elems[1])
			if !ok1 || !ok2 {
				continue
			}
			if !rs.needsLower(&sp.c.elems[0], n1) {
				if s, hit := sp.cv.m2[n1][n2]; hit {
					return s, true
				}
				continue
			}
			if s, ok := st.lookupKey(g, rs, sp.c, sp.cv); ok {
				return s, true
			}
		default:
			if s, ok := st.lookupKey(g, rs, sp.c, sp.cv); ok {
				return s, true
			}
		}
	}
	var zero slot[T]
	return zero, false
}

// lookupKey is lookup's general case for one chain: the joined key of every
// named level, then the chain's /regex/ stanzas. It is a function of its own
// so that the common cases do not pay for its buffer.
func (st *state[T]) lookupKey(g *Generation, rs *refSet, c *chain, cv *chainVals[T]) (slot[T], bool) {
	var buf [128]byte
	if len(c.elems) == 1 && c.named == 1 {
		// One level (Domain, Binding, a module instance): the name is the
		// key, used in place unless it needs lower-casing.
		e := &c.elems[0]
		name, ok := rs.name(g, 0, e)
		if !ok {
			var zero slot[T]
			return zero, false
		}
		if rs.needsLower(e, name) {
			lower := appendLower(buf[:0], name)
			if s, hit := cv.m[string(lower)]; hit { // no allocation
				return s, true
			}
			name = string(lower) // only for the regex walk below
		} else if s, hit := cv.m[name]; hit {
			return s, true
		}
		if cv.regex {
			// A copy: the caller's string must not escape through the
			// regex walk, or every fetch would allocate its arguments.
			return st.regexLookup(g, c, cv, strings.Clone(name), 0)
		}
		var zero slot[T]
		return zero, false
	}
	key, last, ok := rs.key(g, c, buf[:0])
	if !ok {
		var zero slot[T]
		return zero, false
	}
	if s, hit := cv.m[string(key)]; hit {
		return s, true
	}
	if cv.regex {
		return st.regexLookup(g, c, cv, string(key), last)
	}
	var zero slot[T]
	return zero, false
}

// regexLookup resolves the last level of chain c by the /regex/ stanzas of
// its container, tried in file order, unless an exact stanza exists (exact
// names win even when they do not set the option).
func (st *state[T]) regexLookup(g *Generation, c *chain, cv *chainVals[T], key string, last int) (slot[T], bool) {
	prefix := key[:last]
	name := key[last:]
	ct := g.containers[containerKey{c.path, strings.TrimSuffix(prefix, "\x00")}]
	if ct == nil {
		var zero slot[T]
		return zero, false
	}
	if _, exact := ct.exact[name]; !exact {
		for _, rx := range ct.regex {
			if rx.re.MatchString(name) {
				s, ok := cv.m[prefix+rx.text]
				return s, ok
			}
		}
	}
	var zero slot[T]
	return zero, false
}

func (o *Option[T]) state(g *Generation) *state[T] {
	if g == nil || o.def.index >= len(g.states) {
		return nil
	}
	st, _ := g.states[o.def.index].(*state[T])
	return st
}

func (o *Option[T]) fetch(g *Generation, rs *refSet) T {
	st := o.state(g)
	if st == nil {
		return o.dflt
	}
	if st.specific {
		if s, ok := st.lookup(g, rs); ok {
			return s.v
		}
	}
	return st.eff
}

// Global returns the option's global value, or its default. g must be held
// (acquired) by the caller; any goroutine.
func (o *Option[T]) Global(g *Generation) T {
	if st := o.state(g); st != nil {
		return st.eff
	}
	return o.dflt
}

// Binding returns the value for a binding: the binding, then its
// binding_group, then further along the fallback path, then the default.
func (o *Option[T]) Binding(g *Generation, binding string) T {
	rs := refSet{outer: binding, has: hasBinding}
	return o.fetch(g, &rs)
}

// BindingDomain returns the value for a domain reached through a binding,
// following the fallback path (binding::domain, binding_group::domain,
// binding, domain, global as the option declares), then the default.
func (o *Option[T]) BindingDomain(g *Generation, binding, domain string) T {
	rs := refSet{outer: binding, inner: domain, has: hasBinding | hasDomain}
	return o.fetch(g, &rs)
}

// Domain returns the value for a domain: the Domain stanza (exact name, else
// the first /regex/ stanza that matches), then fallback, then default.
func (o *Option[T]) Domain(g *Generation, domain string) T {
	rs := refSet{inner: domain, has: hasDomain}
	return o.fetch(g, &rs)
}

// Host returns the value for a host, then fallback, then default.
func (o *Option[T]) Host(g *Generation, host string) T {
	rs := refSet{inner: host, has: hasHost}
	return o.fetch(g, &rs)
}

// BindingHost returns the value for a host reached through a binding.
func (o *Option[T]) BindingHost(g *Generation, binding, host string) T {
	rs := refSet{outer: binding, inner: host, has: hasBinding | hasHost}
	return o.fetch(g, &rs)
}

// Pathway returns the value for a pathway: the pathway, its pathway_group,
// then fallback, then default.
func (o *Option[T]) Pathway(g *Generation, pathway string) T {
	rs := refSet{outer: pathway, has: hasPathway}
	return o.fetch(g, &rs)
}

// PathwayDomain returns the value for a domain reached through a pathway.
func (o *Option[T]) PathwayDomain(g *Generation, pathway, domain string) T {
	rs := refSet{outer: pathway, inner: domain, has: hasPathway | hasDomain}
	return o.fetch(g, &rs)
}

// Module returns the value of a module option for a non-singleton module
// instance (or, with instance "", a singleton's), then default.
func (o *Option[T]) Module(g *Generation, instance string) T {
	rs := refSet{outer: instance, has: hasModule}
	return o.fetch(g, &rs)
}

// Fetch returns the value for an arbitrary set of scopes, for example
// Fetch(g, Ref("Listen", ":25"), Ref("Peer", "10.0.0.0/8")). Each scope
// level of a fallback chain takes its instance name from the ref with the
// same keyword; Binding_Group and Pathway_Group follow from the binding or
// pathway when not given; anonymous levels need no ref.
func (o *Option[T]) Fetch(g *Generation, refs ...ScopeRef) T {
	rs := refSet{extra: refs, has: hasExtra}
	return o.fetch(g, &rs)
}

// Lookup is Fetch that also reports where the value came from: the entry's
// position, and false when the default applies.
func (o *Option[T]) Lookup(g *Generation, refs ...ScopeRef) (T, Pos, bool) {
	st := o.state(g)
	if st == nil {
		return o.dflt, Pos{}, false
	}
	rs := refSet{extra: refs, has: hasExtra}
	if s, ok := st.lookup(g, &rs); ok {
		return s.v, s.e.Pos, true
	}
	if st.globalSet {
		return st.global.v, st.global.e.Pos, true
	}
	return o.dflt, Pos{}, false
}
