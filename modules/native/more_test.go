package native

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ecelerity-go/ecelerity/ecm"
	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// cmod: load a library, look functions up, call them; typed errors; a
// changed file makes the old handle refuse lookups, a new load replaces it
// in the cache, and functions of the old load keep their code.
func TestCmod(t *testing.T) {
	e := newEnv(t, nil)
	e.install("testmod", "VERSION=1")
	m, err := e.loader.LoadC(e.soPath("testmod"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Path() != e.soPath("testmod") || m.State() != StateCached {
		t.Errorf("path %q state %q", m.Path(), m.State())
	}
	echo, err := m.Func("echo")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := echo.Call("a", "", "c d"); err != nil || !slices.Equal(got, []string{"a", "", "c d"}) {
		t.Errorf("echo = %q, %v", got, err)
	}
	fail, err := m.Func("fail")
	if err != nil {
		t.Fatal(err)
	}
	if res, err := fail.Call(); !errors.Is(err, ErrModule) || !strings.Contains(err.Error(), "it went wrong") || len(res) != 1 {
		t.Errorf("fail = %q, %v; want ErrModule with its text", res, err)
	}
	if _, err := m.Func("nosuch"); !errors.Is(err, ErrSymbol) {
		t.Errorf("Func(nosuch): %v, want ErrSymbol", err)
	}
	if _, err := m.Func(""); !errors.Is(err, ErrBadParams) {
		t.Errorf("Func(\"\"): %v, want ErrBadParams", err)
	}
	who1, err := m.Func("whoami")
	if err != nil {
		t.Fatal(err)
	}

	e.install("testmod", "VERSION=2")
	if _, err := m.Func("whoami"); !errors.Is(err, ErrChanged) {
		t.Errorf("Func after the file changed: %v, want ErrChanged", err)
	}
	m2, err := e.loader.LoadC(e.soPath("testmod"))
	if err != nil {
		t.Fatal(err)
	}
	if m.State() != StateOrphan || m2.State() != StateCached {
		t.Errorf("states: old %s new %s", m.State(), m2.State())
	}
	who2, err := m2.Func("whoami")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		f    *CFunc
		want string
	}{{who1, "v1"}, {who2, "v2"}} {
		if got, err := c.f.Call(); err != nil || len(got) != 1 || got[0] != c.want {
			t.Errorf("whoami = %q, %v; want %s", got, err, c.want)
		}
	}
	if err := m.Unload(); err != nil {
		t.Fatal(err)
	}
	if err := m.Unload(); !errors.Is(err, ErrUnloaded) {
		t.Errorf("second Unload: %v", err)
	}
	if _, err := m.Func("echo"); !errors.Is(err, ErrUnloaded) {
		t.Errorf("Func after Unload: %v", err)
	}
	// The function keeps the old load alive past its module's unload.
	if got, _ := who1.Call(); len(got) != 1 || got[0] != "v1" {
		t.Errorf("old function after unload = %q", got)
	}
	for _, f := range []*CFunc{echo, fail, who1} {
		if err := f.Release(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := who1.Call(); !errors.Is(err, ErrUnloaded) {
		t.Errorf("Call after Release: %v", err)
	}
	e.logs.wait(t, "library unloaded load=1", 1)

	if _, err := e.loader.LoadC(filepath.Join(e.libexec, "none.so")); !errors.Is(err, ErrNoLibrary) {
		t.Errorf("LoadC of a missing file: %v, want ErrNoLibrary", err)
	}
	if _, err := e.loader.LoadC(""); !errors.Is(err, ErrBadParams) {
		t.Errorf("LoadC(\"\"): %v", err)
	}
	junk := filepath.Join(e.libexec, "junk.so")
	if err := os.WriteFile(junk, []byte("not an ELF file"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := e.loader.LoadC(junk); !errors.Is(err, ErrDlopen) {
		t.Errorf("LoadC of junk: %v, want ErrDlopen", err)
	}
}

// Jobs and timed events a module queues run and complete; a job still
// running holds its library past the generation that loaded it.
func TestJobsAndTimers(t *testing.T) {
	loop, err := sched.New(sched.Options{})
	if err != nil {
		t.Fatal(err)
	}
	go loop.Run()
	pools := threadpool.NewManager(threadpool.Options{Loop: loop})
	t.Cleanup(func() {
		if _, err := pools.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		loop.Stop()
	})
	e := newEnv(t, func(o *Options) { o.Pools, o.Loop = pools, loop })
	e.install("testmod", "VERSION=1")
	e.start(`testmod { }`)

	if got := e.control("testmod", "job"); got != "0" {
		t.Fatalf("job_queue = %s", got)
	}
	e.logs.wait(t, "job done 7", 1)
	if got := e.control("testmod", "timer"); got != "0" {
		t.Fatalf("timer_after = %s", got)
	}
	e.logs.wait(t, "timer fired", 1)

	// A job blocked in the old code keeps the old load after a reload.
	_, release, holdFD, _ := pipe(t)
	if got := e.control("testmod", "blockjob", strconv.Itoa(holdFD)); got != "0" {
		t.Fatalf("blockjob = %s", got)
	}
	first := e.loader.Libraries()[0]
	g := e.m.Current()
	destroyed := g.Destroyed()
	g.Release()
	e.install("testmod", "VERSION=2")
	if err := e.reload(`testmod { }`); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, destroyed)
	libs := e.loader.Libraries()
	if len(libs) != 2 || libs[0].Load != first.Load || libs[0].State != StateOrphan {
		t.Fatalf("libraries while the job runs: %+v", libs)
	}
	if _, err := release.Write([]byte{1}); err != nil {
		t.Fatal(err)
	}
	e.logs.wait(t, "library unloaded load="+strconv.Itoa(int(first.Load)), 1)
	if _, err := os.Stat(first.Copy); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old copy not removed: %v", err)
	}
}

// Without pools or a loop, job_queue and timer_after are refused.
func TestJobsWithoutPools(t *testing.T) {
	e := newEnv(t, nil)
	e.install("testmod")
	e.start(`testmod { }`)
	if got := e.control("testmod", "job"); got != "-3" {
		t.Errorf("job_queue without pools = %s, want EC_ENOTSUP (-3)", got)
	}
	if got := e.control("testmod", "timer"); got != "-3" {
		t.Errorf("timer_after without a loop = %s, want EC_ENOTSUP (-3)", got)
	}
}

// A runtime directory mounted noexec is refused, naming it.
func TestNoexecRuntimeDir(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOEXEC, "size=1m"); err != nil {
		t.Skipf("cannot mount a noexec tmpfs here (%v): needs root with CAP_SYS_ADMIN", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, 0) })
	_, err := NewLoader(Options{RuntimeDir: dir})
	if !errors.Is(err, ErrNoExec) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("NewLoader on noexec: %v, want ErrNoExec naming the directory", err)
	}
}

// luaLoader stands in for the Lua loader: it opens a name that has X.lua
// beside its manifest.
type luaLoader struct{}

func (luaLoader) Kind() modules.Kind { return modules.Lua }

func (luaLoader) Open(name string, found *ecm.Found) (*modules.Info, error) {
	if found == nil {
		return nil, errors.New("no manifest")
	}
	if _, err := os.Stat(filepath.Join(found.Dir, found.Name+".lua")); err != nil {
		return nil, err
	}
	return &modules.Info{Name: found.Name, Kind: modules.Lua, Singleton: true, New: func() modules.Module { return struct{}{} }}, nil
}

// A native module wins over a Lua module of the same name, and module list
// says which it shadows.
func TestNativeShadowsLua(t *testing.T) {
	e := newEnv(t, nil, luaLoader{})
	e.install("testmod")
	if err := os.WriteFile(filepath.Join(e.libexec, "testmod.lua"), []byte("-- lua"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.start(`testmod { }`)
	if got := e.version(); got != 1 {
		t.Errorf("version = %d: the native module did not load", got)
	}
	list := modules.FormatModuleList(e.m.Modules())
	for _, want := range []string{"Kind: native", "shadows the lua module testmod"} {
		if !strings.Contains(list, want) {
			t.Errorf("module list lacks %q:\n%s", want, list)
		}
	}
	if got := e.loader.Shadowed("testmod"); !slices.Equal(got, []modules.Kind{modules.Lua}) {
		t.Errorf("Shadowed = %v", got)
	}
}

// The sample module builds with the README's line and does what it says:
// an option, a memory type, a hook provider and a control command.
func TestSampleModule(t *testing.T) {
	e := newEnv(t, nil)
	compile(t, "sample/native_sample.c", e.soPath("native_sample"))
	ecmText, err := os.ReadFile("sample/native_sample.ecm")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.libexec, "native_sample.ecm"), ecmText, 0o644); err != nil {
		t.Fatal(err)
	}
	e.start(`native_sample { greeting = "hi there" }`)
	if err := e.reload(`native_sample { greeting = "hi there" limit = 3 }`); err != nil {
		t.Fatal(err)
	}
	got := e.control("native_sample", "status")
	// Start and the reload each committed a generation the hook saw.
	if want := "hi there (limit 3); 2 commits seen; loaded 1 times\n"; got != want {
		t.Errorf("status = %q, want %q", got, want)
	}
	if st := e.stats("native_sample:state"); st.Active != 1 {
		t.Errorf("state memory type: %d live, want 1", st.Active)
	}
	if _, err := e.m.Control([]string{"native_sample", "bogus"}); !errors.Is(err, ErrModule) {
		t.Errorf("bad command: %v, want ErrModule", err)
	}
}

// A non-singleton module registers its hooks in ext_init, once per instance
// per generation; its options are per instance.
func TestNonSingleton(t *testing.T) {
	e := newEnv(t, nil)
	e.install("testmod", "NOT_SINGLETON")
	e.start(`testmod "a" { count = 1 } testmod "b" { count = 2 }`)
	if got := hooks.Call2(addHook, e.m.Hooks(), 1, 1); got != 1002 {
		t.Errorf("add = %d, want 1002", got)
	}
	for inst, want := range map[string]string{"a": "count=1", "b": "count=2"} {
		if got := e.control("testmod:"+inst, "opts"); !strings.Contains(got, want) {
			t.Errorf("testmod:%s opts = %q, want %s", inst, got, want)
		}
	}
	g := e.m.Current()
	defer g.Release()
	show, err := g.Hooks().Show("nativetest.add")
	if err != nil {
		t.Fatal(err)
	}
	if len(show.Providers) != 2 {
		t.Errorf("%d providers of nativetest.add, want one per instance", len(show.Providers))
	}
}

// The native adapter refuses a foreign provider that is not a *Provider.
func TestBindRefusesForeignValues(t *testing.T) {
	reg := hooks.NewRegistry(nil, hooks.Options{})
	err := addHook.RegisterForeign(reg, hooks.First, hooks.KindNative, "m", "not a provider")
	if !errors.Is(err, hooks.ErrBadProvider) {
		t.Errorf("RegisterForeign: %v, want ErrBadProvider", err)
	}
	err = unboundHook.RegisterForeign(reg, hooks.First, hooks.KindNative, "m", &Provider{})
	if !errors.Is(err, hooks.ErrNoAdapter) {
		t.Errorf("RegisterForeign on an unbound hook: %v, want ErrNoAdapter", err)
	}
}
