package control

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os/user"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultDialTimeout bounds connecting and reading the greeting.
const DefaultDialTimeout = 10 * time.Second

// DialOptions adjusts Dial.
type DialOptions struct {
	// User is the login name for TCP; empty means the address's user, else the
	// current user's name.
	User string
	// Secret returns the shared secret. It is called only if the server asks for a
	// login, so the console prompts for it only then. Nil makes such a login fail.
	Secret func() ([]byte, error)
	// Timeout bounds connecting and the greeting (not commands); 0 means
	// DefaultDialTimeout.
	Timeout time.Duration
}

// Client is a connection to a control server. Its methods may be called from any
// goroutine; requests are sent one at a time.
type Client struct {
	addr Address

	// mu serialises requests: it is held from writing a request to reading its
	// reply, and guards br.
	mu     sync.Mutex
	conn   net.Conn // Close may close it while a request waits: net.Conn allows that
	br     *bufio.Reader
	closed atomic.Bool
}

// Dial connects to address (see ParseAddress) without a secret.
func Dial(address string) (*Client, error) {
	return DialWith(address, DialOptions{})
}

// DialWith connects to address, reads the greeting and logs in if the server asks.
// A refused login returns an error wrapping ErrNotAuthorized.
func DialWith(address string, opt DialOptions) (*Client, error) {
	addr, err := ParseAddress(address)
	if err != nil {
		return nil, err
	}
	return DialAddress(addr, opt)
}

// DialAddress is DialWith for a parsed address.
func DialAddress(addr Address, opt DialOptions) (*Client, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultDialTimeout
	}
	dialAddr := addr.Path
	if addr.Network == "tcp" {
		dialAddr = addr.HostPort
	}
	conn, err := net.DialTimeout(addr.Network, dialAddr, opt.Timeout)
	if err != nil {
		return nil, fmt.Errorf("control: connecting to %s: %w", addr, err)
	}
	c := &Client{addr: addr, conn: conn, br: bufio.NewReaderSize(conn, 4096)}
	conn.SetDeadline(time.Now().Add(opt.Timeout))
	if err := c.handshake(opt); err != nil {
		conn.Close()
		return nil, fmt.Errorf("control: connecting to %s: %w", addr, err)
	}
	conn.SetDeadline(time.Time{})
	return c, nil
}

// handshake reads the greeting and answers a login challenge.
func (c *Client) handshake(opt DialOptions) error {
	line, err := readLine(c.br, maxHeaderLine)
	if err != nil {
		return fmt.Errorf("%w: reading the greeting: %w", ErrProtocol, err)
	}
	words := strings.Fields(line)
	if len(words) < 2 || words[0] != greetingWord {
		return fmt.Errorf("%w: not an ecelerity control endpoint (greeting %q)", ErrProtocol, truncate(line, 40))
	}
	if words[1] != protocolVersion {
		return fmt.Errorf("%w: protocol version %s, this client speaks %s", ErrProtocol, words[1], protocolVersion)
	}
	switch {
	case len(words) == 2:
		return nil
	case len(words) == 4 && words[2] == authWord:
	default:
		return fmt.Errorf("%w: bad greeting %q", ErrProtocol, truncate(line, 80))
	}
	nonce, err := hex.DecodeString(words[3])
	if err != nil || len(nonce) != nonceSize {
		return fmt.Errorf("%w: bad login challenge", ErrProtocol)
	}
	name := opt.User
	if name == "" {
		name = c.addr.User
	}
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	if !validUser(name) {
		return fmt.Errorf("%w: no usable user name for the login (give user@host:port)", ErrNotAuthorized)
	}
	if opt.Secret == nil {
		return fmt.Errorf("%w: the server requires a login and no secret was given", ErrNotAuthorized)
	}
	secret, err := opt.Secret()
	if err != nil {
		return fmt.Errorf("reading the secret: %w", err)
	}
	mac := hex.EncodeToString(LoginMAC(secret, nonce, name))
	if _, err := c.conn.Write([]byte(authWord + " " + name + " " + mac + "\n")); err != nil {
		return err
	}
	ok, body, err := readReply(c.br, maxHeaderLine)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotAuthorized, body)
	}
	return nil
}

// Address returns the address the client is connected to.
func (c *Client) Address() Address { return c.addr }

// Do sends one request line and returns the reply body. An ERR reply returns a
// *ReplyError, and the client stays usable; any other error (the connection broke, the
// peer broke the protocol) leaves the client closed. A line holding a newline is
// refused with ErrSyntax before anything is sent.
func (c *Client) Do(line string) (string, error) {
	if strings.ContainsAny(line, "\r\n") {
		return "", fmt.Errorf("%w: newline in command", ErrSyntax)
	}
	if len(line)+1 > MaxRequestLine {
		return "", ErrLineTooLong
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return "", ErrClosed
	}
	if _, err := c.conn.Write([]byte(line + "\n")); err != nil {
		c.Close()
		return "", fmt.Errorf("control: sending to %s: %w", c.addr, err)
	}
	ok, body, err := readReply(c.br, MaxReplyBody)
	if err != nil {
		c.Close()
		if errors.Is(err, ErrProtocol) {
			return "", err
		}
		return "", fmt.Errorf("control: reading reply from %s: %w", c.addr, err)
	}
	if !ok {
		return "", &ReplyError{Command: line, Message: body}
	}
	return body, nil
}

// DoWords quotes words into a request line (see JoinWords) and sends it with Do.
func (c *Client) DoWords(words ...string) (string, error) {
	line, err := JoinWords(words)
	if err != nil {
		return "", err
	}
	return c.Do(line)
}

// Complete asks the server for the candidates of the last word given the ones before
// it (pass "" as the last word to list every candidate).
func (c *Client) Complete(words []string) ([]string, error) {
	out, err := c.DoWords(append([]string{CompleteCommand}, words...)...)
	if err != nil || out == "" {
		return nil, err
	}
	return strings.Split(out, "\n"), nil
}

// Close closes the connection. A Do waiting for its reply on another goroutine
// returns with an error. Later calls return nil.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	return c.conn.Close()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
