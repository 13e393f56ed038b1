package config

import (
	"github.com/alecthomas/participle/v2/lexer"
)

// fastParse reads text that the grammar of grammar.go accepts and returns the
// entries grammarParse would return for it, equal field for field (positions,
// nil and empty slices included). It reports false at the first thing it
// does not accept: a lexer error, a token the grammar has no place for, an
// entry with neither value nor block, an array or dictionary as a scope
// name. parseText then runs the grammar, which reports the positioned error.
//
// Why it exists: participle's parser materialises every token (64 bytes,
// in a slice grown by append) before parsing and allocates a context for
// each alternative it tries and a record for each capture; on a
// 10,000-domain file that alone is several times the time and memory the
// whole reload may take. The grammar stays the definition of the language
// and the source of every syntax error; this function is a direct reading
// of the same productions, one token of look-ahead and no backtracking,
// which the grammar never needs either:
//
//	file   = entry*                       (then end of file)
//	entry  = WORD "="? value? block?
//	block  = "{" entry* "}"
//	value  = item | "(" (item ","?)* ")" | "[" (item "="? item ","?)* "]"
//	item   = WORD | STRING
//
// The one difference is that participle stops a repetition after a million
// iterations, which no configuration reaches.
//
// Safe from any goroutine; it shares nothing.
func fastParse(name, src string) ([]*Entry, bool) {
	p := &fastParser{sc: scanner{src: src, pos: lexer.Position{Filename: name, Line: 1, Column: 1}}}
	p.next()
	entries := p.entries()
	if p.bad || p.tok.Type != lexer.EOF {
		return nil, false
	}
	return entries, true
}

// fastParser is the state of one fastParse call.
type fastParser struct {
	sc  scanner
	tok lexer.Token // the current token; EOF after a lexer error
	bad bool        // the text is not accepted

	// pending holds the entries of the bodies being read, innermost last,
	// and items the elements of the array being read; each is copied into a
	// slice of its exact size when complete.
	pending []*Entry
	items   []Value

	// Entries and array elements are cut from slabs: a file's entries live
	// as long as its tree, and one allocation per slab instead of per entry
	// is most of the saving on large files. Slabs start small (ParseValue
	// parses one entry) and double.
	entrySlab []Entry
	valueSlab []Value
	slabSize  int
}

const maxSlab = 256

func (p *fastParser) next() {
	tok, err := p.sc.Next()
	if err != nil {
		p.bad = true
		tok = lexer.Token{Type: lexer.EOF}
	}
	p.tok = tok
}

func (p *fastParser) isPunct(c byte) bool {
	return p.tok.Type == tokPunct && p.tok.Value[0] == c
}

func (p *fastParser) isItem() bool {
	return p.tok.Type == tokWord || p.tok.Type == tokString
}

func (p *fastParser) grow() {
	p.slabSize = min(max(2*p.slabSize, 8), maxSlab)
}

func (p *fastParser) newEntry() *Entry {
	if len(p.entrySlab) == 0 {
		p.grow()
		p.entrySlab = make([]Entry, p.slabSize)
	}
	e := &p.entrySlab[0]
	p.entrySlab = p.entrySlab[1:]
	return e
}

// values returns a slice of n zero Values whose capacity is n, so that an
// append by a later editor copies rather than overwrites a neighbour.
func (p *fastParser) values(n int) []Value {
	if n == 0 {
		return []Value{} // the grammar gives an empty array a non-nil slice
	}
	if n > maxSlab/2 {
		return make([]Value, n)
	}
	if len(p.valueSlab) < n {
		p.grow()
		p.valueSlab = make([]Value, max(p.slabSize, n))
	}
	v := p.valueSlab[:n:n]
	p.valueSlab = p.valueSlab[n:]
	return v
}

// entries reads entry* and returns the entries read, as a non-nil slice.
func (p *fastParser) entries() []*Entry {
	base := len(p.pending)
	for !p.bad && p.tok.Type == tokWord {
		e := p.entry()
		if e == nil {
			return nil
		}
		p.pending = append(p.pending, e)
	}
	out := make([]*Entry, len(p.pending)-base)
	copy(out, p.pending[base:])
	clear(p.pending[base:])
	p.pending = p.pending[:base]
	return out
}

// entry reads one entry; the current token is its key. It returns nil, with
// p.bad set, when the text is not accepted.
func (p *fastParser) entry() *Entry {
	e := p.newEntry()
	e.Pos = toPos(p.tok.Pos)
	e.Key = p.tok.Value
	p.next()
	if p.isPunct('=') {
		p.next()
	}
	hasValue := true
	switch {
	case p.isItem():
		e.Value = scalarValue(p.tok.Value, p.tok.Pos)
		p.next()
	case p.isPunct('('):
		e.Value = p.array()
	case p.isPunct('['):
		e.Value = p.dict()
	default:
		hasValue = false
	}
	if p.bad {
		return nil
	}
	if !p.isPunct('{') {
		if !hasValue {
			p.bad = true
			return nil
		}
		e.Kind = OptionEntry
		if isInclude(e.Key) {
			e.Kind = IncludeEntry
		}
		return e
	}
	e.Kind = ScopeEntry
	if hasValue {
		if e.Value.Kind != ScalarValue {
			p.bad = true
			return nil
		}
		e.Named, e.Name = true, e.Value.Text
		e.Value = Value{}
	}
	p.next()
	e.Body = p.entries()
	if p.bad || !p.isPunct('}') {
		p.bad = true
		return nil
	}
	p.next()
	return e
}

// array reads "(" (item ","?)* ")"; the current token is "(".
func (p *fastParser) array() Value {
	v := Value{Kind: ArrayValue, Pos: toPos(p.tok.Pos)}
	p.next()
	base := len(p.items)
	for p.isItem() {
		p.items = append(p.items, scalarValue(p.tok.Value, p.tok.Pos))
		p.next()
		if p.isPunct(',') {
			p.next()
		}
	}
	if !p.isPunct(')') {
		p.bad = true
		return v
	}
	p.next()
	v.Items = p.values(len(p.items) - base)
	copy(v.Items, p.items[base:])
	p.items = p.items[:base]
	return v
}

// dict reads "[" (item "="? item ","?)* "]"; the current token is "[".
func (p *fastParser) dict() Value {
	v := Value{Kind: DictValue, Pos: toPos(p.tok.Pos)}
	p.next()
	var pairs []Pair
	for p.isItem() {
		key := scalarValue(p.tok.Value, p.tok.Pos).Text
		p.next()
		if p.isPunct('=') {
			p.next()
		}
		if !p.isItem() {
			p.bad = true
			return v
		}
		pairs = append(pairs, Pair{Key: key, Value: scalarValue(p.tok.Value, p.tok.Pos)})
		p.next()
		if p.isPunct(',') {
			p.next()
		}
	}
	if !p.isPunct(']') {
		p.bad = true
		return v
	}
	p.next()
	v.Pairs = make([]Pair, len(pairs))
	copy(v.Pairs, pairs)
	return v
}
