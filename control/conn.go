package control

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
)

// notAuthorized is the body of the reply to a refused login or to a command sent
// before logging in, as Momentum words it.
const notAuthorized = "Not Authorized"

// nonceSize is the number of random bytes in a login challenge.
const nonceSize = 32

// maxUserName bounds the user name in an AUTH line.
const maxUserName = 64

// conn is one accepted connection.
type conn struct {
	net.Conn
	id uint64 // Ctx.Conn

	// busy is guarded by Server.mu: a request was read and let in by Server.begin,
	// and its reply is not written yet. Close lets busy connections finish.
	busy bool

	// mu guards onClose and ended.
	mu      sync.Mutex
	onClose []func()
	ended   bool // the callbacks ran or are running; later ones run at once
}

// addOnClose queues fn for the end of the connection and reports whether it did;
// false means the connection has already ended.
func (c *conn) addOnClose(fn func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended {
		return false
	}
	c.onClose = append(c.onClose, fn)
	return true
}

// end marks the connection ended and returns the callbacks to run.
func (c *conn) end() []func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ended = true
	fns := c.onClose
	c.onClose = nil
	return fns
}

// serveConn runs one connection on its own goroutine until the peer leaves, idles out,
// sends an over-long line or fails to log in, or the server closes.
func (s *Server) serveConn(c *conn, secret []byte) {
	defer s.untrack(c)
	ctx := &Ctx{Conn: c.id, Peer: c.RemoteAddr().String(), conn: c, ctx: s.ctx}
	if uc, ok := c.Conn.(*net.UnixConn); ok {
		ctx.Peer, ctx.User = unixPeer(uc)
	}
	br := bufio.NewReaderSize(c, 4096)

	greeting := greetingWord + " " + protocolVersion
	var nonce []byte
	if secret != nil {
		nonce = make([]byte, nonceSize)
		rand.Read(nonce) // never fails (crypto/rand panics rather than return an error)
		greeting += " " + authWord + " " + hex.EncodeToString(nonce)
	}
	c.SetWriteDeadline(time.Now().Add(s.cfg.IdleTimeout))
	if _, err := c.Write([]byte(greeting + "\n")); err != nil {
		return
	}
	if secret != nil {
		user, ok := s.login(c, br, ctx, secret, nonce)
		if !ok {
			return
		}
		ctx.User = user
	}

	for {
		c.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		line, err := readLine(br, MaxRequestLine)
		if errors.Is(err, ErrLineTooLong) {
			c.SetWriteDeadline(time.Now().Add(s.cfg.IdleTimeout))
			writeReply(c, false, fmt.Sprintf("request line longer than %d bytes; closing the connection", MaxRequestLine))
			return
		}
		if err != nil {
			return // EOF, idle timeout, or Close
		}
		if !s.begin(c) {
			return // Close began: no new request runs, even one already buffered
		}
		req := *ctx
		req.Line = line
		ok, body, quit := s.handle(&req, line)
		c.SetWriteDeadline(time.Now().Add(s.cfg.IdleTimeout))
		err = writeReply(c, ok, body)
		if more := s.finish(c); !more || err != nil || quit {
			return
		}
	}
}

// login reads and checks the AUTH line. A bad answer is logged, answered after the
// login delay, and ends the connection; a line that is not AUTH is refused at once.
func (s *Server) login(c *conn, br *bufio.Reader, ctx *Ctx, secret, nonce []byte) (string, bool) {
	c.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
	line, err := readLine(br, maxHeaderLine+maxUserName)
	if err != nil && !errors.Is(err, ErrLineTooLong) {
		return "", false
	}
	refuse := func() (string, bool) {
		c.SetWriteDeadline(time.Now().Add(s.cfg.IdleTimeout))
		writeReply(c, false, notAuthorized)
		return "", false
	}
	words, _ := SplitWords(line)
	if len(words) == 0 || words[0] != authWord {
		s.cfg.Logf("control: %s sent a command without logging in; refused", ctx.Peer)
		return refuse()
	}
	user, ok := "", false
	if len(words) == 3 && validUser(words[1]) {
		user = words[1]
		got, err := hex.DecodeString(words[2])
		ok = err == nil && hmac.Equal(got, LoginMAC(secret, nonce, user))
	}
	if !ok {
		s.cfg.Logf("control: failed login from %s as %q", ctx.Peer, user)
		s.delay(s.stop, s.cfg.LoginDelay)
		return refuse()
	}
	c.SetWriteDeadline(time.Now().Add(s.cfg.IdleTimeout))
	if err := writeReply(c, true, ""); err != nil {
		return "", false
	}
	return user, true
}

// LoginMAC returns the answer to a login challenge: HMAC-SHA256 keyed with secret over
// the nonce bytes followed by the user name.
func LoginMAC(secret, nonce []byte, user string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(nonce)
	m.Write([]byte(user))
	return m.Sum(nil)
}

func validUser(u string) bool {
	if u == "" || len(u) > maxUserName {
		return false
	}
	for i := 0; i < len(u); i++ {
		if u[i] <= ' ' || u[i] == 0x7f {
			return false
		}
	}
	return true
}

// handle runs one request and returns the reply, and whether the connection should be
// closed after it (quit). It runs on the connection goroutine.
func (s *Server) handle(ctx *Ctx, line string) (ok bool, body string, quit bool) {
	words, err := SplitWords(line)
	if err != nil {
		return false, err.Error(), false
	}
	if len(words) == 0 {
		return true, "", false
	}
	cmd, n, found := s.reg.Lookup(words)
	routed := false
	var out string
	var runErr error
	if found && cmd.Blocking {
		out, runErr = s.call(cmd, ctx, words[n:])
	} else {
		// Module routing reads the daemon's module set, which lives on the loop, so
		// it is done through the Executor together with the command.
		s.exec.Run(func() {
			if !found {
				cmd, found = s.route(words)
				n, routed = 1, found
			}
			if found && !cmd.Blocking {
				out, runErr = s.call(cmd, ctx, words[n:])
			}
		})
		if found && cmd.Blocking {
			out, runErr = s.call(cmd, ctx, words[n:])
		}
	}
	if !found {
		return false, fmt.Sprintf("Unknown command %q; type 'help' for a list.", words[0]), false
	}
	if cmd.Mutating || routed {
		s.audit(ctx, runErr)
	}
	if runErr != nil {
		return false, runErr.Error(), false
	}
	return true, out, cmd.Name == "quit" && !routed
}

// route asks Modules for the command of `module[:instance] args...`.
func (s *Server) route(words []string) (cmd Command, found bool) {
	if s.cfg.Modules == nil {
		return Command{}, false
	}
	module, instance, _ := strings.Cut(words[0], ":")
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logf("control: panic routing %q: %v\n%s", words[0], p, debug.Stack())
			cmd, found = Command{Name: module, Run: func(*Ctx, []string) (string, error) {
				return "", fmt.Errorf("module %s: internal error routing the command", module)
			}}, true
		}
	}()
	cmd, found = s.cfg.Modules.Route(module, instance, words[1:])
	if found && cmd.Run == nil {
		return Command{}, false
	}
	return cmd, found
}

// call runs a command's handler, turning a panic into an error so that one bad
// command cannot take the server (or the master loop it runs on) down.
func (s *Server) call(cmd Command, ctx *Ctx, args []string) (out string, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logf("control: panic in command %q from %s: %v\n%s", ctx.Line, ctx.Peer, p, debug.Stack())
			out, err = "", fmt.Errorf("%s: internal error (the command panicked: %v)", cmd.Name, p)
		}
	}()
	return cmd.Run(ctx, args)
}

// audit writes one audit line for a finished command.
func (s *Server) audit(ctx *Ctx, runErr error) {
	if s.cfg.Audit == nil {
		return
	}
	var b strings.Builder
	b.WriteString(s.cfg.Now().UTC().Format(time.RFC3339))
	b.WriteString(" peer=" + strconv.Quote(ctx.Peer))
	b.WriteString(" user=" + strconv.Quote(ctx.User))
	b.WriteString(" command=" + strconv.Quote(ctx.Line))
	if runErr == nil {
		b.WriteString(" result=ok\n")
	} else {
		b.WriteString(" result=error error=" + strconv.Quote(runErr.Error()) + "\n")
	}
	s.auditMu.Lock()
	defer s.auditMu.Unlock()
	if _, err := s.cfg.Audit.Write([]byte(b.String())); err != nil {
		s.cfg.Logf("control: writing audit log: %v", err)
	}
}
