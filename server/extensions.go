package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/control"
	"github.com/ecelerity-go/ecelerity/ecm"
	"github.com/ecelerity-go/ecelerity/memtype"
	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/modules/native"
	"github.com/ecelerity-go/ecelerity/modules/scriptlet"
	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// This file wires the module kinds beyond the built-in Go modules: the Lua scriptlet
// runtime (the scriptlet module, Lua modules by name, msys.cmod for scripts) and the
// native module loader.

// nativeDirSuffix names the default native runtime directory: the control socket's
// path with this suffix, so that it is as unique to the daemon as its socket (a second
// daemon on the same socket is refused before the directory is cleaned).
const nativeDirSuffix = ".native"

// extensions are the loaders the server gives its module manager when Options.Loaders
// is nil, in precedence order: the built-in Go modules (with the scriptlet module of
// rt), the native loader, then the Lua loaders; so a native module wins over a Lua one
// of the same name. They outlive every generation and are closed after the modules.
type extensions struct {
	rt *scriptlet.Runtime
	// native is nil when the loader could not be made (nativeErr says why, and every
	// native module is reported missing with that reason).
	native     *native.Loader
	nativeErr  error
	runtimeDir string
	loaders    []modules.Loader
}

// extOptions are what the extensions are made of.
type extOptions struct {
	builtins  *modules.Builtins // copied, then the scriptlet module is added
	loop      *sched.Loop
	pools     *threadpool.Manager
	store     *config.Store
	mem       *memtype.Registry
	scriptLog *slog.Logger // the paniclog, tag "scriptlet"
	nativeLog *slog.Logger // the paniclog, tag "native"
	prefixed  bool         // the loggers write the paniclog prefix themselves
	configDir string
	libexec   []string
	// runtimeDir is the native runtime directory; cleaned of earlier loads.
	runtimeDir string
}

// newExtensions makes the scriptlet runtime, the Lua loaders and the native loader. A
// native loader that cannot be made (a runtime directory mounted noexec, say) does not
// stop the server: native modules are reported missing with the reason. Builder
// goroutine, before the module manager exists.
func newExtensions(o extOptions) *extensions {
	e := &extensions{runtimeDir: o.runtimeDir}
	cmod := &scriptlet.Table{Fields: []scriptlet.Field{{Key: "load", Value: scriptlet.Func(e.cmodLoad)}}}
	// The runtime looks beside the file being loaded first; the start-up file's
	// directory comes next (for `config reload other/file`), then libexec/scriptlets.
	dirs := []string{o.configDir}
	for _, d := range o.libexec {
		dirs = append(dirs, filepath.Join(d, "scriptlets"))
	}
	e.rt = scriptlet.New(scriptlet.Options{
		Loop: o.loop, Pools: o.pools, Store: o.store, Logger: o.scriptLog, Prefixed: o.prefixed,
		ScriptletDirs: dirs, Libexec: o.libexec,
		Msys: map[string]scriptlet.Value{"cmod": scriptlet.TableOf(cmod)},
	})
	b := modules.NewBuiltins()
	for _, info := range o.builtins.List() {
		b.Register(info)
	}
	b.Register(e.rt.Info())

	var lua []modules.Loader
	for _, d := range o.libexec {
		lua = append(lua, scriptlet.NewLuaLoader(scriptlet.LuaLoaderOptions{Runtime: e.rt, Dir: filepath.Join(d, "lua")}))
	}
	if len(lua) == 0 {
		// Still finds X.lua beside an X.ecm, and says why X is missing otherwise.
		lua = append(lua, scriptlet.NewLuaLoader(scriptlet.LuaLoaderOptions{Runtime: e.rt}))
	}
	var nl modules.Loader
	e.native, e.nativeErr = native.NewLoader(native.Options{
		RuntimeDir: o.runtimeDir, Logger: o.nativeLog, Memory: o.mem, Pools: o.pools, Loop: o.loop,
		Shadowed: lua,
	})
	if e.native != nil {
		nl = e.native
	} else {
		nl = unavailableLoader{kind: modules.Native, err: e.nativeErr}
	}
	e.loaders = append([]modules.Loader{b.Loader(), nl}, lua...)
	return e
}

// cmodLoad is msys.cmod.load: the native loader's, or a system error when there is none.
// The script's goroutine.
func (e *extensions) cmodLoad(_ *scriptlet.Call, args []scriptlet.Value) ([]scriptlet.Value, error) {
	if e.native == nil {
		return []scriptlet.Value{scriptlet.Nil(), scriptlet.String(e.nativeErr.Error()), scriptlet.String(native.KindSystem)}, nil
	}
	return e.native.LuaLoad(args), nil
}

// attach gives the native loader the module manager it serves.
func (e *extensions) attach(m *modules.Manager) {
	if e != nil && e.native != nil {
		e.native.Attach(m)
	}
}

// setReload applies Dynamic_Reload_Mode.
func (e *extensions) setReload(on bool) {
	if e != nil && e.native != nil {
		e.native.SetReload(on)
	}
}

// close closes the native loader (each library closes once nothing holds it; the
// runtime directory goes when it is empty) and the scriptlet runtime. After the module manager's Close. Not on the loop.
func (e *extensions) close() {
	if e == nil {
		return
	}
	if e.native != nil {
		e.native.Close()
		// Removed only when empty: a load still held (a module that ignored its
		// destroy) keeps its copy, and whatever an operator keeps there stays.
		_ = os.Remove(e.runtimeDir)
	}
	e.rt.Close()
}

// shadows returns what `module list` adds to a module's block: the Lua module of the
// same name that a native module hides. A loaded native module's description says so
// already (the native package's Describe); a module not loaded has none, so the line
// is added only where the description does not carry it.
func (e *extensions) shadows(st modules.ModuleStatus) string {
	if e == nil || e.native == nil || st.Kind != modules.Native {
		return ""
	}
	var b strings.Builder
	for _, k := range e.native.Shadowed(st.Name) {
		what := fmt.Sprintf("the %s module %s", k, st.Name)
		if !strings.Contains(st.Description, "shadows "+what) {
			fmt.Fprintf(&b, "  Shadows: %s (a native module takes precedence)\n", what)
		}
	}
	return b.String()
}

// libraries renders `native list`.
func (e *extensions) libraries() string {
	switch {
	case e == nil:
		return "No native module loader in this server.\n"
	case e.native == nil:
		return fmt.Sprintf("No native module loader: %v\n", e.nativeErr)
	}
	libs := e.native.Libraries()
	if len(libs) == 0 {
		return "No native libraries loaded.\n"
	}
	return native.FormatLibraries(libs)
}

// unavailableLoader stands for a loader that could not be made: every module it is
// asked for is missing, with the reason.
type unavailableLoader struct {
	kind modules.Kind
	err  error
}

var _ modules.Loader = unavailableLoader{}

func (l unavailableLoader) Kind() modules.Kind { return l.kind }

func (l unavailableLoader) Open(name string, found *ecm.Found) (*modules.Info, error) {
	return nil, fmt.Errorf("%s module %s: %w", l.kind, name, l.err)
}

// nativeRuntimeDir returns the native runtime directory of a configuration:
// Native_Runtime_Dir when it is set (relative to the configuration's directory), else
// beside the first control socket it names (or the default socket), with
// nativeDirSuffix; a configuration with TCP control listeners only puts it beside the
// pidfile, or in the default control directory. tree may be nil (a file that does not
// parse: the start-up fails later, with the parse error).
func nativeRuntimeDir(tree *config.Tree, configPath, pidFile string) (string, error) {
	if tree != nil {
		if e := tree.Root().Option(optNativeRuntimeDir); e != nil && e.Value.Kind == config.ScalarValue && e.Value.Text != "" {
			dir := e.Value.Text
			if !filepath.IsAbs(dir) {
				dir = filepath.Join(filepath.Dir(configPath), dir)
			}
			return dir, nil
		}
	}
	if socks := controlSockets(tree); len(socks) > 0 {
		return socks[0] + nativeDirSuffix, nil
	}
	if pidFile != "" {
		abs, err := filepath.Abs(pidFile)
		if err != nil {
			return "", fmt.Errorf("server: native runtime directory: %w", err)
		}
		return abs + nativeDirSuffix, nil
	}
	dir, err := control.DefaultDir()
	if err != nil {
		return "", fmt.Errorf("server: native runtime directory: %w", err)
	}
	return filepath.Join(dir, "native"), nil
}

// checkExtensions makes the extensions for `--check`: a scratch native runtime
// directory, no loop, pools of their own; the returned func releases all of it.
func checkExtensions(opts Options, store *config.Store, path string) (*extensions, func(), error) {
	dir, err := os.MkdirTemp("", "ecelerity-check-native-")
	if err != nil {
		return nil, nil, fmt.Errorf("server: check: %w", err)
	}
	pools := threadpool.NewManager(threadpool.Options{Logger: slog.New(slog.DiscardHandler)})
	env, err := checkListenerEnv(pools)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	e := newExtensions(extOptions{
		builtins: bindListener(opts.builtins(), env), pools: pools, store: store, mem: memtype.NewRegistry(memtype.Options{}),
		scriptLog: slog.New(slog.DiscardHandler), nativeLog: slog.New(slog.DiscardHandler),
		configDir: filepath.Dir(path), libexec: opts.Libexec, runtimeDir: dir,
	})
	return e, func() {
		e.close()
		pools.Shutdown(context.Background())
		os.RemoveAll(dir)
	}, nil
}
