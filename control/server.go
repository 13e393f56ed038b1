package control

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Config.
const (
	// DefaultIdleTimeout closes a connection that sends nothing for a minute, as
	// Momentum's Control_Listener Timeout does.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultLoginDelay slows down guessing: a refused login is answered this late.
	DefaultLoginDelay = time.Second
	// DefaultFileMode lets only the owner use the control socket.
	DefaultFileMode fs.FileMode = 0o600
	// DefaultCloseTimeout bounds how long Close waits for the commands in progress to
	// write their replies: long enough for a reload or a `shutdown` to answer, short
	// enough that a stuck command does not hold up the process's exit.
	DefaultCloseTimeout = 5 * time.Second
)

// Config configures a Server. The zero value works: a fresh registry with the built-in
// commands, commands run one at a time on the connection goroutines, no audit log.
type Config struct {
	// Registry holds the commands; the built-ins (help, version, pid, quit,
	// __complete) are added to it by NewServer. Nil means a new registry.
	Registry *Registry
	// Executor runs the commands that are not Blocking; nil runs them on the
	// connection goroutine under one mutex.
	Executor Executor
	// Modules routes `module[:instance] args...`; nil means no module commands.
	Modules Modules
	// Version returns the reply of `version`; the console puts its first line in its
	// banner after "ecelerity version: ". Called through the Executor.
	Version func() string
	// Audit receives one line per Mutating command (see Server); nil discards.
	// Writes are serialised.
	Audit io.Writer
	// Logf logs refused logins, panics (in commands and OnClose callbacks) and
	// accept errors; nil uses the standard logger. It may be called from any
	// goroutine.
	Logf func(format string, args ...any)
	// IdleTimeout closes a connection idle for this long; 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration
	// LoginDelay delays the answer to a refused login; 0 means DefaultLoginDelay.
	LoginDelay time.Duration
	// Now returns the time written in audit lines; nil means time.Now.
	Now func() time.Time
}

// Server answers control connections; see the package comment for the protocol.
//
// Each connection gets its own goroutine. Control connections are few (an operator or
// two, a monitoring script) and mostly idle, so a goroutine each costs little, and it
// keeps the protocol code straight-line and off the master loop, whose work is reached
// only through the Executor. Its methods may be called from any goroutine (but see
// CloseContext).
//
// Every connection has an id (Ctx.Conn) and may carry callbacks for its end
// (Ctx.OnClose), so that commands can keep per-connection state, such as a config
// transaction, and drop it the moment the console goes away.
//
// Every command marked Mutating (and every module command) is written to the audit log
// as one line:
//
//	2006-01-02T15:04:05Z peer="uid=1000 pid=42" user="ops" command="config reload" result=ok
//	2006-01-02T15:04:05Z peer="127.0.0.1:5412" user="ops" command="shutdown" result=error error="..."
type Server struct {
	cfg     Config
	reg     *Registry
	exec    Executor
	auditMu sync.Mutex // serialises writes to cfg.Audit

	// stop is cancelled when Close begins: it ends login delays and accept retries.
	stop       context.Context
	stopCancel context.CancelFunc
	// ctx is the commands' context (Ctx.Context), cancelled when Close stops waiting
	// for them.
	ctx    context.Context
	cancel context.CancelFunc

	// delay waits d or until ctx ends; tests replace it to observe refused logins.
	delay func(ctx context.Context, d time.Duration)
	// draining, when set (by tests), is called by Close once it has stopped accepting
	// and closed the idle connections, before it waits for the busy ones.
	draining func()

	lastConn atomic.Uint64 // the last Ctx.Conn handed out

	// mu guards closed, closing, listeners, conns, each conn's busy, busy and drained.
	mu        sync.Mutex
	closed    bool // set by StopAccepting: no listener, connection or command starts
	closing   bool // set by CloseContext, which waits for the rest once
	listeners []*listener
	conns     map[*conn]struct{}
	busy      int           // connections with busy set
	drained   chan struct{} // made by StopAccepting when busy > 0; closed when busy drops to 0

	wg sync.WaitGroup // accept loops and connections
}

// listener is one bound endpoint.
type listener struct {
	ln     net.Listener
	secret []byte // TCP login secret; nil on unix sockets
	path   string // unix socket path, removed on Close
	dev    uint64 // the socket file's identity, so Close removes only its own
	ino    uint64
}

// NewServer returns a server with cfg's defaults filled in and the built-in commands
// registered. It listens on nothing until ListenUnix or ListenTCP. It fails with
// ErrDuplicate when cfg.Registry already holds a built-in's name.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Registry == nil {
		cfg.Registry = NewRegistry()
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.LoginDelay <= 0 {
		cfg.LoginDelay = DefaultLoginDelay
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Version == nil {
		cfg.Version = func() string { return "unknown" }
	}
	s := &Server{
		cfg:   cfg,
		reg:   cfg.Registry,
		exec:  cfg.Executor,
		delay: sleepCtx,
		conns: make(map[*conn]struct{}),
	}
	if s.exec == nil {
		s.exec = &serialExecutor{}
	}
	s.stop, s.stopCancel = context.WithCancel(context.Background())
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, c := range s.builtins() {
		if err := s.reg.Register(c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Registry returns the server's command registry, for modules to add to.
func (s *Server) Registry() *Registry { return s.reg }

// ListenUnix binds a unix socket at path with the given permission bits (0 means
// DefaultFileMode) and starts serving it. A live socket at path is never taken over
// (ErrInUse); a stale one from a crashed server is replaced; anything else there is
// left alone (ErrNotSocket). The socket is removed by Close. The directory must exist.
func (s *Server) ListenUnix(path string, mode fs.FileMode) error {
	if mode == 0 {
		mode = DefaultFileMode
	}
	ln, dev, ino, err := listenUnix(path, mode)
	if err != nil {
		return err
	}
	return s.serve(&listener{ln: ln, path: path, dev: dev, ino: ino})
}

// ListenTCP listens on address and starts serving it; every connection must log in
// with the secret read from secretFile (see the package comment). An address without
// a host (":2025" or "2025") listens on 127.0.0.1 only: other interfaces must be named
// explicitly ("0.0.0.0:2025", "[::]:2025"). The secret file must be readable by its
// owner only and hold the secret (a trailing newline is ignored). It returns the bound
// address, useful with port 0.
func (s *Server) ListenTCP(address, secretFile string) (net.Addr, error) {
	secret, err := readSecret(secretFile)
	if err != nil {
		return nil, err
	}
	address, err = loopbackDefault(address)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("control: listen %s: %w", address, err)
	}
	if err := s.serve(&listener{ln: ln, secret: secret}); err != nil {
		return nil, err
	}
	return ln.Addr(), nil
}

// loopbackDefault puts 127.0.0.1 into a host-less TCP address.
func loopbackDefault(address string) (string, error) {
	if !strings.Contains(address, ":") {
		address = ":" + address
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return "", fmt.Errorf("%w %q: %w", ErrBadAddress, address, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("%w %q: bad port", ErrBadAddress, address)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// serve registers l and starts its accept loop, or closes it if the server is closed.
func (s *Server) serve(l *listener) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		l.close()
		return ErrClosed
	}
	s.listeners = append(s.listeners, l)
	s.wg.Add(1)
	go s.acceptLoop(l)
	return nil
}

// acceptLoop runs on its own goroutine until the listener is closed.
func (s *Server) acceptLoop(l *listener) {
	defer s.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if s.isClosed() {
				return
			}
			// Out of descriptors and the like: say so and retry after a pause
			// rather than spin; the listener itself is still good.
			s.cfg.Logf("control: accept on %s: %v", l.ln.Addr(), err)
			select {
			case <-time.After(100 * time.Millisecond):
			case <-s.stop.Done():
				return
			}
			continue
		}
		cc := &conn{Conn: c, id: s.lastConn.Add(1)}
		if !s.track(cc) {
			c.Close()
			return
		}
		go s.serveConn(cc, l.secret)
	}
}

// track adds c to the open connections and to the wait group, unless the server is
// closed.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

// untrack ends a connection on its goroutine: it closes the socket, then runs the
// connection's OnClose callbacks, so that every one has run when Close returns.
func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	c.Close()
	for _, fn := range c.end() {
		s.runOnClose(c, fn)
	}
	s.wg.Done()
}

// runOnClose calls one OnClose callback, logging a panic so that the others still run.
func (s *Server) runOnClose(c *conn, fn func()) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logf("control: panic in a close callback of connection %d: %v\n%s", c.id, p, debug.Stack())
		}
	}()
	fn()
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// begin marks c busy before its request runs, and reports false, running nothing,
// once Close has begun.
func (s *Server) begin(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	c.busy = true
	s.busy++
	return true
}

// finish clears c's busy mark after its reply is written, tells a waiting Close when
// it was the last, and reports whether c may take another request.
func (s *Server) finish(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.busy = false
	s.busy--
	if s.busy == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
	return !s.closed
}

// Close is CloseContext with a deadline DefaultCloseTimeout from now.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultCloseTimeout)
	defer cancel()
	return s.CloseContext(ctx)
}

// StopAccepting is the part of CloseContext that does not wait: it stops the
// listeners, removes the unix sockets and closes the idle connections. A caller that
// must not wait for the commands in progress (a shutdown cut short) calls it first,
// so the sockets are gone whatever happens to the rest; CloseContext then does the
// waiting. It may be called from any goroutine, a command handler included; later
// calls return nil at once.
func (s *Server) StopAccepting() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	listeners := s.listeners
	s.listeners = nil
	var idle []*conn
	for c := range s.conns {
		if !c.busy {
			idle = append(idle, c)
		}
	}
	if s.busy > 0 {
		s.drained = make(chan struct{})
	}
	s.mu.Unlock()

	s.stopCancel()
	var errs []error
	for _, l := range listeners {
		errs = append(errs, l.close())
	}
	// An idle connection owes no reply; one that has just read a request finds the
	// server closed in begin and runs nothing.
	for _, c := range idle {
		c.Close()
	}
	if s.draining != nil {
		s.draining()
	}
	return errors.Join(errs...)
}

// CloseContext shuts the server down without losing a reply: it stops accepting
// (StopAccepting), lets every command already running finish and write its reply (a
// request not yet started, even one already sent, is not run), then closes the
// remaining connections, cancels the commands' Context and waits for the handlers to
// return. When ctx ends first, the busy connections are closed at once: their replies
// are lost, and a command that ignores its Context still holds CloseContext up. The
// connections' OnClose callbacks have all run when it returns.
//
// Because it waits, a command handler must not call it (it would wait for itself:
// signal the daemon instead), and the Executor must keep running until it returns.
// It may be called from any other goroutine; later calls return nil at once.
func (s *Server) CloseContext(ctx context.Context) error {
	err := s.StopAccepting()
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	// Nil when nothing was busy at StopAccepting or everything has finished since.
	drained := s.drained
	s.mu.Unlock()

	if drained != nil {
		select {
		case <-drained:
		case <-ctx.Done():
		}
	}
	// What is left has written its last reply and is on its way out, or overran
	// ctx. The sockets close before the context is cancelled, so that a command
	// cut short cannot slip a reply out after the deadline.
	s.mu.Lock()
	rest := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		rest = append(rest, c)
	}
	s.mu.Unlock()
	for _, c := range rest {
		c.Close()
	}
	s.cancel()
	s.wg.Wait()
	return err
}

// close closes the listener and removes its socket file if it is still its own.
func (l *listener) close() error {
	err := l.ln.Close()
	if l.path != "" && sameFile(l.path, l.dev, l.ino) {
		if rmErr := os.Remove(l.path); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("control: removing socket: %w", rmErr))
		}
	}
	return err
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// readSecret reads a TCP login secret from path.
func readSecret(path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: TCP control needs a secret file", ErrSecret)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSecret, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSecret, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %#o; make it readable by its owner only (chmod 600)",
			ErrSecret, path, st.Mode().Perm())
	}
	buf, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrSecret, path, err)
	}
	secret := []byte(strings.TrimRight(string(buf), "\r\n"))
	if len(secret) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrSecret, path)
	}
	return secret, nil
}
