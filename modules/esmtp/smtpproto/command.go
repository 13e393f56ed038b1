package smtpproto

import (
	"fmt"
	"strconv"
	"strings"
)

// Line length limits of RFC 5321 section 4.5.3.1, CRLF included.
const (
	// MaxCommandLine is the longest command line a server must accept.
	MaxCommandLine = 512
	// MailParamAllowance is what SIZE (RFC 1870: 26 octets) and BODY
	// (RFC 6152) add to a MAIL command line when the server offers them.
	MailParamAllowance = 26 + 14
	// MaxTextLine is the longest line of message text, the default of the
	// listener's limit.
	MaxTextLine = 1000
	// MaxLocalPart, MaxDomain and MaxPath bound the parts of a path.
	MaxLocalPart = 64
	MaxDomain    = 255
	MaxPath      = 256
)

// Verb is an SMTP command word.
type Verb uint8

// The verbs the listener knows. VerbUnknown is never returned with a nil
// error.
const (
	VerbUnknown Verb = iota
	HELO
	EHLO
	MAIL
	RCPT
	DATA
	RSET
	NOOP
	QUIT
	VRFY
	EXPN
	HELP
	STARTTLS
)

var verbNames = [...]string{
	VerbUnknown: "?", HELO: "HELO", EHLO: "EHLO", MAIL: "MAIL", RCPT: "RCPT", DATA: "DATA",
	RSET: "RSET", NOOP: "NOOP", QUIT: "QUIT", VRFY: "VRFY", EXPN: "EXPN", HELP: "HELP",
	STARTTLS: "STARTTLS",
}

// String returns the verb in upper case.
func (v Verb) String() string {
	if int(v) < len(verbNames) {
		return verbNames[v]
	}
	return "?"
}

// Body is the BODY= parameter of MAIL (RFC 6152).
type Body uint8

// The body types. BodyUnset means the client sent no BODY parameter.
const (
	BodyUnset Body = iota
	Body7Bit
	Body8BitMIME
)

// Path is a reverse-path (MAIL) or forward-path (RCPT) without its angle
// brackets and source route. The zero Path is the null reverse-path "<>".
type Path struct {
	// Addr is "local@domain", or "Postmaster" for the bare postmaster
	// recipient, or "" for the null path. The local part keeps its quotes.
	Addr string
	at   int // index of the '@' separating local part and domain; -1 if none
}

// IsNull reports whether p is the null path "<>".
func (p Path) IsNull() bool { return p.Addr == "" }

// Local returns the local part (all of Addr when it has no domain).
func (p Path) Local() string {
	if p.at < 0 || p.Addr == "" {
		return p.Addr
	}
	return p.Addr[:p.at]
}

// Domain returns the domain, "" for the null path and bare Postmaster.
func (p Path) Domain() string {
	if p.at < 0 || p.Addr == "" {
		return ""
	}
	return p.Addr[p.at+1:]
}

// Command is one parsed command line.
type Command struct {
	Verb Verb
	// Arg is the argument of HELO, EHLO, VRFY, HELP and NOOP, trimmed.
	Arg string
	// Path is the address of MAIL and RCPT.
	Path Path
	// Size is MAIL's SIZE= value, -1 when absent.
	Size int64
	// Body is MAIL's BODY= value.
	Body Body
}

// ParseCommand parses one command line, without its CRLF (a trailing CR or LF
// is tolerated and dropped). The length of the line is the caller's business:
// it has been bounded by the reader. Errors wrap ErrUnknownCommand,
// ErrSyntax, ErrBadPath, ErrBadParam, ErrTooLong or ErrBadChar. Any
// goroutine; it keeps no state.
func ParseCommand(line []byte) (Command, error) {
	for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
		line = line[:len(line)-1]
	}
	for i, c := range line {
		if c < 0x20 && c != '\t' || c == 0x7f {
			return Command{}, fmt.Errorf("%w: control character 0x%02x at offset %d", ErrBadChar, c, i)
		}
	}
	word, rest := line, []byte(nil)
	if i := indexSpace(line); i >= 0 {
		word, rest = line[:i], line[i+1:]
	}
	cmd := Command{Verb: lookupVerb(word), Size: -1}
	switch cmd.Verb {
	case VerbUnknown:
		return Command{}, fmt.Errorf("%w: %.16q", ErrUnknownCommand, word)
	case HELO, EHLO:
		arg := strings.TrimSpace(string(rest))
		if arg == "" {
			return Command{}, fmt.Errorf("%w: %s needs a domain", ErrSyntax, cmd.Verb)
		}
		if len(arg) > MaxDomain {
			return Command{}, fmt.Errorf("%w: %s domain longer than %d", ErrTooLong, cmd.Verb, MaxDomain)
		}
		cmd.Arg = arg
	case VRFY, EXPN:
		arg := strings.TrimSpace(string(rest))
		if arg == "" {
			return Command{}, fmt.Errorf("%w: %s needs an argument", ErrSyntax, cmd.Verb)
		}
		cmd.Arg = arg
	case HELP, NOOP:
		cmd.Arg = strings.TrimSpace(string(rest))
	case DATA, RSET, QUIT, STARTTLS:
		if len(trimSpace(rest)) != 0 {
			return Command{}, fmt.Errorf("%w: %s takes no argument", ErrSyntax, cmd.Verb)
		}
	case MAIL:
		rest, ok := cutPrefixFold(rest, "FROM:")
		if !ok {
			return Command{}, fmt.Errorf("%w: expected MAIL FROM:<address>", ErrSyntax)
		}
		var err error
		cmd.Path, rest, err = parsePath(rest, true)
		if err != nil {
			return Command{}, err
		}
		if err := parseMailParams(rest, &cmd); err != nil {
			return Command{}, err
		}
	case RCPT:
		rest, ok := cutPrefixFold(rest, "TO:")
		if !ok {
			return Command{}, fmt.Errorf("%w: expected RCPT TO:<address>", ErrSyntax)
		}
		var err error
		cmd.Path, rest, err = parsePath(rest, false)
		if err != nil {
			return Command{}, err
		}
		if p := trimSpace(rest); len(p) != 0 {
			// DSN (NOTIFY, ORCPT) is not offered, so no RCPT parameter is known.
			return Command{}, fmt.Errorf("%w: RCPT parameter %.32q not supported", ErrBadParam, p)
		}
	}
	return cmd, nil
}

// lookupVerb matches a command word without regard to case and without
// allocating.
func lookupVerb(w []byte) Verb {
	if len(w) != 4 && len(w) != 8 {
		return VerbUnknown
	}
	var up [8]byte
	for i, c := range w {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	if len(w) == 8 {
		if string(up[:]) == "STARTTLS" {
			return STARTTLS
		}
		return VerbUnknown
	}
	switch string(up[:4]) {
	case "HELO":
		return HELO
	case "EHLO":
		return EHLO
	case "MAIL":
		return MAIL
	case "RCPT":
		return RCPT
	case "DATA":
		return DATA
	case "RSET":
		return RSET
	case "NOOP":
		return NOOP
	case "QUIT":
		return QUIT
	case "VRFY":
		return VRFY
	case "EXPN":
		return EXPN
	case "HELP":
		return HELP
	}
	return VerbUnknown
}

func indexSpace(b []byte) int {
	for i, c := range b {
		if c == ' ' || c == '\t' {
			return i
		}
	}
	return -1
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// cutPrefixFold removes prefix (upper case ASCII) from b, compared without
// case, after optional leading spaces.
func cutPrefixFold(b []byte, prefix string) ([]byte, bool) {
	b = trimSpace(b)
	if len(b) < len(prefix) {
		return b, false
	}
	for i := 0; i < len(prefix); i++ {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != prefix[i] {
			return b, false
		}
	}
	return b[len(prefix):], true
}

// parsePath parses "<path>" (or, leniently, a bare address) at the start of b
// and returns it with the rest of the line. null allows "<>" (MAIL).
func parsePath(b []byte, null bool) (Path, []byte, error) {
	b = trimSpace(b)
	var inner, rest []byte
	if len(b) > 0 && b[0] == '<' {
		end := closingBracket(b)
		if end < 0 {
			return Path{}, nil, fmt.Errorf("%w: missing '>'", ErrBadPath)
		}
		inner, rest = b[1:end], b[end+1:]
		if len(rest) > 0 && rest[0] != ' ' && rest[0] != '\t' {
			return Path{}, nil, fmt.Errorf("%w: text after '>'", ErrBadPath)
		}
	} else {
		// Lenient: a bare address, as some clients send.
		i := indexSpace(b)
		if i < 0 {
			i = len(b)
		}
		inner, rest = b[:i], b[i:]
		if len(inner) == 0 {
			return Path{}, nil, fmt.Errorf("%w: empty address", ErrBadPath)
		}
	}
	if len(inner) > MaxPath-2 {
		return Path{}, nil, fmt.Errorf("%w: path longer than %d", ErrTooLong, MaxPath)
	}
	if len(inner) == 0 {
		if !null {
			return Path{}, nil, fmt.Errorf("%w: null path not allowed here", ErrBadPath)
		}
		return Path{at: -1}, rest, nil
	}
	// A source route (@a,@b:mailbox) is obsolete; RFC 5321 says to ignore it.
	if inner[0] == '@' {
		i := indexByteOutsideQuotes(inner, ':')
		if i < 0 {
			return Path{}, nil, fmt.Errorf("%w: source route without ':'", ErrBadPath)
		}
		inner = inner[i+1:]
	}
	p, err := parseMailbox(inner, !null)
	if err != nil {
		return Path{}, nil, err
	}
	return p, rest, nil
}

// closingBracket returns the index of the '>' closing the path that starts at
// b[0] == '<', skipping quoted strings; -1 if none.
func closingBracket(b []byte) int {
	quoted := false
	for i := 1; i < len(b); i++ {
		switch c := b[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '>':
			return i
		}
	}
	return -1
}

func indexByteOutsideQuotes(b []byte, want byte) int {
	quoted := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == want:
			return i
		}
	}
	return -1
}

// parseMailbox checks local@domain. postmaster allows the bare, domainless
// "Postmaster" of RCPT.
func parseMailbox(b []byte, postmaster bool) (Path, error) {
	at := lastAt(b)
	if at < 0 {
		if postmaster && strings.EqualFold(string(b), "postmaster") {
			return Path{Addr: string(b), at: -1}, nil
		}
		return Path{}, fmt.Errorf("%w: %.64q has no domain", ErrBadPath, b)
	}
	local, domain := b[:at], b[at+1:]
	if len(local) == 0 {
		return Path{}, fmt.Errorf("%w: empty local part", ErrBadPath)
	}
	if len(local) > MaxLocalPart {
		return Path{}, fmt.Errorf("%w: local part longer than %d", ErrTooLong, MaxLocalPart)
	}
	if len(domain) > MaxDomain {
		return Path{}, fmt.Errorf("%w: domain longer than %d", ErrTooLong, MaxDomain)
	}
	if !validLocal(local) {
		return Path{}, fmt.Errorf("%w: bad local part %.64q", ErrBadPath, local)
	}
	if !validDomain(domain) {
		return Path{}, fmt.Errorf("%w: bad domain %.64q", ErrBadPath, domain)
	}
	return Path{Addr: string(b), at: at}, nil
}

func lastAt(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '@' {
			return i
		}
		if b[i] == '"' {
			return -1
		}
	}
	return -1
}

// validLocal accepts a dot-string of atext or a quoted string.
func validLocal(b []byte) bool {
	if b[0] == '"' {
		if len(b) < 2 || b[len(b)-1] != '"' {
			return false
		}
		for i := 1; i < len(b)-1; i++ {
			c := b[i]
			if c == '\\' {
				i++
				if i >= len(b)-1 {
					return false
				}
				continue
			}
			if c == '"' || c < 0x20 || c > 0x7e {
				return false
			}
		}
		return true
	}
	prevDot := true
	for _, c := range b {
		if c == '.' {
			if prevDot {
				return false
			}
			prevDot = true
			continue
		}
		if !isAtext(c) {
			return false
		}
		prevDot = false
	}
	return !prevDot
}

func isAtext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// validDomain accepts dot-separated labels of letters, digits and hyphens,
// or an address literal in brackets.
func validDomain(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	if b[0] == '[' {
		if b[len(b)-1] != ']' || len(b) < 3 {
			return false
		}
		for _, c := range b[1 : len(b)-1] {
			if c <= ' ' || c > 0x7e || c == '[' || c == ']' || c == '\\' {
				return false
			}
		}
		return true
	}
	label := 0
	for i, c := range b {
		switch {
		case c == '.':
			if label == 0 || b[i-1] == '-' {
				return false
			}
			label = 0
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
			label++
		case c == '-':
			if label == 0 {
				return false
			}
			label++
		default:
			return false
		}
		if label > 63 {
			return false
		}
	}
	return label > 0 && b[len(b)-1] != '-'
}

// parseMailParams reads MAIL's ESMTP parameters.
func parseMailParams(b []byte, cmd *Command) error {
	for {
		b = trimSpace(b)
		if len(b) == 0 {
			return nil
		}
		tok := b
		if i := indexSpace(b); i >= 0 {
			tok, b = b[:i], b[i:]
		} else {
			b = nil
		}
		key, val, hasVal := strings.Cut(string(tok), "=")
		switch strings.ToUpper(key) {
		case "SIZE":
			if cmd.Size >= 0 {
				return fmt.Errorf("%w: SIZE given twice", ErrBadParam)
			}
			n, err := strconv.ParseUint(val, 10, 63)
			if !hasVal || err != nil || len(val) > 20 {
				return fmt.Errorf("%w: SIZE=%.24q is not a number", ErrBadParam, val)
			}
			cmd.Size = int64(n)
		case "BODY":
			if cmd.Body != BodyUnset {
				return fmt.Errorf("%w: BODY given twice", ErrBadParam)
			}
			switch strings.ToUpper(val) {
			case "7BIT":
				cmd.Body = Body7Bit
			case "8BITMIME":
				cmd.Body = Body8BitMIME
			default:
				return fmt.Errorf("%w: BODY=%.24q", ErrBadParam, val)
			}
		default:
			return fmt.Errorf("%w: MAIL parameter %.32q not supported", ErrBadParam, key)
		}
	}
}
