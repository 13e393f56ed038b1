package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// snapshot is a consistent copy of the registry's definitions, taken once
// per build so that user callbacks (Validate, Postset) run without the
// registry lock and definitions added meanwhile do not change a build
// half-way.
type snapshot struct {
	scopes map[string]*scopeDef
	nest   map[[2]string]bool
	opts   map[string][]*optDef
	list   []*optDef
}

func (r *Registry) snapshot() *snapshot {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := &snapshot{
		scopes: make(map[string]*scopeDef, len(r.scopes)),
		nest:   make(map[[2]string]bool, len(r.nest)),
		opts:   make(map[string][]*optDef, len(r.opts)),
		list:   append([]*optDef(nil), r.list...),
	}
	for k, v := range r.scopes {
		s.scopes[k] = v
	}
	for k, v := range r.nest {
		s.nest[k] = v
	}
	for k, v := range r.opts {
		s.opts[k] = v
	}
	return s
}

// pathElem is one scope level during the validation walk.
type pathElem struct {
	kw    string // lower case
	canon string
	name  string
	named bool
	kind  elemKind
}

type genBuilder struct {
	snap     *snapshot
	gen      *Generation
	builders []builder
	errs     ErrorList
	// defs caches option lookups by scope path and name as written: a file
	// spells the same few names thousands of times, and lower-casing each
	// one to look it up would allocate.
	defs map[[2]string]defHit
	lc   lowerCache
	// lastCk and lastCt are the container index used last.
	lastCk containerKey
	lastCt *container
}

// defHit is the result of looking an option name up at a scope path: the
// definition valid there and its chain, or, when none is, every definition of
// the name (nil for an unknown name).
type defHit struct {
	def *optDef
	ci  int
	all []*optDef
}

// level is what the validation walk knows about the scope it is in, worked
// out once per scope rather than once per option.
type level struct {
	full []pathElem // every scope level from the top, as written
	norm []pathElem // full without group levels directly above a binding or pathway
	// path is norm's keywords joined by ":", the chain an option set here
	// belongs to; key is norm's instance names joined by NUL, Domain and
	// Host names lower-cased unless /regex/; raw is the same names as
	// written; regex reports whether the last name is a Domain or Host
	// /regex/.
	path  string
	key   string
	raw   string
	named int // how many levels of norm are named
	regex bool
	// first and last are the first and last instance names of key.
	first, last string
	// id is the number of last when the scope is an exact Domain or Host
	// stanza (Generation.domainIDs), else -1.
	id int32
}

// extend returns the level of a scope pe directly inside lv (lv.norm being
// the norm it extends, after any group level was dropped).
func (b *genBuilder) extend(lv level, full []pathElem, pe pathElem) level {
	out := level{full: full, path: pe.kw, key: lv.key, raw: lv.raw, named: lv.named, regex: lv.regex, first: lv.first, last: lv.last, id: -1}
	out.norm = append(lv.norm[:len(lv.norm):len(lv.norm)], pe)
	if lv.path != "" {
		out.path = lv.path + ":" + pe.kw
	}
	if !pe.named {
		return out
	}
	name := pe.name
	out.regex = false
	if pe.kind == kindDomain || pe.kind == kindHost {
		if isRegexName(name) {
			out.regex = true
		} else {
			name = strings.ToLower(name)
		}
	}
	out.last = name
	if out.named == 0 {
		out.key, out.raw, out.first = name, pe.name, name
	} else {
		out.key = lv.key + "\x00" + name
		out.raw = lv.raw + "\x00" + pe.name
	}
	out.named++
	return out
}

// levelOf works out the level of norm from scratch; the walk uses it after
// dropping a group level, which extend cannot undo.
func (b *genBuilder) levelOf(full, norm []pathElem) level {
	lv := level{}
	for i := range norm {
		lv = b.extend(lv, full, norm[i])
	}
	lv.full = full
	lv.norm = norm
	return lv
}

// lookupDef looks option key (as written) up at the scope path path.
func (b *genBuilder) lookupDef(path, key string) defHit {
	k := [2]string{path, key}
	if h, ok := b.defs[k]; ok {
		return h
	}
	h := defHit{all: b.snap.opts[strings.ToLower(key)]}
	h.def, h.ci = defAt(h.all, path)
	b.defs[k] = h
	return h
}

// Build validates tree against r and returns a Generation holding one
// reference (the caller's), or every error found. Build never returns a
// partially built generation: on error the values already parsed are freed
// (Datafree). Safe from any goroutine; Validate and Postset callbacks run on
// the calling goroutine.
func (r *Registry) Build(tree *Tree) (*Generation, error) {
	b := &genBuilder{
		defs: make(map[[2]string]defHit),
		lc:   make(lowerCache),
		snap: r.snapshot(),
		gen: &Generation{
			tree:         tree,
			created:      time.Now(),
			bindingGroup: make(map[string]string),
			pathwayGroup: make(map[string]string),
			containers:   make(map[containerKey]*container),
		},
	}
	b.builders = make([]builder, len(b.snap.list))
	b.walk(tree.Root(), level{id: -1}, scopeHints{})
	b.gen.states = make([]optState, len(b.snap.list))
	for i, bl := range b.builders {
		if bl == nil {
			continue
		}
		st, errs := bl.finish()
		b.gen.states[i] = st
		b.errs = append(b.errs, errs...)
	}
	if len(b.errs) > 0 {
		for _, bl := range b.builders {
			if bl != nil {
				bl.free()
			}
		}
		return nil, b.errs
	}
	b.gen.refs.Store(1)
	return b.gen, nil
}

func (b *genBuilder) fail(pos Pos, kind error, format string, args ...any) {
	b.errs = append(b.errs, errorf(pos, kind, format, args...))
}

func describePath(p []pathElem) string {
	if len(p) == 0 {
		return "Global"
	}
	parts := make([]string, 0, 2*len(p))
	for _, e := range p {
		parts = append(parts, e.canon)
		if e.named {
			parts = append(parts, quote(e.name))
		}
	}
	return strings.Join(parts, " ")
}

// walk validates the options of s, whose level is lv, and walks its
// children. hint gives the size hints for the options of s.
func (b *genBuilder) walk(s *Scope, lv level, hint scopeHints) {
	if len(s.Options) > 0 {
		b.options(s, lv, hint)
	}
	var hints sizeHints
	if len(s.Children) >= minHinted {
		hints = b.hintsFor(s.Children)
	}
	for _, c := range s.Children {
		b.child(c, lv, len(s.Children), hints)
	}
}

// sizeHints counts, over the child scopes of one scope, how many of each
// keyword set each option name (as written), so that the maps the values
// go in are made at their final size instead of growing through every
// power of two. Counting costs one small-map update per option; growing a
// map of thousands of values rehashes it a dozen times.
type sizeHints map[[2]string]int

// scopeHints are the size hints for the options of one scope: those of its
// keyword among the counts of its parent's children.
type scopeHints struct {
	h  sizeHints // nil when not counted
	kw string
}

func (sh scopeHints) count(key string) int {
	if sh.h == nil {
		return 0
	}
	return sh.h[[2]string{sh.kw, key}]
}

// minHinted is the number of child scopes from which counting pays.
const minHinted = 32

func (b *genBuilder) hintsFor(children []*Scope) sizeHints {
	h := make(sizeHints)
	for _, c := range children {
		kw := b.lc.lower(c.Keyword)
		for _, e := range c.Options {
			h[[2]string{kw, e.Key}]++
		}
	}
	return h
}

func (b *genBuilder) options(s *Scope, lv level, hint scopeHints) {
	for _, e := range s.Options {
		hit := b.lookupDef(lv.path, e.Key)
		def, ci := hit.def, hit.ci
		if def == nil {
			if len(hit.all) == 0 {
				b.unknownOption(e, lv.path, lv.full)
			} else {
				b.fail(e.Pos, ErrMisplaced, "option %s is not valid in scope %s (valid in: %s)", hit.all[0].name, describePath(lv.full), describeDefs(hit.all))
			}
			continue
		}
		if b.builders[def.index] == nil {
			b.builders[def.index] = def.impl.newBuilder()
		}
		u := use{ci: ci, key: lv.key, first: lv.first, last: lv.last, entry: e, regex: lv.regex, id: -1, hint: hint.count(e.Key)}
		if def.chains[ci].byID {
			u.id = lv.id
		}
		if err := b.builders[def.index].add(u); err != nil {
			b.errs = append(b.errs, err)
		}
	}
}

// describeChain writes a chain as its keywords joined by ':', or "Global".
func describeChain(c *chain) string {
	if len(c.elems) == 0 {
		return "Global"
	}
	kws := make([]string, len(c.elems))
	for j, e := range c.elems {
		kws[j] = e.canon
	}
	return strings.Join(kws, ":")
}

// describeChains lists where d is valid, most specific first.
func describeChains(d *optDef) string {
	parts := make([]string, len(d.chains))
	for i := range d.chains {
		parts[i] = describeChain(&d.chains[i])
	}
	return strings.Join(parts, ", ")
}

// describeDefs lists where any of defs (definitions of one name) is valid.
func describeDefs(defs []*optDef) string {
	parts := make([]string, len(defs))
	for i, d := range defs {
		parts[i] = describeChains(d)
	}
	return strings.Join(parts, ", ")
}

func (b *genBuilder) unknownOption(e *Entry, path string, full []pathElem) {
	if d := b.snap.scopes[strings.ToLower(e.Key)]; d != nil {
		b.fail(e.Pos, ErrSyntax, "%s is a scope: expected %s { ... }", d.keyword, map[bool]string{true: d.keyword + ` "name"`, false: d.keyword}[d.named])
		return
	}
	msg := fmt.Sprintf("unknown option %q in scope %s", e.Key, describePath(full))
	if best := suggest(b.snap.opts, path, e.Key); best != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", best)
	}
	b.errs = append(b.errs, &Error{Pos: e.Pos, Kind: ErrUnknownOption, Msg: msg})
}

// child validates the scope c found in lv and walks it. siblings is how
// many scopes lv holds, to size indexes once.
func (b *genBuilder) child(c *Scope, lv level, siblings int, hints sizeHints) {
	kw := b.lc.lower(c.Keyword)
	full, norm := lv.full, lv.norm
	d := b.snap.scopes[kw]
	if d == nil {
		if len(b.snap.opts[kw]) > 0 {
			b.fail(c.Pos, ErrSyntax, "%s is an option, not a scope: expected %s = value", c.Keyword, c.Keyword)
			return
		}
		b.fail(c.Pos, ErrUnknownScope, "unknown scope %q in %s", c.Keyword, describePath(full))
		return
	}
	parent := ""
	if len(full) > 0 {
		parent = full[len(full)-1].kw
	}
	if !b.snap.nest[[2]string{parent, kw}] {
		b.fail(c.Pos, ErrMisplaced, "scope %s may not appear in %s", d.keyword, describePath(full))
		return
	}
	if d.named != c.Named {
		if d.named {
			b.fail(c.Pos, ErrSyntax, `scope %s needs an instance name: expected %s "name" { ... }`, d.keyword, d.keyword)
		} else {
			b.fail(c.Pos, ErrSyntax, "scope %s takes no instance name: expected %s { ... }", d.keyword, d.keyword)
		}
		return
	}
	hint := scopeHints{hints, kw}
	pe := pathElem{kw: kw, canon: d.keyword, name: c.Name, named: d.named, kind: d.kind}
	nfull := append(full[:len(full):len(full)], pe)
	switch d.kind {
	case kindBinding, kindPathway:
		groups := b.gen.bindingGroup
		groupKind := kindBindingGroup
		if d.kind == kindPathway {
			groups, groupKind = b.gen.pathwayGroup, kindPathwayGroup
		}
		if n := len(norm); n > 0 && norm[n-1].kind == groupKind {
			grp := norm[n-1].name
			if old, ok := groups[c.Name]; ok && old != grp {
				b.fail(c.Pos, ErrMisplaced, "%s %q is declared in groups %q and %q", d.keyword, c.Name, old, grp)
				return
			}
			groups[c.Name] = grp
			// Full slice expression: extend's append must not overwrite
			// the group level that the parent's siblings still see.
			lv = b.levelOf(full, norm[:n-1:n-1])
		}
	case kindDomain, kindHost:
		id := b.index(c, lv, pe, siblings)
		clv := b.extend(lv, nfull, pe)
		clv.id = id
		b.walk(c, clv, hint)
		return
	}
	b.walk(c, b.extend(lv, nfull, pe), hint)
}

// index records a Domain or Host stanza in its container (lv, the scope it
// is in) for regex resolution, and numbers an exact stanza's name; it
// returns the number, or -1 for a /regex/ stanza.
func (b *genBuilder) index(c *Scope, lv level, pe pathElem, siblings int) int32 {
	path := pe.kw
	if lv.path != "" {
		path = lv.path + ":" + pe.kw
	}
	ck := containerKey{path: path, prefix: lv.raw}
	ct := b.lastCt
	if ct == nil || b.lastCk != ck {
		// Stanzas come in runs in the same container: look it up once a run.
		ct = b.gen.containers[ck]
		if ct == nil {
			ct = &container{exact: make(map[string]struct{}, siblings)}
			b.gen.containers[ck] = ct
		}
		b.lastCk, b.lastCt = ck, ct
	}
	if !isRegexName(c.Name) {
		name := strings.ToLower(c.Name)
		ct.exact[name] = struct{}{}
		ids := &b.gen.domainIDs
		if pe.kind == kindHost {
			ids = &b.gen.hostIDs
		}
		if *ids == nil {
			*ids = make(map[string]int32, siblings)
		}
		id, ok := (*ids)[name]
		if !ok {
			id = int32(len(*ids))
			(*ids)[name] = id
		}
		return id
	}
	re, err := regexp.Compile(c.Name[1 : len(c.Name)-1])
	if err != nil {
		b.fail(c.Pos, ErrBadValue, "%s %s: expected a regular expression: %v", pe.canon, quote(c.Name), err)
		return -1
	}
	ct.regex = append(ct.regex, regexStanza{text: c.Name, re: re})
	return -1
}
