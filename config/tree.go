package config

import (
	"strings"
)

// ValueKind says which form a Value has.
type ValueKind uint8

// The forms of a value.
const (
	// ScalarValue is a bare word or a quoted string.
	ScalarValue ValueKind = iota
	// ArrayValue is "( a b c )".
	ArrayValue
	// DictValue is "[ k = v  k2 = v2 ]".
	DictValue
)

// Value is an option value as written, before any type is applied. Scalars
// keep the text after unquoting and whether they were quoted, so that a
// boolean such as "enabled" is echoed as written.
type Value struct {
	Kind   ValueKind
	Text   string // ScalarValue: the text, unquoted
	Quoted bool   // ScalarValue: it was written in quotes
	Items  []Value
	Pairs  []Pair
	Pos    Pos
}

// Pair is one "key = value" of a dictionary; the value is a scalar.
type Pair struct {
	Key   string
	Value Value
}

// Scalar returns a scalar Value holding text, quoted when printing needs it.
func Scalar(text string) Value { return Value{Kind: ScalarValue, Text: text} }

// EntryKind says what an Entry is.
type EntryKind uint8

// The kinds of entry in a file or scope body.
const (
	OptionEntry EntryKind = iota
	ScopeEntry
	IncludeEntry
)

// Entry is one item of a file or scope body as written: an option, a scope
// (anonymous or named) or an include directive.
type Entry struct {
	Kind EntryKind
	Pos  Pos
	// Key is the option name, the scope keyword, or "include" /
	// "readonly_include", as written.
	Key string
	// Name and Named describe a scope's instance name.
	Name  string
	Named bool
	// Value is an option's value, or an include's path.
	Value Value
	// Body is a scope's entries.
	Body []*Entry
	// Files are the files an include loaded (several for a directory).
	Files []*File
}

// File is one configuration file as parsed, includes kept in place.
type File struct {
	// Path is the file name as opened; empty for text given to Parse with no
	// name (a virtual file).
	Path string
	// Readonly is set for files loaded by readonly_include and for files
	// included more than once; writeback never rewrites them.
	Readonly bool
	Entries  []*Entry
	// dirty is set on the copy of a file that a transaction edited.
	dirty bool
}

// Tree is a parsed configuration: the main file with its includes resolved.
// A Tree knows nothing of option definitions. A Tree that belongs to a
// Generation is never modified; transactions edit a copy.
type Tree struct {
	Main *File
	// Local is the local-changes file (Local_Changes_File), read last; it is
	// nil until a transaction needs it or the file existed at load.
	Local *File
	// LocalPath is where Local is written.
	LocalPath string
	// Files lists every file read, in load order, each once.
	Files []*File
}

// Scope is one scope of the merged view of a Tree: every stanza with the
// same keyword and instance name in the same container, across all files,
// merged into one, options last-wins.
type Scope struct {
	Keyword string // as first written
	Name    string
	Named   bool
	Pos     Pos // of the first stanza
	Parent  *Scope
	// Options are the effective option entries in the order first written;
	// a later assignment to the same name replaces the entry in place.
	Options  []*Entry
	Children []*Scope

	optIndex   map[string]int
	childIndex map[scopeKey]int
}

type scopeKey struct {
	kw   string // lower case
	name string
}

// Option returns the effective entry for the option name (case-insensitive),
// or nil.
func (s *Scope) Option(name string) *Entry {
	if s.optIndex != nil {
		if i, ok := s.optIndex[strings.ToLower(name)]; ok {
			return s.Options[i]
		}
		return nil
	}
	for _, e := range s.Options {
		if strings.EqualFold(e.Key, name) {
			return e
		}
	}
	return nil
}

// Child returns the child scope with the keyword (case-insensitive) and
// instance name (exact), or nil.
func (s *Scope) Child(keyword, name string) *Scope {
	if i, ok := s.childIndex[scopeKey{strings.ToLower(keyword), name}]; ok {
		return s.Children[i]
	}
	return nil
}

// Path returns the keywords and names from the top level down to s (the
// root, Global, has an empty path).
func (s *Scope) Path() []ScopeRef {
	var p []ScopeRef
	for c := s; c != nil && c.Parent != nil; c = c.Parent {
		p = append(p, ScopeRef{Keyword: c.Keyword, Name: c.Name})
	}
	for i, j := 0, len(p)-1; i < j; i, j = i+1, j-1 {
		p[i], p[j] = p[j], p[i]
	}
	return p
}

const indexAbove = 8 // linear search is faster below this many entries

// lowerCache returns the lower-case form of option names and scope keywords
// while a merged view is built: a file repeats a handful of spellings
// thousands of times, and strings.ToLower allocates for each mixed-case one.
// Instance names do not go through it; they are many and mostly distinct.
type lowerCache map[string]string

func (c lowerCache) lower(s string) string {
	if l, ok := c[s]; ok {
		return l
	}
	l := strings.ToLower(s)
	c[s] = l
	return l
}

func (s *Scope) setOption(e *Entry, lc lowerCache) {
	if s.optIndex == nil && len(s.Options) < indexAbove {
		for i, o := range s.Options {
			if strings.EqualFold(o.Key, e.Key) {
				s.Options[i] = e
				return
			}
		}
		s.Options = append(s.Options, e)
		return
	}
	if s.optIndex == nil {
		s.optIndex = make(map[string]int, 2*indexAbove)
		for i, o := range s.Options {
			s.optIndex[lc.lower(o.Key)] = i
		}
	}
	key := lc.lower(e.Key)
	if i, ok := s.optIndex[key]; ok {
		s.Options[i] = e
		return
	}
	s.optIndex[key] = len(s.Options)
	s.Options = append(s.Options, e)
}

// child returns the child scope for the scope entry e, creating it on first
// use. hint is how many scope entries the body holding e has, to size the
// index once.
func (s *Scope) child(e *Entry, lc lowerCache, hint int) *Scope {
	k := scopeKey{lc.lower(e.Key), e.Name}
	if i, ok := s.childIndex[k]; ok {
		return s.Children[i]
	}
	if s.childIndex == nil {
		s.childIndex = make(map[scopeKey]int, hint)
		s.Children = make([]*Scope, 0, hint)
	}
	c := &Scope{Keyword: e.Key, Name: e.Name, Named: e.Named, Pos: e.Pos, Parent: s}
	s.childIndex[k] = len(s.Children)
	s.Children = append(s.Children, c)
	return c
}

// Root builds the merged view of t: repeated named scopes merge, includes
// are expanded in place, the local-changes file is applied last. It
// allocates a new view on every call; callers keep the result.
func (t *Tree) Root() *Scope {
	root := &Scope{Keyword: "Global"}
	lc := make(lowerCache)
	if t.Main != nil {
		mergeInto(root, t.Main.Entries, lc)
	}
	if t.Local != nil {
		mergeInto(root, t.Local.Entries, lc)
	}
	return root
}

func mergeInto(s *Scope, entries []*Entry, lc lowerCache) {
	scopes, options := 0, 0
	for _, e := range entries {
		switch e.Kind {
		case ScopeEntry:
			scopes++
		case OptionEntry:
			options++
		}
	}
	if s.Options == nil && options > 0 {
		s.Options = make([]*Entry, 0, options)
	}
	for _, e := range entries {
		switch e.Kind {
		case OptionEntry:
			s.setOption(e, lc)
		case ScopeEntry:
			mergeInto(s.child(e, lc, scopes), e.Body, lc)
		case IncludeEntry:
			for _, f := range e.Files {
				mergeInto(s, f.Entries, lc)
			}
		}
	}
}

// ScopeRef names one scope level: a keyword and, for a named scope, its
// instance name.
type ScopeRef struct {
	Keyword string
	Name    string
}

// Ref returns a ScopeRef; a convenience for Fetch calls.
func Ref(keyword, name string) ScopeRef { return ScopeRef{Keyword: keyword, Name: name} }

// Stanza is one scope stanza of a tree: where it sits and what it is called.
type Stanza struct {
	Path    []ScopeRef // containing scopes, outermost first; empty at top level
	Keyword string
	Name    string
	Named   bool
	Pos     Pos
}

// Stanzas returns the top-level scopes of t in file order, a repeated
// (merged) one once at its first position. The module system reads module
// stanzas from it: config does not know which keywords are modules.
func (t *Tree) Stanzas() []Stanza {
	root := t.Root()
	out := make([]Stanza, 0, len(root.Children))
	for _, c := range root.Children {
		out = append(out, Stanza{Keyword: c.Keyword, Name: c.Name, Named: c.Named, Pos: c.Pos})
	}
	return out
}

// OptionUse is one option name as used in a tree, with the scope it is in.
type OptionUse struct {
	Name string
	Path []ScopeRef // enclosing scopes, outermost first; empty for Global
	Pos  Pos
}

// OptionUses returns every effective option of t with its scope path, in
// tree order (a scope's options, then its children). The module system
// matches them against msys.provides to load modules implicitly.
func (t *Tree) OptionUses() []OptionUse {
	var out []OptionUse
	var walk func(s *Scope, path []ScopeRef)
	walk = func(s *Scope, path []ScopeRef) {
		for _, o := range s.Options {
			out = append(out, OptionUse{Name: o.Key, Path: path, Pos: o.Pos})
		}
		for _, c := range s.Children {
			p := append(path[:len(path):len(path)], ScopeRef{Keyword: c.Keyword, Name: c.Name})
			walk(c, p)
		}
	}
	walk(t.Root(), nil)
	return out
}

// Clone returns a deep copy of t that a transaction may edit. Values are
// shared: they are never modified in place.
func (t *Tree) Clone() *Tree {
	c := &Tree{LocalPath: t.LocalPath}
	seen := make(map[*File]*File, len(t.Files))
	cloneFile := func(f *File) *File {
		if f == nil {
			return nil
		}
		if n, ok := seen[f]; ok {
			return n
		}
		n := &File{Path: f.Path, Readonly: f.Readonly, dirty: f.dirty}
		seen[f] = n
		return n
	}
	var cloneEntries func([]*Entry) []*Entry
	cloneEntries = func(es []*Entry) []*Entry {
		out := make([]*Entry, len(es))
		for i, e := range es {
			n := *e
			if e.Body != nil {
				n.Body = cloneEntries(e.Body)
			}
			if e.Files != nil {
				n.Files = make([]*File, len(e.Files))
				for j, f := range e.Files {
					nf := cloneFile(f)
					if nf.Entries == nil && f.Entries != nil {
						nf.Entries = cloneEntries(f.Entries)
					}
					n.Files[j] = nf
				}
			}
			out[i] = &n
		}
		return out
	}
	if t.Main != nil {
		c.Main = cloneFile(t.Main)
		c.Main.Entries = cloneEntries(t.Main.Entries)
	}
	if t.Local != nil {
		c.Local = cloneFile(t.Local)
		c.Local.Entries = cloneEntries(t.Local.Entries)
	}
	for _, f := range t.Files {
		nf := cloneFile(f)
		if nf.Entries == nil && f.Entries != nil {
			nf.Entries = cloneEntries(f.Entries)
		}
		c.Files = append(c.Files, nf)
	}
	return c
}

// File returns the file of t read from path, or nil.
func (t *Tree) File(path string) *File {
	for _, f := range t.Files {
		if f.Path == path {
			return f
		}
	}
	return nil
}
