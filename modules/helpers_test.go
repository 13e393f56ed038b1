package modules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/hooks"
)

// Hooks the test modules provide. whoHook: every instance answers its label
// and generation (non-singletons register in ExtInit); singleHook: singletons
// answer once from SingletonHooks; blockHook: a provider that waits, to hold
// a call in flight.
var (
	whoHook    = hooks.DeclareVoid[func(out *[]string)](hooks.Scope("modtest"), "who")
	singleHook = hooks.DeclareVoid[func(out *[]string)](hooks.Scope("modtest"), "single")
	blockHook  = hooks.DeclareVoid[func()](hooks.Scope("modtest"), "block")
)

// recorder keeps the lifecycle events of every test module object, in order.
type recorder struct {
	mu     sync.Mutex
	events []string
	// failInit and failPost name instance labels whose next ext_init fails.
	failInit, failPost map[string]bool
	// block, when set, is waited on by the next blockHook provider to run
	// (one only); entered is closed when it has entered.
	block   chan struct{}
	entered chan struct{}
}

// armBlock makes the next blockHook provider wait until block is closed, and
// returns a channel closed once it is waiting.
func (r *recorder) armBlock(block chan struct{}) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.block, r.entered = block, make(chan struct{})
	return r.entered
}

// waitIfArmed is the blockHook provider's body.
func (r *recorder) waitIfArmed() {
	r.mu.Lock()
	block, entered := r.block, r.entered
	r.block, r.entered = nil, nil
	r.mu.Unlock()
	if block != nil {
		close(entered)
		<-block
	}
}

func newRecorder() *recorder {
	return &recorder{failInit: map[string]bool{}, failPost: map[string]bool{}}
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

// matching returns the events that start with prefix.
func (r *recorder) matching(prefix string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if strings.HasPrefix(e, prefix) {
			out = append(out, e)
		}
	}
	return out
}

func (r *recorder) setFail(label string, init bool, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if init {
		r.failInit[label] = on
	} else {
		r.failPost[label] = on
	}
}

func (r *recorder) fails(label string, init bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if init {
		return r.failInit[label]
	}
	return r.failPost[label]
}

// spec describes a test module.
type spec struct {
	name      string
	singleton bool
	requires  []string
	// provides lists capabilities "Scope:Scope.Option" below config.Global;
	// the module defines each option with that chain as its fallback.
	provides  []string
	failSetup bool
	noBlock   bool // do not provide blockHook
}

var objSeq atomic.Int64

// testMod is the infrastructure object of a test module.
type testMod struct {
	sp  spec
	rec *recorder
	id  int64
}

var (
	_ ConfSetuper = (*testMod)(nil)
	_ ExtIniter   = (*testMod)(nil)
	_ Controller  = (*testMod)(nil)
	_ Describer   = (*testMod)(nil)
)

func (t *testMod) Describe() string { return "test module " + t.sp.name }

func (t *testMod) ConfSetup(ctx *SetupCtx) error {
	t.rec.add("setup %s privileged=%v", t.sp.name, ctx.Privileged())
	if t.sp.failSetup {
		return fmt.Errorf("setup of %s refused", t.sp.name)
	}
	fb := t.sp.name
	if t.sp.singleton {
		fb = "[" + t.sp.name + "]"
	}
	if _, err := config.Define(ctx.Config(), config.Spec[string]{Name: "level", Fallback: fb}, config.StringType()); err != nil {
		return err
	}
	for _, p := range t.sp.provides {
		scopes, opt, _ := strings.Cut(p, ".")
		chain := strings.TrimPrefix(scopes, "Global:")
		if !strings.Contains(p, ".") {
			chain, opt = "Global", strings.TrimPrefix(p, "Global:")
		}
		if _, err := config.Define(ctx.Config(), config.Spec[string]{Name: opt, Fallback: chain}, config.StringType()); err != nil {
			return err
		}
	}
	ctx.SetShared("shared:" + t.sp.name)
	if t.sp.singleton {
		name := t.sp.name
		ctx.SingletonHooks(func(reg *hooks.Registry) error {
			return singleHook.RegisterLast(reg, name, func(out *[]string) { *out = append(*out, name) }, hooks.Singleton())
		})
	}
	return nil
}

func (t *testMod) ExtInit(ctx *InitCtx, mode Mode) error {
	lbl := label(ctx.Module(), ctx.Instance())
	t.rec.add("%s %s gen=%d obj=%d privileged=%v shared=%v", mode, lbl, ctx.Generation().ID(), t.id, ctx.Privileged(), ctx.Shared())
	switch mode {
	case Init:
		if t.rec.fails(lbl, true) {
			return fmt.Errorf("init of %s refused", lbl)
		}
		gen := ctx.Generation().ID()
		if err := whoHook.RegisterLast(ctx.Hooks(), ctx.Module(), func(out *[]string) {
			*out = append(*out, fmt.Sprintf("%s@%d", lbl, gen))
		}); err != nil {
			return err
		}
		if !t.sp.noBlock {
			return blockHook.RegisterLast(ctx.Hooks(), ctx.Module(), t.rec.waitIfArmed)
		}
	case PostInit:
		if t.rec.fails(lbl, false) {
			return fmt.Errorf("post-init of %s refused", lbl)
		}
	}
	return nil
}

func (t *testMod) Control(ctx *ControlCtx, args []string) (string, error) {
	if len(args) == 1 && args[0] == "fail" {
		return "", fmt.Errorf("asked to fail")
	}
	return fmt.Sprintf("%s gen=%d args=%v", label(ctx.Module(), ctx.Instance()), ctx.Generation().ID(), args), nil
}

func manifest(sp spec) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "[%s]\n", sp.name)
	for _, r := range sp.requires {
		fmt.Fprintf(&b, "msys.requires = %s\n", r)
	}
	for _, p := range sp.provides {
		if !strings.Contains(p, ".") {
			fmt.Fprintf(&b, "msys.provides:auto = config.%s\n", p)
			continue
		}
		fmt.Fprintf(&b, "msys.provides:auto = config.%s\n", p)
	}
	return []byte(b.String())
}

// harness is a store, a manager and a set of test modules.
type harness struct {
	t     *testing.T
	b     *Builtins
	store *config.Store
	m     *Manager
	rec   *recorder
	dir   string
	n     int
}

type harnessOpt func(*Options)

func newHarness(t *testing.T, specs []spec, opts ...harnessOpt) *harness {
	t.Helper()
	h := &harness{t: t, b: NewBuiltins(), rec: newRecorder(), dir: t.TempDir()}
	for _, sp := range specs {
		sp := sp
		h.b.Register(Info{Name: sp.name, Singleton: sp.singleton, Manifest: manifest(sp), New: func() Module {
			return &testMod{sp: sp, rec: h.rec, id: objSeq.Add(1)}
		}})
	}
	h.store = config.NewStore(config.NewRegistry(), config.StoreOptions{})
	o := Options{Store: h.store, Loaders: []Loader{h.b.Loader()}}
	for _, f := range opts {
		f(&o)
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	t.Cleanup(func() {
		if err := m.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return h
}

// write stores text as a new configuration file and returns its path.
func (h *harness) write(text string) string {
	h.t.Helper()
	h.n++
	p := filepath.Join(h.dir, fmt.Sprintf("ecelerity%d.conf", h.n))
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return p
}

func (h *harness) start(text string) {
	h.t.Helper()
	if err := h.m.Start(context.Background(), h.write(text)); err != nil {
		h.t.Fatalf("Start: %v", err)
	}
}

func (h *harness) reload(text string) error {
	h.t.Helper()
	return h.m.Reload(context.Background(), h.write(text))
}

func (h *harness) mustReload(text string) {
	h.t.Helper()
	if err := h.reload(text); err != nil {
		h.t.Fatalf("Reload: %v", err)
	}
}

// loaded returns the current generation's instances in load order.
func (h *harness) loaded() []string {
	g := h.m.Current()
	defer g.Release()
	return g.Modules()
}

// who calls whoHook on the live registry.
func (h *harness) who() []string {
	var out []string
	hooks.CallVoid1(whoHook, h.m.Hooks(), &out)
	return out
}
