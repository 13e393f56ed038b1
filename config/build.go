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
	opts   map[optKey]*optDef
	list   []*optDef
}

func (r *Registry) snapshot() *snapshot {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := &snapshot{
		scopes: make(map[string]*scopeDef, len(r.scopes)),
		nest:   make(map[[2]string]bool, len(r.nest)),
		opts:   make(map[optKey]*optDef, len(r.opts)),
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

func (s *snapshot) namespace(norm []pathElem) string {
	for _, p := range norm {
		if d := s.scopes[p.kw]; d != nil && !d.core {
			return p.kw
		}
	}
	return ""
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
}

// Build validates tree against r and returns a Generation holding one
// reference (the caller's), or every error found. Build never returns a
// partially built generation: on error the values already parsed are freed
// (Datafree). Safe from any goroutine; Validate and Postset callbacks run on
// the calling goroutine.
func (r *Registry) Build(tree *Tree) (*Generation, error) {
	b := &genBuilder{
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
	b.walk(tree.Root(), nil, nil)
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

func (b *genBuilder) walk(s *Scope, full, norm []pathElem) {
	if len(s.Options) > 0 {
		b.options(s, full, norm)
	}
	for _, c := range s.Children {
		b.child(c, full, norm)
	}
}

func (b *genBuilder) options(s *Scope, full, norm []pathElem) {
	kws := make([]string, len(norm))
	for i, p := range norm {
		kws[i] = p.kw
	}
	path := strings.Join(kws, ":")
	ns := b.snap.namespace(norm)
	// The key is the same for every option of the scope.
	var key strings.Builder
	first := true
	regex := false
	for _, p := range norm {
		if !p.named {
			continue
		}
		if !first {
			key.WriteByte(0)
		}
		first = false
		regex = false
		if (p.kind == kindDomain || p.kind == kindHost) && !isRegexName(p.name) {
			key.WriteString(strings.ToLower(p.name))
		} else {
			key.WriteString(p.name)
			regex = p.kind == kindDomain || p.kind == kindHost
		}
	}
	k := key.String()
	for _, e := range s.Options {
		def := b.snap.opts[optKey{ns, strings.ToLower(e.Key)}]
		if def == nil {
			b.unknownOption(e, ns, full)
			continue
		}
		ci := -1
		for i := range def.chains {
			if def.chains[i].path == path {
				ci = i
				break
			}
		}
		if ci < 0 {
			b.fail(e.Pos, ErrMisplaced, "option %s is not valid in scope %s (valid in: %s)", def.name, describePath(full), describeChains(def))
			continue
		}
		if b.builders[def.index] == nil {
			b.builders[def.index] = def.impl.newBuilder()
		}
		if err := b.builders[def.index].add(use{ci: ci, key: k, entry: e, regex: regex}); err != nil {
			b.errs = append(b.errs, err)
		}
	}
}

func describeChains(d *optDef) string {
	parts := make([]string, len(d.chains))
	for i, c := range d.chains {
		if len(c.elems) == 0 {
			parts[i] = "Global"
			continue
		}
		kws := make([]string, len(c.elems))
		for j, e := range c.elems {
			kws[j] = e.canon
		}
		parts[i] = strings.Join(kws, ":")
	}
	return strings.Join(parts, ", ")
}

func (b *genBuilder) unknownOption(e *Entry, ns string, full []pathElem) {
	if d := b.snap.scopes[strings.ToLower(e.Key)]; d != nil {
		b.fail(e.Pos, ErrSyntax, "%s is a scope: expected %s { ... }", d.keyword, map[bool]string{true: d.keyword + ` "name"`, false: d.keyword}[d.named])
		return
	}
	msg := fmt.Sprintf("unknown option %q in scope %s", e.Key, describePath(full))
	best, bestD := "", 3
	for k, d := range b.snap.opts {
		if k.ns != ns {
			continue
		}
		if dist := editDistance(strings.ToLower(e.Key), k.name, 3); dist < 3 && (best == "" || dist < bestD || dist == bestD && d.name < best) {
			best, bestD = d.name, dist
		}
	}
	if best != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", best)
	}
	b.errs = append(b.errs, &Error{Pos: e.Pos, Kind: ErrUnknownOption, Msg: msg})
}

func (b *genBuilder) child(c *Scope, full, norm []pathElem) {
	kw := strings.ToLower(c.Keyword)
	d := b.snap.scopes[kw]
	if d == nil {
		if _, isOpt := b.snap.opts[optKey{b.snap.namespace(norm), kw}]; isOpt {
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
	pe := pathElem{kw: kw, canon: d.keyword, name: c.Name, named: d.named, kind: d.kind}
	nfull := append(full[:len(full):len(full)], pe)
	nnorm := norm[:len(norm):len(norm)]
	switch d.kind {
	case kindBinding, kindPathway:
		groups := b.gen.bindingGroup
		groupKind := kindBindingGroup
		if d.kind == kindPathway {
			groups, groupKind = b.gen.pathwayGroup, kindPathwayGroup
		}
		if n := len(nnorm); n > 0 && nnorm[n-1].kind == groupKind {
			grp := nnorm[n-1].name
			if old, ok := groups[c.Name]; ok && old != grp {
				b.fail(c.Pos, ErrMisplaced, "%s %q is declared in groups %q and %q", d.keyword, c.Name, old, grp)
				return
			}
			groups[c.Name] = grp
			// Full slice expression: the append below must not overwrite
			// the group level that the parent's siblings still see.
			nnorm = nnorm[: n-1 : n-1]
		}
	case kindDomain, kindHost:
		b.index(c, nnorm, pe)
	}
	nnorm = append(nnorm, pe)
	b.walk(c, nfull, nnorm)
}

// index records a Domain or Host stanza in its container for regex
// resolution.
func (b *genBuilder) index(c *Scope, norm []pathElem, pe pathElem) {
	kws := make([]string, 0, len(norm)+1)
	var names []string
	for _, p := range norm {
		kws = append(kws, p.kw)
		if p.named {
			names = append(names, p.name)
		}
	}
	kws = append(kws, pe.kw)
	ck := containerKey{path: strings.Join(kws, ":"), prefix: strings.Join(names, "\x00")}
	ct := b.gen.containers[ck]
	if ct == nil {
		ct = &container{exact: make(map[string]struct{})}
		b.gen.containers[ck] = ct
	}
	if !isRegexName(c.Name) {
		ct.exact[strings.ToLower(c.Name)] = struct{}{}
		return
	}
	re, err := regexp.Compile(c.Name[1 : len(c.Name)-1])
	if err != nil {
		b.fail(c.Pos, ErrBadValue, "%s %s: expected a regular expression: %v", pe.canon, quote(c.Name), err)
		return
	}
	ct.regex = append(ct.regex, regexStanza{text: c.Name, re: re})
}
