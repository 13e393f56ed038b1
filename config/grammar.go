package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The grammar structs below are participle's view of a file; they never leave
// this package. parseText converts them into Entries at once.
//
//	file   = entry*
//	entry  = WORD "="? value? block?
//	block  = "{" entry* "}"
//	value  = item | "(" (item ","?)* ")" | "[" (item "="? item ","?)* "]"
//	item   = WORD | STRING
//
// An entry with a value and a block is a named scope, with a block only an
// anonymous scope, with a value only an option; an entry with neither is
// reported by convertEntries. The "=" is accepted before a block too
// ("Esmtp_Listener = {" appears in the manuals). The grammar is kept flat,
// with few alternatives, because participle allocates for every branch it
// tries and every capture it defers.
type gFile struct {
	Entries []*gEntry `parser:"@@*"`
}

type gEntry struct {
	Pos   lexer.Position
	Key   string  `parser:"@Word '='?"`
	Value *gValue `parser:"@@?"`
	Body  *gBlock `parser:"@@?"`
}

type gBlock struct {
	Entries []*gEntry `parser:"'{' @@* '}'"`
}

type gValue struct {
	Pos    lexer.Position
	Scalar string   `parser:"  @(Word|String)"`
	Array  string   `parser:"| ( @'('"`
	Items  []*gItem `parser:"    ( @@ ','? )* ')' )"`
	Dict   string   `parser:"| ( @'['"`
	Pairs  []*gPair `parser:"    ( @@ ','? )* ']' )"`
}

// gItem is a scalar: the token text, quotes and escapes included.
type gItem struct {
	Pos  lexer.Position
	Text string `parser:"@(Word|String)"`
}

type gPair struct {
	Key   *gItem `parser:"@@ '='?"`
	Value *gItem `parser:"@@"`
}

// confParser is built once: participle's parsers are safe for concurrent use.
var confParser = participle.MustBuild[gFile](
	participle.Lexer(confLexer{}),
)

// parseText parses one file's text into entries. Include entries are left
// unresolved (no Files); loadFile resolves them.
//
// Text the grammar accepts is read by fastParse, which builds the same
// entries as the grammar does without participle's per-token and
// per-alternative allocations; anything fastParse does not accept goes
// through the grammar, which either accepts it after all or reports the
// positioned error. Tests hold the two to the same result (fastparse_test.go).
func parseText(name, src string) ([]*Entry, error) {
	if entries, ok := fastParse(name, src); ok {
		return entries, nil
	}
	return grammarParse(name, src)
}

// grammarParse parses one file's text with the participle grammar.
func grammarParse(name, src string) ([]*Entry, error) {
	g, err := confParser.ParseString(name, src)
	if err != nil {
		return nil, syntaxError(name, err)
	}
	return convertEntries(g.Entries)
}

func syntaxError(name string, err error) error {
	var le *lexError
	if errors.As(err, &le) {
		return &Error{Pos: toPos(le.pos), Kind: ErrSyntax, Msg: le.msg}
	}
	var pe participle.Error
	if errors.As(err, &pe) {
		return &Error{Pos: toPos(pe.Position()), Kind: ErrSyntax, Msg: friendly(pe.Message())}
	}
	return &Error{Pos: Pos{File: name}, Kind: ErrSyntax, Msg: err.Error()}
}

// friendly rewrites participle's token names into the words a config author
// knows.
func friendly(msg string) string {
	r := strings.NewReplacer(
		"GBlock", `"{"`,
		"GValue", "a value",
		"GScalar", "a value",
		"GPair", "key = value",
		"GEntry", "an option or scope",
		"<word>", "a name or value",
		"<string>", "a quoted string",
		"<punct>", "punctuation",
		"<eof>", "end of file",
		"<EOF>", "end of file",
		"Word", "a name or value",
		"String", "a quoted string",
	)
	return r.Replace(msg)
}

func toPos(p lexer.Position) Pos {
	return Pos{File: p.Filename, Line: p.Line, Col: p.Column}
}

func convertEntries(gs []*gEntry) ([]*Entry, error) {
	out := make([]*Entry, 0, len(gs))
	for _, g := range gs {
		e := &Entry{Pos: toPos(g.Pos), Key: g.Key}
		switch {
		case g.Body != nil:
			e.Kind = ScopeEntry
			if g.Value != nil {
				e.Named = true
				v := convertValue(g.Value)
				if v.Kind != ScalarValue {
					return nil, &Error{Pos: v.Pos, Kind: ErrSyntax, Msg: "expected a scope name, got " + kindName(v.Kind)}
				}
				e.Name = v.Text
			}
			var err error
			if e.Body, err = convertEntries(g.Body.Entries); err != nil {
				return nil, err
			}
		case g.Value != nil:
			e.Kind = OptionEntry
			e.Value = convertValue(g.Value)
			if isInclude(g.Key) {
				e.Kind = IncludeEntry
			}
		default:
			pos := e.Pos
			pos.Col += len(g.Key)
			return nil, &Error{Pos: pos, Kind: ErrSyntax, Msg: fmt.Sprintf(`%s: expected a value or "{"`, g.Key)}
		}
		out = append(out, e)
	}
	return out, nil
}

func isInclude(key string) bool {
	return strings.EqualFold(key, "include") || strings.EqualFold(key, "readonly_include")
}

// scalarValue converts a WORD or STRING token; a string token keeps its
// quotes (a bare word never starts with one).
func scalarValue(text string, pos lexer.Position) Value {
	v := Value{Kind: ScalarValue, Pos: toPos(pos), Text: text}
	if text != "" && (text[0] == '"' || text[0] == '\'') {
		v.Text = unquote(text)
		v.Quoted = true
	}
	return v
}

func convertValue(g *gValue) Value {
	switch {
	case g.Array != "":
		v := Value{Kind: ArrayValue, Pos: toPos(g.Pos), Items: make([]Value, 0, len(g.Items))}
		for _, it := range g.Items {
			v.Items = append(v.Items, scalarValue(it.Text, it.Pos))
		}
		return v
	case g.Dict != "":
		v := Value{Kind: DictValue, Pos: toPos(g.Pos), Pairs: make([]Pair, 0, len(g.Pairs))}
		for _, p := range g.Pairs {
			v.Pairs = append(v.Pairs, Pair{Key: scalarValue(p.Key.Text, p.Key.Pos).Text, Value: scalarValue(p.Value.Text, p.Value.Pos)})
		}
		return v
	}
	return scalarValue(g.Scalar, g.Pos)
}
