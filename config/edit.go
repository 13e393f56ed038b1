package config

import (
	"fmt"
	"strings"
)

// step is one validated scope level of a console or API scope path.
type step struct {
	kw    string // canonical keyword
	name  string
	named bool
}

// resolvePath checks that path names defined scopes, nested as allowed, and
// returns the canonical steps and the option definition for name ("" for
// none). Safe from any goroutine.
func (r *Registry) resolvePath(path []ScopeRef, name string) ([]step, *optDef, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	steps := make([]step, 0, len(path))
	parent := ""
	kws := make([]string, 0, len(path))
	for _, ref := range path {
		d := r.scopeLocked(ref.Keyword)
		if d == nil {
			return nil, nil, fmt.Errorf("%w: %q", ErrUnknownScope, ref.Keyword)
		}
		kw := strings.ToLower(d.keyword)
		if !r.nest[[2]string{parent, kw}] {
			where := "the top level"
			if parent != "" {
				where = r.scopes[parent].keyword
			}
			return nil, nil, fmt.Errorf("%w: scope %s may not appear in %s", ErrMisplaced, d.keyword, where)
		}
		if d.named && ref.Name == "" {
			return nil, nil, fmt.Errorf("%w: scope %s needs an instance name", ErrUsage, d.keyword)
		}
		if !d.named && ref.Name != "" {
			return nil, nil, fmt.Errorf("%w: scope %s takes no instance name", ErrUsage, d.keyword)
		}
		steps = append(steps, step{kw: d.keyword, name: ref.Name, named: d.named})
		kws = append(kws, d.keyword)
		parent = kw
	}
	if name == "" {
		return steps, nil, nil
	}
	at := strings.Join(normalisePath(r, kws), ":")
	defs := r.opts[strings.ToLower(name)]
	if def, _ := defAt(defs, at); def != nil {
		return steps, def, nil
	}
	if len(defs) == 0 {
		msg := fmt.Sprintf("%q in scope %q", name, scopePathString(path))
		if s := suggest(r.opts, at, name); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		return nil, nil, fmt.Errorf("%w: %s", ErrUnknownOption, msg)
	}
	return nil, nil, fmt.Errorf("%w: option %s in scope %q (valid in: %s)", ErrMisplaced, defs[0].name, scopePathString(path), describeDefs(defs))
}

// checkValue parses and validates v as def's type, then frees it.
func (o *Option[T]) checkValue(v Value) error {
	x, err := o.typ.Parse(v)
	if err == nil && o.spec.Validate != nil {
		err = o.spec.Validate(x)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrBadValue, o.def.name, err)
	}
	if o.spec.Datafree != nil {
		o.spec.Datafree(x)
	}
	return nil
}

// Set assigns v to option name in the scope path (empty for Global) in the
// working tree, after checking the path, the name and the value. Where the
// assignment is written follows the writeback rules: the local-changes file
// when Local_Changes_Only is on; else in place of the last definition when
// that file is writable; else in the first writable file that defines the
// scope; else the local-changes file. It returns the option's canonical
// name.
func (t *Txn) Set(path []ScopeRef, name string, v Value) (string, error) {
	if t.done {
		return "", ErrTxnDone
	}
	steps, def, err := t.s.reg.resolvePath(path, name)
	if err != nil {
		return "", err
	}
	if err := def.impl.checkValue(v); err != nil {
		return "", err
	}
	t.tree.setOption(steps, def.name, v, t.tree.localOnly())
	t.replay = append(t.replay, joinWords("set", scopePathString(path), def.name, formatValue(v)))
	return def.name, nil
}

// Unset removes option name from the scope path, or with name "" the whole
// scope and its children (not Global). Definitions in read-only files
// cannot be removed: ErrReadonly.
func (t *Txn) Unset(path []ScopeRef, name string) (string, error) {
	if t.done {
		return "", ErrTxnDone
	}
	if name == "" && len(path) == 0 {
		return "", fmt.Errorf("%w: the global scope cannot be cleared", ErrUsage)
	}
	steps, def, err := t.s.reg.resolvePath(path, name)
	if err != nil {
		return "", err
	}
	canon := ""
	if def != nil {
		canon = def.name
		err = t.tree.unsetOption(steps, canon)
	} else {
		err = t.tree.unsetScope(steps)
	}
	if err != nil {
		return "", err
	}
	t.replay = append(t.replay, joinWords("unset", scopePathString(path), canon))
	return canon, nil
}

// localOnly reports whether the tree sets Local_Changes_Only to a true value.
func (t *Tree) localOnly() bool {
	e := t.Root().Option("Local_Changes_Only")
	if e == nil {
		return false
	}
	b, err := boolType{}.Parse(e.Value)
	return err == nil && b
}

// site is a body (a file's top level or a scope's entries) at a scope path.
type site struct {
	file *File
	body *[]*Entry
}

// sites calls f for every body of t, in file order, with its scope path.
func (t *Tree) sites(f func(s site, path []step)) {
	var walk func(file *File, body *[]*Entry, path []step)
	walk = func(file *File, body *[]*Entry, path []step) {
		f(site{file, body}, path)
		for _, e := range *body {
			switch e.Kind {
			case ScopeEntry:
				walk(file, &e.Body, append(path[:len(path):len(path)], step{kw: e.Key, name: e.Name, named: e.Named}))
			case IncludeEntry:
				for _, inc := range e.Files {
					walk(inc, &inc.Entries, path)
				}
			}
		}
	}
	if t.Main != nil {
		walk(t.Main, &t.Main.Entries, nil)
	}
	if t.Local != nil {
		walk(t.Local, &t.Local.Entries, nil)
	}
}

func stepsEqual(a, b []step) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i].kw, b[i].kw) || a[i].named != b[i].named || a[i].name != b[i].name {
			return false
		}
	}
	return true
}

type optSite struct {
	site
	idx int
}

func (t *Tree) findOption(path []step, name string) (occ []optSite, stanzas []site) {
	t.sites(func(s site, p []step) {
		if !stepsEqual(p, path) {
			return
		}
		stanzas = append(stanzas, s)
		for i, e := range *s.body {
			if e.Kind == OptionEntry && strings.EqualFold(e.Key, name) {
				occ = append(occ, optSite{s, i})
			}
		}
	})
	return occ, stanzas
}

func (t *Tree) setOption(path []step, name string, v Value, localOnly bool) {
	if !localOnly {
		occ, stanzas := t.findOption(path, name)
		if n := len(occ); n > 0 && !occ[n-1].file.Readonly {
			o := occ[n-1]
			e := *(*o.body)[o.idx]
			e.Value = v
			(*o.body)[o.idx] = &e
			o.file.dirty = true
			return
		}
		if len(occ) == 0 {
			for _, s := range stanzas {
				if !s.file.Readonly {
					*s.body = append(*s.body, &Entry{Kind: OptionEntry, Key: name, Value: v})
					s.file.dirty = true
					return
				}
			}
		}
	}
	// The local-changes file is read last, so what it sets wins over a
	// definition in a read-only file.
	local := t.ensureLocal()
	body := &local.Entries
	for _, st := range path {
		var found *Entry
		for _, e := range *body {
			if e.Kind == ScopeEntry && strings.EqualFold(e.Key, st.kw) && e.Named == st.named && e.Name == st.name {
				found = e
			}
		}
		if found == nil {
			found = &Entry{Kind: ScopeEntry, Key: st.kw, Name: st.name, Named: st.named}
			*body = append(*body, found)
		}
		body = &found.Body
	}
	for i, e := range *body {
		if e.Kind == OptionEntry && strings.EqualFold(e.Key, name) {
			n := *e
			n.Value = v
			(*body)[i] = &n
			local.dirty = true
			return
		}
	}
	*body = append(*body, &Entry{Kind: OptionEntry, Key: name, Value: v})
	local.dirty = true
}

func (t *Tree) ensureLocal() *File {
	if t.Local == nil {
		t.Local = &File{Path: t.LocalPath}
		t.Files = append(t.Files, t.Local)
	}
	return t.Local
}

func (t *Tree) unsetOption(path []step, name string) error {
	occ, _ := t.findOption(path, name)
	for _, o := range occ {
		if o.file.Readonly {
			return fmt.Errorf("%w: %s is set in %s", ErrReadonly, name, o.file.Path)
		}
	}
	// Remove from the end so that earlier indexes in the same body stay valid.
	for i := len(occ) - 1; i >= 0; i-- {
		o := occ[i]
		*o.body = append((*o.body)[:o.idx:o.idx], (*o.body)[o.idx+1:]...)
		o.file.dirty = true
	}
	return nil
}

func (t *Tree) unsetScope(path []step) error {
	parent, last := path[:len(path)-1], path[len(path)-1]
	var found []optSite
	t.sites(func(s site, p []step) {
		if !stepsEqual(p, parent) {
			return
		}
		for i, e := range *s.body {
			if e.Kind == ScopeEntry && stepsEqual([]step{{kw: e.Key, name: e.Name, named: e.Named}}, []step{last}) {
				found = append(found, optSite{s, i})
			}
		}
	})
	if len(found) == 0 {
		return fmt.Errorf("%w: scope is not defined", ErrUnknownScope)
	}
	for _, o := range found {
		if o.file.Readonly {
			return fmt.Errorf("%w: scope is defined in %s", ErrReadonly, o.file.Path)
		}
	}
	for i := len(found) - 1; i >= 0; i-- {
		o := found[i]
		*o.body = append((*o.body)[:o.idx:o.idx], (*o.body)[o.idx+1:]...)
		o.file.dirty = true
	}
	return nil
}

// joinWords joins the non-empty words with single spaces.
func joinWords(words ...string) string {
	out := words[:0:0]
	for _, w := range words {
		if w != "" {
			out = append(out, w)
		}
	}
	return strings.Join(out, " ")
}
