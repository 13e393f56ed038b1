package scriptlet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ecelerity-go/ecelerity/ecm"
	"github.com/ecelerity-go/ecelerity/modules"
)

// LuaLoaderOptions configure the loader of Lua modules.
type LuaLoaderOptions struct {
	// Runtime runs the modules; nil makes every Lua module missing ("runtime unavailable").
	Runtime *Runtime
	// Dir is the Lua module directory (libexec/lua): module X is X.lua there, or beside
	// X's manifest when an .ecm declares it.
	Dir string
	// MaxSize refuses a module file larger than this many bytes; 0 means
	// DefaultMaxScriptSize.
	MaxSize int64
}

// NewLuaLoader returns the modules.Loader of kind Lua: a name that no loader before it
// opens (built-in and native modules take precedence, by the order of the Manager's
// loaders) is looked for as name.lua and opened as a singleton module that requires the
// scriptlet module. Its stanza is `name { }`; at every generation its script loads into
// the scriptlet runtime like a scriptlet script named name (msys.registerModule(name, mod)).
func NewLuaLoader(opts LuaLoaderOptions) modules.Loader {
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxScriptSize
	}
	return &luaLoader{opts: opts}
}

type luaLoader struct{ opts LuaLoaderOptions }

var (
	_ modules.Loader = (*luaLoader)(nil)
	_ modules.Lister = (*luaLoader)(nil)
)

// Kind returns modules.Lua.
func (l *luaLoader) Kind() modules.Kind { return modules.Lua }

// Open finds name.lua; it reports a file over the maximum size, and a runtime that is
// unavailable, as the reason the module is missing.
func (l *luaLoader) Open(name string, found *ecm.Found) (*modules.Info, error) {
	if strings.EqualFold(name, ModuleName) {
		return nil, fmt.Errorf("%s is the runtime, not a Lua module", ModuleName)
	}
	var dirs []string
	if found != nil && found.Dir != "" {
		dirs = append(dirs, found.Dir)
	}
	if l.opts.Dir != "" {
		dirs = append(dirs, l.opts.Dir)
	}
	path := ""
	var size int64
	for _, d := range dirs {
		p := filepath.Join(d, name+".lua")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			path, size = p, fi.Size()
			break
		}
	}
	if path == "" {
		return nil, fmt.Errorf("no %s.lua in %s", name, strings.Join(dirs, ", "))
	}
	if size > l.opts.MaxSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, over the maximum of %d", ErrTooLarge, path, size, l.opts.MaxSize)
	}
	if err := l.opts.Runtime.available(); err != nil {
		return nil, fmt.Errorf("%s needs the scriptlet runtime: %w", path, err)
	}
	var man strings.Builder
	fmt.Fprintf(&man, "[%s]\nmsys.requires = %s\n", name, ModuleName)
	if found != nil {
		for _, r := range found.Requires {
			if !strings.EqualFold(r, ModuleName) {
				fmt.Fprintf(&man, "msys.requires = %s\n", r)
			}
		}
		for _, c := range found.Provides {
			fmt.Fprintf(&man, "msys.provides = %s\n", c.String())
		}
	}
	rt, maxSize := l.opts.Runtime, l.opts.MaxSize
	return &modules.Info{
		Name:      name,
		Kind:      modules.Lua,
		Singleton: true,
		New:       func() modules.Module { return &luaModule{rt: rt, name: name, path: path, maxSize: maxSize} },
		Manifest:  []byte(man.String()),
	}, nil
}

// Names lists the Lua modules of the directory, so that the catalogue knows them.
func (l *luaLoader) Names() []string {
	if l.opts.Dir == "" {
		return nil
	}
	ents, err := os.ReadDir(l.opts.Dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), ".lua")
		if !ok || e.IsDir() || !validModuleName(n) || strings.EqualFold(n, ModuleName) {
			continue
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func validModuleName(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// luaModule is a Lua module's infrastructure object (a singleton: one for the process).
type luaModule struct {
	rt      *Runtime
	name    string
	path    string
	maxSize int64
}

var (
	_ modules.ExtIniter  = (*luaModule)(nil)
	_ modules.Controller = (*luaModule)(nil)
	_ modules.Describer  = (*luaModule)(nil)
)

// Describe is the module's line in `module list`.
func (m *luaModule) Describe() string { return "Lua module " + m.path }

// ExtInit loads the module's script into the generation's scriptlet runtime at Init. The
// scriptlet instance, loaded first (msys.requires), warms the states and closes them.
func (m *luaModule) ExtInit(ctx *modules.InitCtx, mode modules.Mode) error {
	if mode != modules.Init {
		return nil
	}
	g := m.rt.genFor(ctx.Generation())
	if g == nil {
		return fmt.Errorf("%w: Lua module %s: no scriptlet instance is loaded in this generation", ErrUnavailable, m.name)
	}
	text, err := readLimited(m.path, m.maxSize)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: Lua module %s: %v", ErrNoSource, m.name, err)
		}
		return fmt.Errorf("Lua module %s: %w", m.name, err)
	}
	return g.addScripts([]source{{name: m.name, path: m.path, text: text}})
}

// Control runs the console commands of the generation's scripts (`name <command>`), as
// the scriptlet module does.
func (m *luaModule) Control(ctx *modules.ControlCtx, args []string) (string, error) {
	g := m.rt.genFor(ctx.Generation())
	if g == nil {
		return "", fmt.Errorf("%w: no scriptlet generation is loaded", ErrClosed)
	}
	return g.control(args)
}
