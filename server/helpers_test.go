package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/control"
	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/memtype"
	"github.com/ecelerity-go/ecelerity/modules"
)

// pokeHook is provided by the test module "probe"; one provider panics when asked.
var pokeHook = hooks.DeclareVoid[func(panicNow bool)](hooks.Scope("probe"), "poke")

// probe is a singleton test module with console commands, one of which panics.
type probe struct {
	log atomic.Pointer[slog.Logger] // the module's logger, kept by ExtInit
}

var (
	_ modules.Controller = (*probe)(nil)
	_ modules.ExtIniter  = (*probe)(nil)
)

func (p *probe) Control(_ *modules.ControlCtx, args []string) (string, error) {
	switch strings.Join(args, " ") {
	case "ping":
		if l := p.log.Load(); l != nil {
			l.Debug("probe debug line")
		}
		return "pong\n", nil
	case "explode":
		panic("probe exploded on purpose")
	}
	return "", fmt.Errorf("unknown probe command %q", strings.Join(args, " "))
}

func (p *probe) ExtInit(ctx *modules.InitCtx, mode modules.Mode) error {
	if mode == modules.Init {
		p.log.Store(ctx.Logger())
		return pokeHook.RegisterLast(ctx.Hooks(), "probe", func(panicNow bool) {
			if panicNow {
				panic("provider exploded")
			}
		})
	}
	return nil
}

// testLoaders returns a loader with the probe module alone, so that tests do not
// share the process-wide built-ins.
func testLoaders() []modules.Loader {
	b := modules.NewBuiltins()
	b.Register(modules.Info{Name: "probe", Singleton: true, New: func() modules.Module { return &probe{} }})
	return []modules.Loader{b.Loader()}
}

// notes records the sd_notify states a server sent.
type notes struct {
	mu     sync.Mutex
	states []string
	grew   chan struct{} // closed and replaced on every notify
}

func newNotes() *notes { return &notes{grew: make(chan struct{})} }

func (n *notes) notify(s string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	first, _, _ := strings.Cut(s, "\n")
	n.states = append(n.states, first)
	close(n.grew)
	n.grew = make(chan struct{})
	return nil
}

// waitLen waits until at least k states were sent.
func (n *notes) waitLen(t *testing.T, k int) {
	t.Helper()
	for {
		n.mu.Lock()
		l, ch := len(n.states), n.grew
		n.mu.Unlock()
		if l >= k {
			return
		}
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("waited for %d notify states, have %d", k, l)
		}
	}
}

func (n *notes) list() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.states...)
}

// fixture is a started server on temporary paths.
type fixture struct {
	s       *Server
	dir     string
	conf    string
	socket  string
	panic   string
	notes   *notes
	stderr  *syncBuffer
	mem     *memtype.Registry
	stopped bool
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// baseConfig is the configuration of a fixture; extra is added at the end.
func baseConfig(dir, extra string) string {
	return fmt.Sprintf(`Control_Listener {
  Listen %q { File_Mode = 0600 }
}
Logging {
  Paniclog = %q
  Mainlog = %q
}
ThreadPool "IO" { Concurrency = 7 }
%s
`, filepath.Join(dir, "ctl.sock"), filepath.Join(dir, "paniclog"), filepath.Join(dir, "mainlog"), extra)
}

func writeConf(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startFixture starts a server on a configuration of baseConfig plus extra.
func startFixture(t *testing.T, extra string, mod ...func(*Options)) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{dir: dir, conf: filepath.Join(dir, "ecelerity.conf"), socket: filepath.Join(dir, "ctl.sock"),
		panic: filepath.Join(dir, "paniclog"), notes: newNotes(), stderr: &syncBuffer{},
		mem: memtype.NewRegistry(memtype.Options{})}
	writeConf(t, f.conf, baseConfig(dir, extra))
	opts := Options{ConfigPath: f.conf, PidFile: filepath.Join(dir, "ecelerity.pid"), Stderr: f.stderr,
		Loaders: testLoaders(), MemTypes: f.mem, Notify: f.notes.notify, ShutdownTimeout: 10 * time.Second}
	for _, m := range mod {
		m(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v\nstderr:\n%s", err, f.stderr.String())
	}
	f.s = s
	t.Cleanup(func() { f.stop(t) })
	return f
}

func (f *fixture) stop(t *testing.T) {
	t.Helper()
	if f.stopped {
		return
	}
	f.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// client dials the fixture's control socket.
func (f *fixture) client(t *testing.T) *control.Client {
	t.Helper()
	c, err := control.Dial(f.socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// do sends line and fails the test on an error reply.
func do(t *testing.T, c *control.Client, line string) string {
	t.Helper()
	out, err := c.Do(line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return out
}

// doErr sends line and returns the error reply's text, failing if it succeeded.
func doErr(t *testing.T, c *control.Client, line string) string {
	t.Helper()
	out, err := c.Do(line)
	var re *control.ReplyError
	if !errors.As(err, &re) {
		t.Fatalf("%s: got %q, %v; want an error reply", line, out, err)
	}
	return re.Message
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
