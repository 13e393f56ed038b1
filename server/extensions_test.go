package server

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ecelerity-go/ecelerity/internal/testenv"
	"github.com/ecelerity-go/ecelerity/modules"
)

// withExtensions makes a fixture use the server's own loader chain (scriptlet
// runtime, native loader, Lua loaders) on the probe module's built-ins, and writes
// files (name -> content) into the fixture's directory before the server starts.
func withExtensions(files map[string]string, libexec ...string) func(*Options) {
	return func(o *Options) {
		dir := filepath.Dir(o.ConfigPath)
		for name, text := range files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				panic(err)
			}
			if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
				panic(err)
			}
		}
		b := modules.NewBuiltins()
		b.Register(modules.Info{Name: "probe", Singleton: true, New: func() modules.Module { return &probe{} }})
		o.Loaders, o.Builtins, o.Libexec = nil, b, libexec
	}
}

const helloScript = `local st = msys.state("hello", 1)
local mod = {}
function mod:config_generation_committed(gen)
  st.commits = (st.commits or 0) + 1
end
function mod:init()
  msys.registerControl("hello", function(cc)
    print("hello", cc.argv[1], "commits", st.commits)
    local m, err, kind = msys.cmod.load("nosuch.so")
    print("cmod", m, kind)
  end)
  return true
end
msys.registerModule("policy", mod)
`

// TestScriptletWired: the scriptlet module is a built-in of the server's chain; a
// script's source resolves against the configuration's directory, its console
// command answers through the control listener, its provider of
// config.generation_committed runs at every commit, and msys.cmod is installed (a
// missing library is a typed failure).
func TestScriptletWired(t *testing.T) {
	f := startFixture(t, `scriptlet "scriptlet" { script "policy" { source = "lua.policy" } }`,
		withExtensions(map[string]string{"lua/policy.lua": helloScript}))
	c := f.client(t)
	want := "hello\tworld\tcommits\t1\ncmod\tnil\tno such module\n"
	if got := do(t, c, "scriptlet hello world"); got != want {
		t.Errorf("scriptlet hello = %q, want %q", got, want)
	}
	do(t, c, "config reload")
	if got := do(t, c, "scriptlet hello world"); !strings.Contains(got, "commits\t2") {
		t.Errorf("after a reload: %q, want 2 commits seen", got)
	}
	if got := do(t, c, "module list"); !regexp.MustCompile(`(?m)^Module: scriptlet:scriptlet\n(  .*\n)*  Kind: builtin\n(  .*\n)*  State: loaded`).MatchString(got) {
		t.Errorf("module list:\n%s", got)
	}
}

// TestNativeRuntimeDir: the native runtime directory is beside the control socket by
// default, Native_Runtime_Dir moves it (relative to the configuration), per-load
// directories left by an earlier process are removed at start-up, and `native list`
// answers with nothing loaded.
func TestNativeRuntimeDir(t *testing.T) {
	f := startFixture(t, "", withExtensions(nil))
	if st, err := os.Stat(f.socket + nativeDirSuffix); err != nil || !st.IsDir() {
		t.Errorf("default runtime directory %s: %v", f.socket+nativeDirSuffix, err)
	}
	if got := do(t, f.client(t), "native list"); got != "No native libraries loaded.\n" {
		t.Errorf("native list = %q", got)
	}
	if got := doErr(t, f.client(t), "native list extra"); !strings.Contains(got, "usage") {
		t.Errorf("native list extra = %q", got)
	}
	f.stop(t)
	if _, err := os.Stat(f.socket + nativeDirSuffix); !os.IsNotExist(err) {
		t.Errorf("the empty runtime directory outlived the shutdown: %v", err)
	}

	stale := map[string]string{"rt/load-old-123/old.so": "x", "rt/keep.txt": "operator's"}
	g := startFixture(t, `Native_Runtime_Dir = "rt"`, withExtensions(stale))
	rt := filepath.Join(g.dir, "rt")
	if _, err := os.Stat(filepath.Join(rt, "load-old-123")); !os.IsNotExist(err) {
		t.Errorf("a per-load directory left by an earlier process survived start-up: %v", err)
	}
	if _, err := os.Stat(filepath.Join(rt, "keep.txt")); err != nil {
		t.Errorf("start-up removed a file it did not make: %v", err)
	}
	if _, err := os.Stat(g.socket + nativeDirSuffix); !os.IsNotExist(err) {
		t.Errorf("Native_Runtime_Dir set, yet the default directory was made: %v", err)
	}
	g.stop(t)
	if _, err := os.Stat(filepath.Join(rt, "keep.txt")); err != nil {
		t.Errorf("shutdown removed a file it did not make: %v", err)
	}
}

// TestLoadersGivenMeansNoExtensions: a server given its loaders makes no scriptlet
// runtime and no native loader, and says so.
func TestLoadersGivenMeansNoExtensions(t *testing.T) {
	f := startFixture(t, "")
	if got := do(t, f.client(t), "native list"); got != "No native module loader in this server.\n" {
		t.Errorf("native list = %q", got)
	}
	if _, err := os.Stat(f.socket + nativeDirSuffix); !os.IsNotExist(err) {
		t.Errorf("runtime directory made without a native loader: %v", err)
	}
}

// TestNativeWired: a native module from the libexec path loads through the server's
// chain: its command answers, its memory type is in `memory`, `native list` shows the
// load cached, `module list` says which Lua module of the same name it shadows; with
// Dynamic_Reload_Mode off a rebuilt library is ignored at reload, and switching it on
// takes effect from the reload after the one that switches it.
func TestNativeWired(t *testing.T) {
	libexec := filepath.Join(t.TempDir(), "libexec")
	testenv.InstallNativeSample(t, "..", libexec)
	lua := `local mod = {}
function mod:init() return true end
msys.registerModule("native_sample", mod)
`
	if err := os.WriteFile(filepath.Join(libexec, "native_sample.lua"), []byte(lua), 0o644); err != nil {
		t.Fatal(err)
	}
	stanza := "native_sample { greeting = \"hi\" }\n"
	f := startFixture(t, stanza+"Dynamic_Reload_Mode = false\n", withExtensions(nil, libexec))
	c := f.client(t)
	if got := do(t, c, "native_sample status"); !strings.HasPrefix(got, "hi (limit 10); ") {
		t.Errorf("native_sample status = %q", got)
	}
	if got := do(t, c, "memory"); !strings.Contains(got, "native_sample:state") {
		t.Errorf("memory lists no native_sample:state:\n%s", got)
	}
	if got := do(t, c, "native list"); !regexp.MustCompile(`native_sample\.so load \d+: cached, module native_sample`).MatchString(got) {
		t.Errorf("native list:\n%s", got)
	}
	if got := do(t, c, "module list"); !regexp.MustCompile(`(?m)^Module: native_sample\n(  .*\n)*  Kind: native\n(  .*\n)*.*shadows the lua module native_sample`).MatchString(got) {
		t.Errorf("module list does not say the Lua module is shadowed:\n%s", got)
	}

	testenv.InstallNativeSample(t, "..", libexec, "commits seen", "commits counted")
	writeConf(t, f.conf, baseConfig(f.dir, stanza+"Dynamic_Reload_Mode = true\n"))
	do(t, c, "config reload")
	if got := do(t, c, "native_sample status"); !strings.Contains(got, "commits seen") {
		t.Errorf("reload with Dynamic_Reload_Mode off (switched on by this very reload) loaded the rebuilt library: %q", got)
	}
	do(t, c, "config reload")
	if got := do(t, c, "native_sample status"); !strings.Contains(got, "commits counted") {
		t.Errorf("the reload after Dynamic_Reload_Mode = true did not load the rebuilt library: %q", got)
	}
}

// TestShadowNotLoaded: a native module the configuration does not load still shows
// the Lua module it would shadow, once, with two libexec directories (a Lua loader
// each, both finding the X.lua beside X.ecm).
func TestShadowNotLoaded(t *testing.T) {
	libexec := filepath.Join(t.TempDir(), "libexec")
	testenv.InstallNativeSample(t, "..", libexec)
	if err := os.WriteFile(filepath.Join(libexec, "native_sample.lua"), []byte("return\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f := startFixture(t, "", withExtensions(nil, libexec, t.TempDir()))
	got := do(t, f.client(t), "module list")
	if strings.Count(got, "Shadows:") != 1 || !regexp.MustCompile(`(?m)^Module: native_sample\n(  .*\n)*  State: unknown\n  Shadows: the lua module native_sample `).MatchString(got) {
		t.Errorf("module list:\n%s", got)
	}
}

// TestCheckKnowsScriptlet: --check with the server's own chain knows the scriptlet
// module and its options (a typo in one is an error with its position), and starts
// nothing: no native runtime directory beside the socket.
func TestCheckKnowsScriptlet(t *testing.T) {
	dir := t.TempDir()
	b := modules.NewBuiltins()
	for _, tc := range []struct {
		stanza string
		ok     bool
	}{
		{`scriptlet "scriptlet" { call_timeout = 2  script "p" { source = "p" } }`, true},
		{`scriptlet "scriptlet" { call_timeuot = 2 }`, false},
	} {
		conf := filepath.Join(dir, "c.conf")
		writeConf(t, conf, baseConfig(dir, tc.stanza))
		var out strings.Builder
		if got := Check(Options{ConfigPath: conf, Builtins: b}, &out); got != tc.ok {
			t.Errorf("%s: Check = %v, want %v:\n%s", tc.stanza, got, tc.ok, out.String())
		}
		if !tc.ok && !strings.Contains(out.String(), conf+":9:25: unknown option \"call_timeuot\"") {
			t.Errorf("%s: no position in\n%s", tc.stanza, out.String())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "ctl.sock"+nativeDirSuffix)); !os.IsNotExist(err) {
		t.Errorf("check made the daemon's native runtime directory: %v", err)
	}
}

// TestNativeLoaderUnavailable: a native runtime directory that cannot be made does not
// stop the daemon; the reason is in the paniclog, and `native list` and msys.cmod.load
// give it.
func TestNativeLoaderUnavailable(t *testing.T) {
	script := `local mod = {}
function mod:init()
  msys.registerControl("cmod", function() print(select(3, msys.cmod.load("x.so"))) end)
  return true
end
msys.registerModule("c", mod)
`
	f := startFixture(t, `Native_Runtime_Dir = "afile"
scriptlet "scriptlet" { script "c" { source = "c" } }`,
		withExtensions(map[string]string{"afile": "not a directory", "c.lua": script}))
	c := f.client(t)
	if got := do(t, c, "native list"); !strings.HasPrefix(got, "No native module loader: native: ") {
		t.Errorf("native list = %q", got)
	}
	if got := do(t, c, "scriptlet cmod"); got != "system error\n" {
		t.Errorf("msys.cmod.load without a loader: %q", got)
	}
	if !strings.Contains(readFile(t, f.panic), "native modules unavailable: native: ") {
		t.Errorf("the paniclog does not say why native modules are unavailable")
	}
}
