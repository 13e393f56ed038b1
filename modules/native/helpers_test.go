package native

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/memtype"
	"github.com/ecelerity-go/ecelerity/modules"
)

// subject is the host object the greet hook hands to C as a handle.
type subject struct {
	name string
	n    int64
}

var subjectAccessors = &Accessors{
	Int: func(v any, field string) (int64, bool) {
		if field == "n" {
			return v.(*subject).n, true
		}
		return 0, false
	},
	String: func(v any, field string) (string, bool) {
		if field == "name" {
			return v.(*subject).name, true
		}
		return "", false
	},
}

// The hooks of the test module (testdata/testmod.c). unboundHook has no
// native binding on purpose.
var (
	versionHook = hooks.DeclareValued[func() int](hooks.Scope("nativetest"), "version", hooks.FirstNonZero[int](), -1)
	addHook     = hooks.DeclareValued[func(a, b int) int](hooks.Scope("nativetest"), "add", hooks.FirstNonZero[int](), -1)
	blockHook   = hooks.DeclareValued[func(rfd, wfd int) int](hooks.Scope("nativetest"), "block", hooks.FirstNonZero[int](), -1)
	greetHook   = hooks.DeclareValued[func(s *subject, prefix string) int](hooks.Scope("nativetest"), "greet", hooks.FirstNonZero[int](), -1)
	benchHook   = hooks.DeclareValued[func(x int) int](hooks.Scope("nativetest"), "bench", hooks.FirstNonZero[int](), -1)
	goBenchHook = hooks.DeclareValued[func(x int) int](hooks.Scope("nativetest"), "gobench", hooks.FirstNonZero[int](), -1)
	unboundHook = hooks.DeclareValued[func() int](hooks.Scope("nativetest"), "unbound", hooks.FirstNonZero[int](), -1)
)

func init() {
	Bind(&versionHook.Hook, func(p *Provider) func() int {
		return func() int { return int(int32(p.Call0())) }
	})
	Bind(&addHook.Hook, func(p *Provider) func(a, b int) int {
		return func(a, b int) int { return int(int32(p.Call2(Word(a), Word(b)))) }
	})
	Bind(&blockHook.Hook, func(p *Provider) func(rfd, wfd int) int {
		return func(rfd, wfd int) int { return int(int32(p.Call2(Word(rfd), Word(wfd)))) }
	})
	Bind(&greetHook.Hook, func(p *Provider) func(s *subject, prefix string) int {
		return func(s *subject, prefix string) int {
			f := NewFrame()
			defer f.Release()
			return int(int32(p.Call2(f.Handle(s, subjectAccessors), f.String(prefix))))
		}
	})
	Bind(&benchHook.Hook, func(p *Provider) func(x int) int {
		return func(x int) int { return int(p.Call1(Word(x))) }
	})
}

// needCC returns the C compiler the sample modules are built with. The
// tests need one (.ci/run installs gcc when it is missing), so its absence
// fails the test rather than skipping what it checks.
func needCC(t testing.TB) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Fatal("no C compiler (cc) on PATH to build the sample native modules: install one (Debian: apt-get install gcc), as .ci/run does")
	}
	return cc
}

// compile builds src (relative to the package) into out with defines.
func compile(t testing.TB, src, out string, defines ...string) {
	t.Helper()
	cc := needCC(t)
	args := []string{"-shared", "-fPIC", "-O2", "-Iinclude", "-o", out, src}
	for _, d := range defines {
		args = append(args, "-D"+d)
	}
	if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("cc %s: %v\n%s", strings.Join(args, " "), err, b)
	}
}

// buildTo builds the test module into a temporary file and returns its bytes.
func buildBytes(t testing.TB, defines ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "build.so")
	compile(t, "testdata/testmod.c", out, defines...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// logSink records log messages and lets a test wait for one.
type logSink struct {
	mu   sync.Mutex
	msgs []string
	wake chan struct{}
}

func newLogSink() *logSink { return &logSink{wake: make(chan struct{})} }

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler       { return s }
func (s *logSink) WithGroup(string) slog.Handler            { return s }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	s.mu.Lock()
	s.msgs = append(s.msgs, b.String())
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
	return nil
}

// count returns how many messages contain sub.
func (s *logSink) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

// wait blocks until n messages contain sub. The deadline only turns a hang
// into a failure.
func (s *logSink) wait(t testing.TB, sub string, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		s.mu.Lock()
		wake := s.wake
		s.mu.Unlock()
		if s.count(sub) >= n {
			return
		}
		select {
		case <-wake:
		case <-deadline:
			t.Fatalf("no log message %q (x%d); got:\n%s", sub, n, strings.Join(s.msgs, "\n"))
		}
	}
}

// env is a libexec directory, a runtime directory, a native loader and a
// module system using it.
type env struct {
	t       testing.TB
	libexec string
	runtime string
	loader  *Loader
	mem     *memtype.Registry
	store   *config.Store
	m       *modules.Manager
	logs    *logSink
	n       int
}

func newEnv(t testing.TB, opt func(*Options), more ...modules.Loader) *env {
	t.Helper()
	needCC(t)
	e := &env{t: t, libexec: t.TempDir(), runtime: t.TempDir(), mem: memtype.NewRegistry(memtype.Options{}), logs: newLogSink()}
	o := Options{RuntimeDir: e.runtime, Logger: slog.New(e.logs), Memory: e.mem, Shadowed: more}
	if opt != nil {
		opt(&o)
	}
	l, err := NewLoader(o)
	if err != nil {
		t.Fatal(err)
	}
	e.loader = l
	e.store = config.NewStore(config.NewRegistry(), config.StoreOptions{})
	m, err := modules.New(modules.Options{
		Store: e.store, Loaders: append([]modules.Loader{l}, more...),
		Libexec: []string{e.libexec}, Logger: slog.New(e.logs),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	l.Attach(m)
	t.Cleanup(func() {
		if err := m.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		l.Close()
	})
	return e
}

// install builds the test module as name.so (replacing the file, as a build
// does: a new inode) with its manifest.
func (e *env) install(name string, defines ...string) {
	e.t.Helper()
	e.manifest(name)
	if name != "testmod" {
		defines = append(defines, fmt.Sprintf("MODNAME=%q", name))
	}
	b := buildBytes(e.t, defines...)
	tmp := filepath.Join(e.libexec, name+".so.tmp")
	if err := os.WriteFile(tmp, b, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, e.soPath(name)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) manifest(name string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.libexec, name+".ecm"), []byte("["+name+"]\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) soPath(name string) string { return filepath.Join(e.libexec, name+".so") }

func (e *env) confFile(text string) string {
	e.t.Helper()
	e.n++
	p := filepath.Join(e.libexec, fmt.Sprintf("ecelerity%d.conf", e.n))
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) start(conf string) {
	e.t.Helper()
	if err := e.m.Start(context.Background(), e.confFile(conf)); err != nil {
		e.t.Fatalf("Start: %v", err)
	}
}

func (e *env) reload(conf string) error {
	e.t.Helper()
	return e.m.Reload(context.Background(), e.confFile(conf))
}

func (e *env) control(args ...string) string {
	e.t.Helper()
	out, err := e.m.Control(args)
	if err != nil {
		e.t.Fatalf("control %v: %v (%q)", args, err, out)
	}
	return out
}

func (e *env) version() int { return hooks.Call0(versionHook, e.m.Hooks()) }

// stats returns the memory type's counters.
func (e *env) stats(name string) memtype.Stats {
	e.t.Helper()
	t, ok := e.mem.Lookup(name)
	if !ok {
		e.t.Fatalf("no memory type %q", name)
	}
	return t.Stats()
}
