package modules

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/sched"
)

var benchHook = hooks.DeclareVoid[func(n *int)](hooks.Scope("modbench"), "count")

// benchMod registers an option in its own scope and a hook provider: from
// SingletonHooks when a singleton, from ExtInit otherwise. Module bm0 also
// defines the Domain option the 10,000 Domain stanzas set.
type benchMod struct {
	name      string
	singleton bool
	level     *config.Option[int64]
}

func (b *benchMod) ConfSetup(ctx *SetupCtx) error {
	fb := b.name
	if b.singleton {
		fb = "[" + b.name + "]"
	}
	var err error
	if b.level, err = config.Define(ctx.Config(), config.Spec[int64]{Name: "level", Fallback: fb, Default: "1"}, config.IntType()); err != nil {
		return err
	}
	if b.name == "bm0" {
		if _, err := config.Define(ctx.Config(), config.Spec[int64]{Name: "bench_domain_opt", Fallback: "Domain>Global"}, config.IntType()); err != nil {
			return err
		}
	}
	ctx.SetShared(b.level)
	if b.singleton {
		ctx.SingletonHooks(func(r *hooks.Registry) error {
			return benchHook.RegisterLast(r, b.name, func(n *int) { *n++ }, hooks.Singleton())
		})
	}
	return nil
}

func (b *benchMod) ExtInit(ctx *InitCtx, mode Mode) error {
	if mode != Init || b.singleton {
		return nil
	}
	level := ctx.Shared().(*config.Option[int64]).Module(ctx.Config(), ctx.Instance())
	return benchHook.RegisterLast(ctx.Hooks(), ctx.Module(), func(n *int) { *n += int(level) })
}

const benchDomains = 10000

// benchConfig writes the 10,000-Domain configuration, with the 50 module
// stanzas when withModules.
func benchConfig(tb testing.TB, withModules bool) string {
	var sb strings.Builder
	if withModules {
		for i := 0; i < 50; i++ {
			if i%2 == 0 {
				fmt.Fprintf(&sb, "bm%d { level = %d }\n", i, i)
			} else {
				fmt.Fprintf(&sb, "bm%d \"inst\" { level = %d }\n", i, i)
			}
		}
	}
	for i := 0; i < benchDomains; i++ {
		fmt.Fprintf(&sb, "Domain \"d%d.example\" { bench_domain_opt = %d }\n", i, i)
	}
	p := filepath.Join(tb.TempDir(), "ecelerity.conf")
	if err := os.WriteFile(p, []byte(sb.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkReload50Modules10kDomains reloads a generation of 50 modules (half
// singletons, half not, each with an option and a hook provider) and a
// 10,000-Domain configuration on a running sched.Loop. ns/op is the time to
// commit; max-loop-blocked-ns and mean-loop-blocked-ns are the swap closure's
// duration on the loop, which is all of the reload the loop runs (goal: under
// 1 ms).
func BenchmarkReload50Modules10kDomains(b *testing.B) {
	loop, err := sched.New(sched.Options{})
	if err != nil {
		b.Fatal(err)
	}
	go loop.Run()
	defer loop.Stop()
	bs := NewBuiltins()
	for i := 0; i < 50; i++ {
		name, single := fmt.Sprintf("bm%d", i), i%2 == 0
		bs.Register(Info{Name: name, Singleton: single, New: func() Module { return &benchMod{name: name, singleton: single} }})
	}
	store := config.NewStore(config.NewRegistry(), config.StoreOptions{})
	m, err := New(Options{Store: store, Loop: loop, Loaders: []Loader{bs.Loader()}})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close(context.Background())
	path := benchConfig(b, true)
	ctx := context.Background()
	if err := m.Start(ctx, path); err != nil {
		b.Fatal(err)
	}
	if g := m.Current(); len(g.Modules()) != 50 {
		b.Fatalf("loaded %d modules", len(g.Modules()))
	} else {
		g.Release()
	}
	var maxSwap, sumSwap time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := m.Reload(ctx, path); err != nil {
			b.Fatal(err)
		}
		d := m.LastSwap()
		sumSwap += d
		maxSwap = max(maxSwap, d)
	}
	b.StopTimer()
	b.ReportMetric(float64(maxSwap.Nanoseconds()), "max-loop-blocked-ns")
	b.ReportMetric(float64(sumSwap.Nanoseconds())/float64(b.N), "mean-loop-blocked-ns")
	var n int
	hooks.CallVoid1(benchHook, m.Hooks(), &n)
	if want := 25 + (1 + 3 + 5 + 7 + 9 + 11 + 13 + 15 + 17 + 19 + 21 + 23 + 25 + 27 + 29 + 31 + 33 + 35 + 37 + 39 + 41 + 43 + 45 + 47 + 49); n != want {
		b.Fatalf("hook total %d, want %d", n, want)
	}
}

// BenchmarkReloadConfigOnly10kDomains is the peer: the same 10,000 Domain
// stanzas reloaded by the config store alone, without the module system, so
// that the difference is what modules add.
func BenchmarkReloadConfigOnly10kDomains(b *testing.B) {
	reg := config.NewRegistry()
	config.MustDefine(reg, config.Spec[int64]{Name: "bench_domain_opt", Fallback: "Domain>Global"}, config.IntType())
	store := config.NewStore(reg, config.StoreOptions{})
	// Started, like the manager's store after Start: commits then compare
	// NotDynamic options, which the module reload pays too.
	store.MarkStarted()
	path := benchConfig(b, false)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g, err := store.Reload(path)
		if err != nil {
			b.Fatal(err)
		}
		g.Release()
	}
}
