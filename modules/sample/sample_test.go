package sample_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/modules/sample"
)

type env struct {
	t     *testing.T
	store *config.Store
	m     *modules.Manager
	dir   string
	n     int
}

func newEnv(t *testing.T, loaders ...modules.Loader) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.store = config.NewStore(config.NewRegistry(), config.StoreOptions{})
	m, err := modules.New(modules.Options{
		Store:   e.store,
		Loaders: append(loaders, modules.DefaultBuiltins().Loader()),
	})
	if err != nil {
		t.Fatal(err)
	}
	e.m = m
	t.Cleanup(func() {
		if err := m.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return e
}

func (e *env) file(text string) string {
	e.t.Helper()
	e.n++
	p := filepath.Join(e.dir, fmt.Sprintf("ecelerity%d.conf", e.n))
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) cmd(args ...string) string {
	e.t.Helper()
	out, err := e.m.Command(args)
	if err != nil {
		e.t.Fatalf("%v: %v", args, err)
	}
	return out
}

// TestImplicitLoad: using Sample_Domain_Greeting loads the module through its
// manifest, with no sample stanza.
func TestImplicitLoad(t *testing.T) {
	e := newEnv(t)
	if err := e.m.Start(t.Context(), e.file(`Domain "example.com" { Sample_Domain_Greeting = "hi there" }`+"\n")); err != nil {
		t.Fatal(err)
	}
	if got := e.cmd("sample", "greet", "example.com"); got != "hi there\n" {
		t.Errorf("greet = %q", got)
	}
	if got := e.cmd("sample", "greet", "other.org"); got != "hello\n" {
		t.Errorf("greet for an unconfigured domain = %q, want the default Sample_Greeting", got)
	}
}

// TestGreetingFallback walks the fallback path of Sample_Domain_Greeting.
func TestGreetingFallback(t *testing.T) {
	e := newEnv(t)
	conf := `
Sample_Greeting = "good day"
sample { Verbose = true }
Domain "d.example" { Sample_Domain_Greeting = domain }
Binding "b" {
  Sample_Domain_Greeting = binding
  Domain "d.example" { Sample_Domain_Greeting = "binding domain" }
}
`
	if err := e.m.Start(t.Context(), e.file(conf)); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ domain, binding, want string }{
		{"d.example", "b", "binding domain"},
		{"d.example", "", "domain"},
		{"x.example", "b", "binding"},
		{"x.example", "", "good day"},
	}
	for _, tc := range tests {
		args := []string{"sample", "greet", tc.domain}
		if tc.binding != "" {
			args = append(args, tc.binding)
		}
		if got := e.cmd(args...); got != tc.want+"\n" {
			t.Errorf("greet %s via %q = %q, want %q", tc.domain, tc.binding, got, tc.want)
		}
	}
}

// TestStatusAcrossReloads: one object for the process, settings per
// generation, old generations' settings dropped when they are destroyed, the
// commit hook seen once per commit.
func TestStatusAcrossReloads(t *testing.T) {
	e := newEnv(t)
	if err := e.m.Start(t.Context(), e.file("sample {}\n")); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Reload(t.Context(), e.file("Sample_Greeting = bonjour\n")); err != nil {
		t.Fatal(err)
	}
	got := e.cmd("sample", "status")
	want := "generation: 3\ngreeting: bonjour\nverbose: false\ngenerations held: 1\ncommits seen: 2 (last 3)\n"
	if got != want {
		t.Errorf("status:\n%s\nwant:\n%s", got, want)
	}
	if err := e.m.Reload(t.Context(), e.file("Sample_Greeting = \"  \"\n")); err == nil || !strings.Contains(err.Error(), "blank") {
		t.Errorf("blank greeting accepted: %v", err)
	}
	if _, err := e.m.Command([]string{"sample", "dance"}); err == nil {
		t.Error("unknown sub-command accepted")
	}
}

// other is a module that provides sample.greeting, as another module would.
type other struct{}

func (other) ExtInit(ctx *modules.InitCtx, mode modules.Mode) error {
	if mode != modules.Init {
		return nil
	}
	return sample.Greeting.RegisterFirst(ctx.Hooks(), ctx.Module(), func(binding, domain string) string {
		if domain == "vip.example" {
			return "welcome back"
		}
		return ""
	})
}

// TestGreetingHook: a provider of sample.greeting chooses before the
// configuration does.
func TestGreetingHook(t *testing.T) {
	b := modules.NewBuiltins()
	b.Register(modules.Info{Name: "vip", New: func() modules.Module { return other{} }})
	e := newEnv(t, b.Loader())
	if err := e.m.Start(t.Context(), e.file("sample {}\nvip \"v\" {}\n")); err != nil {
		t.Fatal(err)
	}
	if got := e.cmd("sample", "greet", "vip.example"); got != "welcome back\n" {
		t.Errorf("greet = %q", got)
	}
	if got := e.cmd("sample", "greet", "plain.example"); got != "hello\n" {
		t.Errorf("greet = %q", got)
	}
	if !sample.Greeting.Has(e.m.Hooks()) {
		t.Error("no provider installed")
	}
}
