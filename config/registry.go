package config

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// elemKind tells the fetch functions which argument supplies a scope level's
// instance name.
type elemKind uint8

const (
	kindOther elemKind = iota
	kindBinding
	kindBindingGroup
	kindDomain
	kindHost
	kindPathway
	kindPathwayGroup
)

// ScopeDef defines a scope keyword.
type ScopeDef struct {
	// Keyword is the canonical spelling; matching is case-insensitive.
	Keyword string
	// Named scopes take an instance name: Domain "example.com" { }.
	Named bool
	// Parents are the keywords this scope may appear directly inside;
	// "Global" means the top level.
	Parents []string
	// Children are already-defined keywords that may appear directly inside
	// this scope (a listener module allows Listen and Peer, for example).
	Children []string
}

type scopeDef struct {
	keyword string
	named   bool
	core    bool
	kind    elemKind
}

// Registry holds the scope and option definitions that validation checks a
// Tree against. It is safe for concurrent use: modules define options during
// conf_setup while other goroutines fetch. A Registry only grows.
//
// An option is identified by its name and the scopes it is valid in (its
// fallback chains): one name may have several definitions as long as no scope
// is valid for two of them, so the option written at a scope path is always
// one definition or none.
type Registry struct {
	// mu guards scopes, nest, opts and list.
	mu     sync.RWMutex
	scopes map[string]*scopeDef
	nest   map[[2]string]bool // {parent, child} lower case; parent "" is top level
	// opts maps a lower-case option name to its definitions, in the order
	// defined. A slice is never appended to in place: a build's snapshot
	// shares them.
	opts map[string][]*optDef
	list []*optDef // by index
}

// The core scopes; a module scope is defined by whoever defines the module.
var coreScopes = []struct {
	def  ScopeDef
	kind elemKind
}{
	{ScopeDef{Keyword: "Binding_Group", Named: true, Parents: []string{"Global"}}, kindBindingGroup},
	{ScopeDef{Keyword: "Binding", Named: true, Parents: []string{"Global", "Binding_Group"}}, kindBinding},
	{ScopeDef{Keyword: "Domain", Named: true, Parents: []string{"Global", "Binding", "Binding_Group", "Pathway", "Pathway_Group"}}, kindDomain},
	{ScopeDef{Keyword: "Host", Named: true, Parents: []string{"Global", "Binding", "Binding_Group"}}, kindHost},
	{ScopeDef{Keyword: "Pathway_Group", Named: true, Parents: []string{"Global"}}, kindPathwayGroup},
	{ScopeDef{Keyword: "Listen", Named: true}, kindOther},
	{ScopeDef{Keyword: "Peer", Named: true, Parents: []string{"Listen"}}, kindOther},
	{ScopeDef{Keyword: "Pathway", Named: true, Parents: []string{"Global", "Pathway_Group", "Listen", "Peer"}}, kindPathway},
}

// NewRegistry returns a registry holding the core scopes (Global, Binding,
// Binding_Group, Domain, Host, Pathway, Pathway_Group, Peer, Listen) and the
// core options this package itself reads: Local_Changes_File and
// Local_Changes_Only.
func NewRegistry() *Registry {
	r := &Registry{
		scopes: make(map[string]*scopeDef),
		nest:   make(map[[2]string]bool),
		opts:   make(map[string][]*optDef),
	}
	// Two passes: a core scope may name as parent one defined after it.
	for _, c := range coreScopes {
		r.scopes[strings.ToLower(c.def.Keyword)] = &scopeDef{keyword: c.def.Keyword, named: c.def.Named, core: true, kind: c.kind}
	}
	for _, c := range coreScopes {
		if err := r.DefineScope(c.def); err != nil {
			panic(err) // the table above is wrong: a programmer error
		}
	}
	if _, err := Define(r, Spec[string]{Name: "Local_Changes_File", Fallback: "Global"}, StringType()); err != nil {
		panic(err)
	}
	if _, err := Define(r, Spec[bool]{Name: "Local_Changes_Only", Fallback: "Global", Default: "false"}, BoolType()); err != nil {
		panic(err)
	}
	return r
}

// DefineScope defines a scope keyword, or adds nesting rules to an existing
// one when Named agrees. Safe from any goroutine.
func (r *Registry) DefineScope(d ScopeDef) error {
	if d.Keyword == "" || needsQuote(d.Keyword) || isInclude(d.Keyword) {
		return fmt.Errorf("%w: scope keyword %q", ErrBadDefinition, d.Keyword)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	kw := strings.ToLower(d.Keyword)
	if kw == "global" {
		return fmt.Errorf("%w: scope %q is the top level", ErrDuplicate, d.Keyword)
	}
	if old, ok := r.scopes[kw]; ok && old.named != d.Named {
		return fmt.Errorf("%w: scope %q, named=%v", ErrDuplicate, d.Keyword, old.named)
	}
	for _, p := range d.Parents {
		pk := strings.ToLower(p)
		if pk == "global" {
			pk = ""
		} else if _, ok := r.scopes[pk]; !ok && pk != kw {
			return fmt.Errorf("%w: scope %q: parent %q is not defined", ErrBadDefinition, d.Keyword, p)
		}
	}
	for _, c := range d.Children {
		if _, ok := r.scopes[strings.ToLower(c)]; !ok && strings.ToLower(c) != kw {
			return fmt.Errorf("%w: scope %q: child %q is not defined", ErrBadDefinition, d.Keyword, c)
		}
	}
	if _, ok := r.scopes[kw]; !ok {
		r.scopes[kw] = &scopeDef{keyword: d.Keyword, named: d.Named}
	}
	for _, p := range d.Parents {
		pk := strings.ToLower(p)
		if pk == "global" {
			pk = ""
		}
		r.nest[[2]string{pk, kw}] = true
	}
	for _, c := range d.Children {
		r.nest[[2]string{kw, strings.ToLower(c)}] = true
	}
	return nil
}

// scopeLocked returns the definition of keyword. r.mu must be held.
func (r *Registry) scopeLocked(keyword string) *scopeDef {
	return r.scopes[strings.ToLower(keyword)]
}

// chain is one step of an option's fallback path: the scope levels from the
// top down (Binding_Group before Binding and Pathway_Group before Pathway are
// dropped: a binding's group follows from where the binding is declared).
type chain struct {
	elems []elem
	path  string // lower-case keywords joined by ":"; "" for Global
	named int    // how many elems are named
	// byID is set for the chains the hot fetches use most, Domain, Host,
	// Binding:Domain and the like: one or two levels, all named, the last a
	// Domain or Host. Their exact-name values are also kept by the
	// generation's number for the domain or host name (Generation.domainIDs),
	// so that a fetch hashes the name once, not once per chain. The first
	// of two levels is never a Domain or Host: its name is used as given.
	byID bool
}

// lastKind returns the kind of c's innermost level.
func (c *chain) lastKind() elemKind {
	if len(c.elems) == 0 {
		return kindOther
	}
	return c.elems[len(c.elems)-1].kind
}

type elem struct {
	kw    string // lower case
	canon string
	kind  elemKind
	named bool
}

// maxChain bounds a chain's depth; deeper listener nesting has no use.
const maxChain = 4

// parseFallbackLocked parses "Binding:Domain>Domain>Global" and returns the
// chains and the module scope they belong to: the lower-case keyword of the
// one module scope they name, "" when they name core scopes only. A module's
// chains may also name core scopes (its options may fall back to Domain or
// Global); naming the scopes of two modules is an error. r.mu must be held.
func (r *Registry) parseFallbackLocked(s string) ([]chain, string, error) {
	var chains []chain
	ns := ""
	for _, part := range strings.Split(s, ">") {
		part = strings.TrimSpace(part)
		wantAnon := false
		if strings.HasPrefix(part, "[") && strings.HasSuffix(part, "]") {
			part, wantAnon = part[1:len(part)-1], true
		}
		var c chain
		kws := strings.Split(part, ":")
		if strings.EqualFold(kws[0], "global") {
			kws = kws[1:]
		}
		for i, kw := range kws {
			d := r.scopeLocked(strings.TrimSpace(kw))
			if d == nil {
				return nil, "", fmt.Errorf("%w: fallback %q: scope %q is not defined", ErrBadDefinition, s, kw)
			}
			if i+1 < len(kws) {
				next := strings.ToLower(strings.TrimSpace(kws[i+1]))
				if d.kind == kindBindingGroup && next == "binding" || d.kind == kindPathwayGroup && next == "pathway" {
					continue
				}
			}
			c.elems = append(c.elems, elem{kw: strings.ToLower(d.keyword), canon: d.keyword, kind: d.kind, named: d.named})
			if d.named {
				c.named++
			}
		}
		if k := c.lastKind(); (k == kindDomain || k == kindHost) && c.named == len(c.elems) && c.named <= 2 &&
			(c.named == 1 || c.elems[0].kind != kindDomain && c.elems[0].kind != kindHost) {
			c.byID = true
		}
		if wantAnon && (len(c.elems) != 1 || c.elems[0].named) {
			return nil, "", fmt.Errorf("%w: fallback %q: [%s] needs one anonymous (singleton) scope", ErrBadDefinition, s, part)
		}
		if len(c.elems) > maxChain {
			return nil, "", fmt.Errorf("%w: fallback %q: more than %d levels", ErrBadDefinition, s, maxChain)
		}
		kwList := make([]string, len(c.elems))
		cns := ""
		for i, e := range c.elems {
			kwList[i] = e.kw
			if cns == "" && !r.scopes[e.kw].core {
				cns = e.kw
			}
		}
		c.path = strings.Join(kwList, ":")
		switch {
		case cns == "":
		case ns == "":
			ns = cns
		case ns != cns:
			return nil, "", fmt.Errorf("%w: fallback %q mixes the scopes of %s and %s", ErrBadDefinition, s, r.scopes[ns].keyword, r.scopes[cns].keyword)
		}
		for _, o := range chains {
			if o.path == c.path {
				return nil, "", fmt.Errorf("%w: fallback %q names %q twice", ErrBadDefinition, s, part)
			}
		}
		chains = append(chains, c)
	}
	return chains, ns, nil
}

// chainAt returns the index of d's chain whose path is path (lower-case
// keywords joined by ":", "" for Global), or -1 when d is not valid there.
func (d *optDef) chainAt(path string) int {
	for i := range d.chains {
		if d.chains[i].path == path {
			return i
		}
	}
	return -1
}

// defAt returns the definition among defs that is valid at path, and the
// index of its chain; nil and -1 when none is.
func defAt(defs []*optDef, path string) (*optDef, int) {
	for _, d := range defs {
		if ci := d.chainAt(path); ci >= 0 {
			return d, ci
		}
	}
	return nil, -1
}

// suggest returns the defined option name closest to name, for "did you
// mean": first among the options valid at path, then among all; "" when
// nothing is close. Ties go to the name first in sort order.
func suggest(opts map[string][]*optDef, path, name string) string {
	lname := strings.ToLower(name)
	for _, here := range []bool{true, false} {
		best, bestD := "", 3
		for k, defs := range opts {
			if here {
				if d, _ := defAt(defs, path); d == nil {
					continue
				}
			}
			if dist := editDistance(lname, k, 3); dist < 3 && (best == "" || dist < bestD || dist == bestD && defs[0].name < best) {
				best, bestD = defs[0].name, dist
			}
		}
		if best != "" {
			return best
		}
	}
	return ""
}

// editDistance is the Levenshtein distance of a and b, or max when it is at
// least max.
func editDistance(a, b string, max int) int {
	if d := len(a) - len(b); d >= max || -d >= max {
		return max
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], max)
}

// canonical returns the canonical spelling of an option name or scope keyword
// used below the scope path (keywords as written), or key itself when
// nothing is defined. Safe from any goroutine.
func (r *Registry) canonical(path []string, key string, scope bool) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if scope {
		if d := r.scopes[strings.ToLower(key)]; d != nil {
			return d.keyword
		}
		return key
	}
	defs := r.opts[strings.ToLower(key)]
	if len(defs) == 0 {
		return key
	}
	if d, _ := defAt(defs, strings.Join(normalisePath(r, path), ":")); d != nil {
		return d.name
	}
	return defs[0].name
}

// normalisePath lower-cases keywords and drops group levels directly above a
// binding or pathway. r.mu must be held (read).
func normalisePath(r *Registry, path []string) []string {
	out := make([]string, 0, len(path))
	for i, kw := range path {
		lk := strings.ToLower(kw)
		if i+1 < len(path) {
			next := strings.ToLower(path[i+1])
			if lk == "binding_group" && next == "binding" || lk == "pathway_group" && next == "pathway" {
				continue
			}
		}
		out = append(out, lk)
	}
	return out
}

// OptionNames returns the canonical names of every defined option, sorted,
// each name once however many definitions it has; for console completion
// and listings. Safe from any goroutine.
func (r *Registry) OptionNames() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.opts))
	for _, defs := range r.opts {
		out = append(out, defs[0].name)
	}
	sort.Strings(out)
	return out
}

// IsScope reports whether keyword is a defined scope keyword, and whether it
// is named. Safe from any goroutine.
func (r *Registry) IsScope(keyword string) (defined, named bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d := r.scopes[strings.ToLower(keyword)]
	if d == nil {
		return false, false
	}
	return true, d.named
}

// moduleInstance reports whether path is inside a named instance of a module
// scope (the console answers "Set" to those). Safe from any goroutine.
func (r *Registry) moduleInstance(path []ScopeRef) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, ref := range path {
		if d := r.scopeLocked(ref.Keyword); d != nil && !d.core {
			return d.named
		}
	}
	return false
}
