package scriptlet

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/internal/testenv"
	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// Hooks the test scripts provide, bound the way a declaring package binds its hooks.
var (
	// checkHook: a valued hook in a module scope; Lua method sltest_check(str).
	checkHook = hooks.DeclareValued[func(s string) int](hooks.Scope("sltest"), "check", hooks.FirstNonZero[int](), -1)
	// enqueueHook: a void core hook; Lua method core_sltest_enqueue(str).
	enqueueHook = hooks.DeclareVoid[func(out *[]string, s string)](hooks.Core, "sltest_enqueue")
	// validateHook: a suspendable validation phase; Lua method validate_sltest(str, vctx).
	validateHook = hooks.DeclareValued[func(s string, v *testVctx) int](hooks.Scope("sltest"), "validate_sltest", hooks.FirstNonZero[int](), -1)
	// probeHook: hands the script a probe object; Lua method sltest_probe(probe, arg).
	probeHook = hooks.DeclareValued[func(pr *probe, arg string) int](hooks.Scope("sltest"), "probe", hooks.FirstNonZero[int](), -1)
	// orphanHook has no Lua adapter: a script providing it must be refused at load.
	orphanHook = hooks.DeclareVoid[func()](hooks.Scope("sltest"), "orphan")
)

func init() {
	Bind(checkHook, "", func(p *Provider) func(string) int {
		return func(s string) int {
			r, out := p.Call(nil, String(s))
			if out != Returned {
				return -1
			}
			n, _ := r.Int()
			return int(n)
		}
	})
	Bind(enqueueHook, "", func(p *Provider) func(*[]string, string) {
		return func(out *[]string, s string) {
			if r, o := p.Call(nil, String(s)); o == Returned {
				if str, ok := r.Str(); ok {
					*out = append(*out, str)
				}
			}
		}
	})
	Bind(validateHook, "validate_sltest", func(p *Provider) func(string, *testVctx) int {
		return func(s string, v *testVctx) int {
			r, out := p.Call(v, String(s), Object(vctxClass, v))
			switch out {
			case Suspended:
				return ValidateAgain
			case Returned:
				if n, ok := r.Int(); ok {
					return int(n)
				}
			}
			return -1
		}
	})
	Bind(probeHook, "", func(p *Provider) func(*probe, string) int {
		return func(pr *probe, arg string) int {
			r, out := p.Call(nil, Object(probeClass, pr), String(arg))
			if out != Returned {
				return -1
			}
			n, _ := r.Int()
			return int(n)
		}
	})
}

// testVctx is a validation context: a Suspender with a dictionary.
type testVctx struct {
	parking Parking
	resumed chan struct{}
	mu      sync.Mutex
	code    int
	msg     string
}

func newVctx() *testVctx { return &testVctx{resumed: make(chan struct{}, 4)} }

func (v *testVctx) Parking() *Parking { return &v.parking }

func (v *testVctx) Resume(time.Time) { v.resumed <- struct{}{} }

var vctxClass = NewClass("vctx", map[string]Method{
	"set_code": func(c *Call, self any, args []Value) ([]Value, error) {
		v := self.(*testVctx)
		n, _ := argAt(args, 0).Int()
		s, _ := argAt(args, 1).Str()
		v.mu.Lock()
		v.code, v.msg = int(n), s
		v.mu.Unlock()
		return nil, nil
	},
	// lookup does "blocking" work through InPool and returns its result.
	"lookup": func(c *Call, self any, args []Value) ([]Value, error) {
		name, _ := argAt(args, 0).Str()
		return c.InPool("IO", func() ([]Value, error) {
			if name == "fail" {
				return nil, fmt.Errorf("no such name")
			}
			return []Value{String("addr-of-" + name)}, nil
		})
	},
}, nil)

// probe lets a test see and steer what a script does: signal sends to a channel, wait
// blocks until the gate opens, onloop tells whether the code runs on the test loop.
type probe struct {
	signals chan string
	gate    chan struct{}
	entered chan struct{}
	loop    *sched.Loop
}

func newProbe(loop *sched.Loop) *probe {
	return &probe{signals: make(chan string, 64), gate: make(chan struct{}), entered: make(chan struct{}, 8), loop: loop}
}

var probeClass = NewClass("probe", map[string]Method{
	"signal": func(c *Call, self any, args []Value) ([]Value, error) {
		parts := make([]string, len(args))
		for i, a := range args {
			parts[i] = a.String()
		}
		self.(*probe).signals <- strings.Join(parts, " ")
		return nil, nil
	},
	"wait": func(c *Call, self any, args []Value) ([]Value, error) {
		p := self.(*probe)
		p.entered <- struct{}{}
		<-p.gate
		return nil, nil
	},
	"onloop": func(c *Call, self any, args []Value) ([]Value, error) {
		p := self.(*probe)
		return []Value{Bool(p.loop != nil && p.loop.OnLoop())}, nil
	},
}, nil)

// next returns the next signal, failing the test after a generous bound (a hang is a bug,
// not a slow machine).
func (p *probe) next(t testing.TB) string {
	t.Helper()
	select {
	case s := <-p.signals:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no signal from the script")
		return ""
	}
}

// harness is a config store, a module manager with the scriptlet runtime and the Lua
// module loader, optionally a running loop, and a directory for scripts and configs.
type harness struct {
	t     testing.TB
	dir   string
	luaD  string
	store *config.Store
	m     *modules.Manager
	rt    *Runtime
	loop  *sched.Loop
	pools *threadpool.Manager
	probe *probe
	log   *testenv.SyncBuffer
	n     int
}

type harnessOpts struct {
	loop       bool
	noRuntime  bool // the Lua loader gets no runtime
	luaMaxSize int64
	msys       map[string]Value // Options.Msys
}

func newHarness(t testing.TB, ho harnessOpts) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), log: &testenv.SyncBuffer{}}
	h.luaD = filepath.Join(h.dir, "lua")
	if err := os.MkdirAll(filepath.Join(h.dir, "libexec", "scriptlets", "msys"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(h.luaD, 0o755); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(h.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if ho.loop {
		h.loop = testenv.StartLoop(t, sched.Options{})
	}
	h.pools = threadpool.NewManager(threadpool.Options{Loop: h.loop, Logger: logger})
	h.probe = newProbe(h.loop)
	h.store = config.NewStore(config.NewRegistry(), config.StoreOptions{})
	h.rt = New(Options{
		Loop: h.loop, Pools: h.pools, Store: h.store, Logger: logger,
		Libexec:      []string{filepath.Join(h.dir, "libexec")},
		WatchdogTick: 2 * time.Millisecond,
		Globals:      map[string]Value{"probe": Object(probeClass, h.probe)},
		Msys:         ho.msys,
	})
	b := modules.NewBuiltins()
	b.Register(h.rt.Info())
	lrt := h.rt
	if ho.noRuntime {
		lrt = nil
	}
	m, err := modules.New(modules.Options{
		Store: h.store, Loop: h.loop, Logger: logger,
		Loaders: []modules.Loader{b.Loader(), NewLuaLoader(LuaLoaderOptions{Runtime: lrt, Dir: h.luaD, MaxSize: ho.luaMaxSize})},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("modules Close: %v", err)
		}
		h.rt.Close()
		h.pools.Shutdown(ctx)
	})
	return h
}

// script writes a script file under the test directory (rel may contain '/').
func (h *harness) script(rel, text string) string {
	h.t.Helper()
	p := filepath.Join(h.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// conf writes a configuration file in the test directory and returns its path.
func (h *harness) conf(text string) string {
	h.t.Helper()
	h.n++
	return h.script(fmt.Sprintf("ecelerity%d.conf", h.n), text)
}

func (h *harness) start(text string) {
	h.t.Helper()
	if err := h.m.Start(context.Background(), h.conf(text)); err != nil {
		h.t.Fatalf("Start: %v", err)
	}
}

func (h *harness) reload(text string) error {
	h.t.Helper()
	return h.m.Reload(context.Background(), h.conf(text))
}

// stanza returns a scriptlet stanza loading the named scripts (name = source).
func stanza(opts string, scripts ...string) string {
	var b strings.Builder
	b.WriteString("scriptlet \"scriptlet\" {\n" + opts + "\n")
	for _, s := range scripts {
		name, src, _ := strings.Cut(s, "=")
		fmt.Fprintf(&b, "  script %q { source = %q }\n", name, src)
	}
	b.WriteString("}\n")
	return b.String()
}

// check calls checkHook on the live registry.
func (h *harness) check(s string) int { return hooks.Call1(checkHook, h.m.Hooks(), s) }

// onLoop runs fn on the test loop and waits for it.
func (h *harness) onLoop(fn func()) {
	h.t.Helper()
	done := make(chan struct{})
	h.loop.Dispatch(func(time.Time) {
		defer close(done)
		fn()
	})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		h.t.Fatal("loop did not run the function")
	}
}

// gen returns the current module generation (released at cleanup).
func (h *harness) gen() *modules.Generation {
	g := h.m.Current()
	h.t.Cleanup(g.Release)
	return g
}
