package config

import (
	"io"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// Token types of the configuration lexer. The lexer is written by hand rather
// than with lexer.MustSimple because a bare word may contain '/' (a Unix
// socket path, a URI) except where "/*" opens a comment, which a regular
// expression without look-ahead cannot say; it is also several times faster.
const (
	tokWord lexer.TokenType = -(iota + 2)
	tokString
	tokPunct
)

// confLexer is the lexer.Definition of ecelerity.conf. It is stateless; each
// Lex call returns a fresh scanner.
type confLexer struct{}

var _ lexer.StringDefinition = confLexer{}

func (confLexer) Symbols() map[string]lexer.TokenType {
	return map[string]lexer.TokenType{
		"EOF":    lexer.EOF,
		"Word":   tokWord,
		"String": tokString,
		"Punct":  tokPunct,
	}
}

func (d confLexer) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return d.LexString(filename, string(b))
}

func (confLexer) LexString(filename string, input string) (lexer.Lexer, error) {
	return &scanner{src: input, pos: lexer.Position{Filename: filename, Line: 1, Column: 1}}, nil
}

// scanner turns one file's text into tokens. Comments and white space are
// dropped here, so the grammar never sees them.
type scanner struct {
	src string
	pos lexer.Position
}

// punctChars are single-character tokens; they also end a bare word, as do
// the quote characters and '#'.
const punctChars = "={}()[],"

// Byte classes, looked up once per input byte rather than compared one by
// one: the scanner runs over every byte of a file. byteClass is a constant
// table, built once at package initialisation and never written after.
const (
	classSpace uint8 = 1 << iota
	classPunct
	classEndsWord // space, punctuation, quote or '#'
)

var byteClass = func() (t [256]uint8) {
	for _, c := range []byte(" \t\n\r\f\v") {
		t[c] |= classSpace | classEndsWord
	}
	for _, c := range []byte(punctChars) {
		t[c] |= classPunct | classEndsWord
	}
	for _, c := range []byte("#\"'") {
		t[c] |= classEndsWord
	}
	return t
}()

func isSpace(c byte) bool { return byteClass[c]&classSpace != 0 }

func endsWord(s string, i int) bool {
	c := s[i]
	if byteClass[c]&classEndsWord != 0 {
		return true
	}
	return c == '/' && i+1 < len(s) && s[i+1] == '*'
}

// advance moves the position over n bytes of input.
func (s *scanner) advance(n int) {
	skipped := s.src[:n]
	if nl := strings.LastIndexByte(skipped, '\n'); nl >= 0 {
		s.pos.Line += strings.Count(skipped, "\n")
		s.pos.Column = n - nl
	} else {
		s.pos.Column += n
	}
	s.pos.Offset += n
	s.src = s.src[n:]
}

func (s *scanner) fail(at lexer.Position, msg string) error {
	return &lexError{pos: at, msg: msg}
}

// lexError is a lexer failure; participle passes it through and parse turns
// it into an *Error with ErrSyntax.
type lexError struct {
	pos lexer.Position
	msg string
}

func (e *lexError) Error() string            { return e.pos.String() + ": " + e.msg }
func (e *lexError) Message() string          { return e.msg }
func (e *lexError) Position() lexer.Position { return e.pos }

func (s *scanner) Next() (lexer.Token, error) {
	for len(s.src) > 0 {
		c := s.src[0]
		switch {
		case isSpace(c):
			n := 1
			for n < len(s.src) && isSpace(s.src[n]) {
				n++
			}
			s.advance(n)
		case c == '#':
			n := strings.IndexByte(s.src, '\n')
			if n < 0 {
				n = len(s.src)
			}
			s.advance(n)
		case c == '/' && len(s.src) > 1 && s.src[1] == '*':
			start := s.pos
			n := strings.Index(s.src[2:], "*/")
			if n < 0 {
				s.advance(len(s.src))
				return lexer.Token{}, s.fail(start, "comment \"/*\" is never closed (expected \"*/\")")
			}
			s.advance(n + 4)
		case c == '"' || c == '\'':
			return s.quoted(c)
		case byteClass[c]&classPunct != 0:
			tok := lexer.Token{Type: tokPunct, Value: s.src[:1], Pos: s.pos}
			s.advance(1)
			return tok, nil
		default:
			n := 1
			for n < len(s.src) && !endsWord(s.src, n) {
				n++
			}
			tok := lexer.Token{Type: tokWord, Value: s.src[:n], Pos: s.pos}
			s.advance(n)
			return tok, nil
		}
	}
	return lexer.EOFToken(s.pos), nil
}

// quoted scans a quoted string. The token keeps its quotes and escapes; the
// grammar's conversion unquotes it with unquote, which accepts exactly what
// this function lets through.
func (s *scanner) quoted(q byte) (lexer.Token, error) {
	start := s.pos
	for i := 1; i < len(s.src); i++ {
		switch s.src[i] {
		case '\\':
			i++
		case q:
			tok := lexer.Token{Type: tokString, Value: s.src[:i+1], Pos: start}
			s.advance(i + 1)
			return tok, nil
		}
	}
	s.advance(len(s.src))
	return lexer.Token{}, s.fail(start, "string is never closed (expected "+string(q)+")")
}

// unquote removes the quotes of a string token and resolves backslash
// escapes: \n \t \r \0 and a backslash before any other byte stands for that
// byte.
func unquote(tok string) string {
	body := tok[1 : len(tok)-1]
	if strings.IndexByte(body, '\\') < 0 {
		return body
	}
	var b strings.Builder
	b.Grow(len(body))
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c != '\\' || i+1 == len(body) {
			b.WriteByte(c)
			continue
		}
		i++
		switch body[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '0':
			b.WriteByte(0)
		default:
			b.WriteByte(body[i])
		}
	}
	return b.String()
}
