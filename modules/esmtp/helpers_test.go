package esmtp

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/internal/testenv"
	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// managerRef lets the Env name the module manager before it exists.
type managerRef struct {
	m atomic.Pointer[modules.Manager]
}

func (r *managerRef) Current() *modules.Generation { return r.m.Load().Current() }

// testPolicy is a module whose ExtInit registers the providers a test puts in
// it; Go providers of the listener's hooks.
type testPolicy struct {
	register func(reg *hooks.Registry) error
}

func (p *testPolicy) ExtInit(ctx *modules.InitCtx, mode modules.Mode) error {
	if mode == modules.Init && p.register != nil {
		return p.register(ctx.Hooks())
	}
	return nil
}

// server is a listener running in-process on a real loop, pools, config store
// and module manager.
type server struct {
	t       testing.TB
	dir     string
	conf    string
	loop    *sched.Loop
	pools   *threadpool.Manager
	mgr     *modules.Manager
	mainlog *testenv.SyncBuffer
	reject  *testenv.SyncBuffer
	logs    *LineLogs
}

// startServer runs the listener with the configuration text conf, in which
// SPOOL is replaced by a temporary spool directory. policy, when not nil,
// registers hook providers in every generation (put `testpolicy {}` in conf).
func startServer(t testing.TB, conf string, policy func(reg *hooks.Registry) error) *server {
	t.Helper()
	return startServerWith(t, conf, policy, nil)
}

// startServerWith is startServer with more built-in modules, made once the
// loop and pools exist.
func startServerWith(t testing.TB, conf string, policy func(reg *hooks.Registry) error, more func(s *server) []modules.Info) *server {
	t.Helper()
	s := &server{t: t, dir: t.TempDir(), mainlog: &testenv.SyncBuffer{}, reject: &testenv.SyncBuffer{}}
	// The logs close last, after the loop has stopped (cleanups run in reverse).
	s.logs = NewLineLogs(s.mainlog, s.reject)
	t.Cleanup(func() { s.logs.Close() })
	loop := testenv.StartLoop(t, sched.Options{})
	s.loop = loop
	s.pools = threadpool.NewManager(threadpool.Options{Loop: loop})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ref := &managerRef{}
	b := modules.NewBuiltins()
	b.Register(NewInfo(Env{Loop: loop, Pools: s.pools, Generations: ref, Logs: s.logs, Version: "test", Logger: quiet}))
	b.Register(modules.Info{Name: "testpolicy", Singleton: true, New: func() modules.Module { return &testPolicy{register: policy} }})
	if more != nil {
		for _, info := range more(s) {
			b.Register(info)
		}
	}
	store := config.NewStore(config.NewRegistry(), config.StoreOptions{})
	mgr, err := modules.New(modules.Options{Store: store, Loop: loop, Loaders: []modules.Loader{b.Loader()}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ref.m.Store(mgr)
	s.mgr = mgr
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := mgr.Close(ctx); err != nil {
			t.Errorf("manager close: %v", err)
		}
		if _, err := s.pools.Shutdown(ctx); err != nil {
			t.Errorf("pools shutdown: %v", err)
		}
	})
	s.reload(conf)
	return s
}

// reload writes conf as the configuration file and (re)loads it.
func (s *server) reload(conf string) {
	s.t.Helper()
	if err := s.tryReload(conf); err != nil {
		s.t.Fatalf("reload: %v", err)
	}
}

func (s *server) tryReload(conf string) error {
	s.conf = conf
	path := filepath.Join(s.dir, "ecelerity.conf")
	text := strings.ReplaceAll(conf, "SPOOL", filepath.Join(s.dir, "spool"))
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if g := s.mgr.Current(); g != nil && g.ID() > 1 {
		g.Release()
		return s.mgr.Reload(ctx, path)
	} else if g != nil {
		g.Release()
	}
	return s.mgr.Start(ctx, path)
}

// module returns the listener's module object.
func (s *server) module() *Module {
	g := s.mgr.Current()
	defer g.Release()
	m, _ := g.Instance(ModuleName, "").(*Module)
	if m == nil {
		s.t.Fatal("listener module not loaded")
	}
	return m
}

// addr returns the first address the listener is bound to.
func (s *server) addr() string {
	addrs := s.module().Addrs()
	if len(addrs) == 0 {
		s.t.Fatal("listener bound to no address")
	}
	return addrs[0].String()
}

// client is a raw SMTP client for the tests.
type client struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
}

func (s *server) dial() *client {
	s.t.Helper()
	return dialAddr(s.t, s.addr())
}

func dialAddr(t testing.TB, addr string) *client {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	return &client{t: t, conn: conn, br: bufio.NewReader(conn)}
}

// send writes raw text.
func (c *client) send(text string) {
	c.t.Helper()
	if _, err := c.conn.Write([]byte(text)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// reply reads one (possibly multi-line) reply and returns its lines.
func (c *client) reply() []string {
	c.t.Helper()
	var lines []string
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read reply (after %q): %v", lines, err)
		}
		line = strings.TrimRight(line, "\r\n")
		lines = append(lines, line)
		if len(line) < 4 || line[3] != '-' {
			return lines
		}
	}
}

// expect reads a reply and checks that its last line starts with prefix.
func (c *client) expect(prefix string) string {
	c.t.Helper()
	lines := c.reply()
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, prefix) {
		c.t.Fatalf("reply %q, want prefix %q", lines, prefix)
	}
	return last
}

// cmd sends a command line and expects a reply prefix.
func (c *client) cmd(line, prefix string) string {
	c.t.Helper()
	c.send(line + "\r\n")
	return c.expect(prefix)
}

// closed reports whether the server closed the connection (reads EOF).
func (c *client) closed() bool {
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := c.br.ReadByte()
	return err != nil
}

// waitFor polls cond until it holds; it fails the test after 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// baseConf is a listener on an ephemeral loopback port serving example.com.
const baseConf = `
Spoolbase = "SPOOL"
Domain "example.com" { }
ESMTP_Listener {
  Banner_Hostname = "mx.test"
  Listen "127.0.0.1:0" { }
}
`

func conf(extra string) string {
	return strings.Replace(baseConf, `Banner_Hostname = "mx.test"`, `Banner_Hostname = "mx.test"`+"\n"+extra, 1)
}

func fmtLines(lines []string) string { return fmt.Sprintf("%q", lines) }
