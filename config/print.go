package config

import (
	"strings"
)

// Printing produces config syntax that Parse reads back to an equal tree.
// Comments are not part of a Tree, so a printed file has none; blank lines
// and the original spacing are not kept either. Scope instance names are
// always quoted; scalars are quoted when they were written quoted or when
// their text needs it.

// printer formats entries. canon, when set, gives canonical casing for
// option names and scope keywords (from the Registry); flat expands includes
// in place instead of printing the directive.
type printer struct {
	b      strings.Builder
	canon  func(path []string, key string, scope bool) string
	flat   bool
	path   []string
	indent int
}

func (p *printer) entries(es []*Entry) {
	for _, e := range es {
		p.entry(e)
	}
}

func (p *printer) key(e *Entry) string {
	if p.canon == nil {
		return e.Key
	}
	return p.canon(p.path, e.Key, e.Kind == ScopeEntry)
}

func (p *printer) pad() {
	for i := 0; i < p.indent; i++ {
		p.b.WriteString("  ")
	}
}

func (p *printer) entry(e *Entry) {
	switch e.Kind {
	case OptionEntry:
		p.pad()
		p.b.WriteString(p.key(e))
		p.b.WriteString(" = ")
		p.b.WriteString(formatValue(e.Value))
		p.b.WriteByte('\n')
	case IncludeEntry:
		if p.flat {
			for _, f := range e.Files {
				p.entries(f.Entries)
			}
			return
		}
		p.pad()
		p.b.WriteString(strings.ToLower(e.Key))
		p.b.WriteByte(' ')
		p.b.WriteString(formatValue(e.Value))
		p.b.WriteByte('\n')
	case ScopeEntry:
		p.pad()
		p.b.WriteString(p.key(e))
		if e.Named {
			p.b.WriteByte(' ')
			p.b.WriteString(quote(e.Name))
		}
		if len(e.Body) == 0 {
			p.b.WriteString(" {}\n")
			return
		}
		p.b.WriteString(" {\n")
		p.path = append(p.path, e.Key)
		p.indent++
		p.entries(e.Body)
		p.indent--
		p.path = p.path[:len(p.path)-1]
		p.pad()
		p.b.WriteString("}\n")
	}
}

// String prints the main file of t, include directives kept as written.
func (t *Tree) String() string {
	var p printer
	if t.Main != nil {
		p.entries(t.Main.Entries)
	}
	return p.b.String()
}

// Flatten prints the whole configuration as one file: includes expanded in
// place and the local-changes file appended.
func (t *Tree) Flatten() string {
	p := printer{flat: true}
	if t.Main != nil {
		p.entries(t.Main.Entries)
	}
	if t.Local != nil {
		p.entries(t.Local.Entries)
	}
	return p.b.String()
}

// String prints f's entries, include directives kept as written.
func (f *File) String() string {
	var p printer
	p.entries(f.Entries)
	return p.b.String()
}

// formatValue prints v in config syntax.
func formatValue(v Value) string {
	switch v.Kind {
	case ArrayValue:
		var b strings.Builder
		b.WriteByte('(')
		for _, it := range v.Items {
			b.WriteByte(' ')
			b.WriteString(formatScalar(it))
		}
		b.WriteString(" )")
		return b.String()
	case DictValue:
		var b strings.Builder
		b.WriteByte('[')
		for _, pr := range v.Pairs {
			b.WriteByte(' ')
			b.WriteString(formatScalar(Value{Text: pr.Key}))
			b.WriteString(" = ")
			b.WriteString(formatScalar(pr.Value))
		}
		b.WriteString(" ]")
		return b.String()
	default:
		return formatScalar(v)
	}
}

func formatScalar(v Value) string {
	if v.Quoted || needsQuote(v.Text) {
		return quote(v.Text)
	}
	return v.Text
}

// needsQuote reports whether s cannot be written as a bare word.
func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		if endsWord(s, i) || s[i] < ' ' || s[i] == '\\' {
			return true
		}
	}
	return false
}

// quote writes s as a double-quoted string that unquote reads back.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case 0:
			b.WriteString(`\0`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
