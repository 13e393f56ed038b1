package scriptlet

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/ecelerity-go/ecelerity/config"
)

// Defaults of the scriptlet stanza's options.
const (
	DefaultCallTimeout      = time.Second
	DefaultPoolTimeout      = 30 * time.Second
	DefaultQuarantineErrors = 10
	DefaultQuarantineWindow = time.Minute
	DefaultMaxScriptSize    = 1 << 20
	DefaultMinStates        = 2
)

// options are the handles of the scriptlet module's options, defined once in conf_setup
// and kept with SetShared for every generation's instance.
type options struct {
	callTimeout      *config.Option[float64]
	poolTimeout      *config.Option[float64]
	quarantineErrors *config.Option[int64]
	quarantineWindow *config.Option[float64]
	maxScriptSize    *config.Option[uint64]
	minStates        *config.Option[int64]
	maxSpare         *config.Option[int64]
	enableLibraries  *config.Option[[]string]
	source           *config.Option[string]
}

// defineOptions defines the scriptlet stanza's options and its script scope in reg; the
// module system has defined the "scriptlet" keyword (named) already.
func defineOptions(reg *config.Registry, module string) (*options, error) {
	o := &options{}
	var errs []error
	def := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	positive := func(what string) func(float64) error {
		return func(v float64) error {
			if v <= 0 {
				return fmt.Errorf("%s must be positive", what)
			}
			return nil
		}
	}
	nonNeg := func(v int64) error {
		if v < 0 {
			return errors.New("must not be negative")
		}
		return nil
	}
	var err error
	o.callTimeout, err = config.Define(reg, config.Spec[float64]{Name: "call_timeout", Fallback: module, Default: "1", Validate: positive("call_timeout")}, config.FloatType())
	def(err)
	o.poolTimeout, err = config.Define(reg, config.Spec[float64]{Name: "pool_timeout", Fallback: module, Default: "30", Validate: positive("pool_timeout")}, config.FloatType())
	def(err)
	o.quarantineErrors, err = config.Define(reg, config.Spec[int64]{Name: "quarantine_errors", Fallback: module, Default: fmt.Sprint(DefaultQuarantineErrors), Validate: nonNeg}, config.IntType())
	def(err)
	o.quarantineWindow, err = config.Define(reg, config.Spec[float64]{Name: "quarantine_window", Fallback: module, Default: "60", Validate: positive("quarantine_window")}, config.FloatType())
	def(err)
	o.maxScriptSize, err = config.Define(reg, config.Spec[uint64]{Name: "max_script_size", Fallback: module, Default: fmt.Sprint(DefaultMaxScriptSize)}, config.SizeType())
	def(err)
	o.minStates, err = config.Define(reg, config.Spec[int64]{Name: "min_states", Fallback: module, Default: fmt.Sprint(DefaultMinStates), Validate: nonNeg}, config.IntType())
	def(err)
	o.maxSpare, err = config.Define(reg, config.Spec[int64]{Name: "max_spare_per_master", Fallback: module, Default: "5000", Validate: nonNeg}, config.IntType())
	def(err)
	o.enableLibraries, err = config.Define(reg, config.Spec[[]string]{Name: "enable_libraries", Fallback: module, Default: "()", Validate: func(v []string) error {
		for _, l := range v {
			switch strings.ToLower(l) {
			case "os", "io", "dofile":
			default:
				return fmt.Errorf("enable_libraries: unknown library %q (os, io or dofile)", l)
			}
		}
		return nil
	}}, config.ArrayOf(config.StringType()))
	def(err)
	// Momentum's interpreter tuning, accepted so that its configurations load; gopher-lua
	// has no incremental collector to tune and this runtime caches compiled chunks per
	// generation, so they have no effect (see README).
	for _, c := range []struct{ name, dflt string }{
		{"script_ttl", "300"}, {"gc_pause", "200"}, {"gc_stepmul", "200"}, {"reap_interval", "1"},
	} {
		_, err = config.Define(reg, config.Spec[int64]{Name: c.name, Fallback: module, Default: c.dflt}, config.IntType())
		def(err)
	}
	_, err = config.Define(reg, config.Spec[bool]{Name: "always_gc", Fallback: module, Default: "false"}, config.BoolType())
	def(err)
	def(reg.DefineScope(config.ScopeDef{Keyword: "script", Named: true, Parents: []string{module}}))
	o.source, err = config.Define(reg, config.Spec[string]{Name: "source", Fallback: module + ":script", Validate: func(v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("source must name a script")
		}
		return nil
	}}, config.StringType())
	def(err)
	return o, errors.Join(errs...)
}

// settings fetches an instance's options from a generation.
func (o *options) settings(g *config.Generation, inst string) settings {
	seconds := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	s := settings{
		callTimeout:      seconds(o.callTimeout.Module(g, inst)),
		poolTimeout:      seconds(o.poolTimeout.Module(g, inst)),
		quarantineErrors: int(o.quarantineErrors.Module(g, inst)),
		quarantineWindow: seconds(o.quarantineWindow.Module(g, inst)),
		maxScriptSize:    int64(o.maxScriptSize.Module(g, inst)),
		minStates:        int(o.minStates.Module(g, inst)),
		maxSpare:         int(o.maxSpare.Module(g, inst)),
	}
	for _, l := range o.enableLibraries.Module(g, inst) {
		switch strings.ToLower(l) {
		case "os":
			s.libs.os = true
		case "io":
			s.libs.io = true
		case "dofile":
			s.libs.dofile = true
		}
	}
	return s
}

// source is a script to load: its name (stanza or module), resolved path and text.
type source struct {
	name string
	path string
	text []byte
}

// stanzaScripts lists the `script "name" { source = ... }` stanzas of the scriptlet
// instance in g, resolves and reads each; every failure is reported.
func (rt *Runtime) stanzaScripts(o *options, g *config.Generation, module, inst string, maxSize int64) ([]source, error) {
	tree := g.Tree()
	root := tree.Root()
	var sc *config.Scope
	for _, c := range root.Children {
		if strings.EqualFold(c.Keyword, module) && c.Name == inst {
			sc = c
		}
	}
	if sc == nil {
		return nil, nil
	}
	confDir := ""
	if tree.Main != nil && tree.Main.Path != "" {
		confDir = filepath.Dir(tree.Main.Path)
	}
	var out []source
	var errs []error
	for _, c := range sc.Children {
		if !strings.EqualFold(c.Keyword, "script") {
			continue
		}
		src := o.source.Fetch(g, config.Ref(module, inst), config.Ref(c.Keyword, c.Name))
		if src == "" {
			errs = append(errs, fmt.Errorf("%w: %s: script %q has no source", ErrNoSource, c.Pos, c.Name))
			continue
		}
		path, text, err := readScript(src, confDir, rt.opts.ScriptletDirs, maxSize)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: script %q: %w", c.Pos, c.Name, err))
			continue
		}
		out = append(out, source{name: c.Name, path: path, text: text})
	}
	return out, errors.Join(errs...)
}

// readScript resolves a source name as Momentum does ("dir/name" or "dir.name", ".lua"
// implied; an absolute path as written) against the configuration's directory and then the
// scriptlet directories, and reads the first that exists. A file over maxSize is refused.
func readScript(src, confDir string, dirs []string, maxSize int64) (string, []byte, error) {
	src = strings.TrimSuffix(src, ".lua")
	var cands []string
	if filepath.IsAbs(src) {
		cands = []string{src + ".lua"}
	} else {
		rel := filepath.FromSlash(strings.ReplaceAll(src, ".", "/")) + ".lua"
		if confDir != "" {
			cands = append(cands, filepath.Join(confDir, rel))
		}
		for _, d := range dirs {
			cands = append(cands, filepath.Join(d, rel))
		}
	}
	for _, p := range cands {
		text, err := readLimited(p, maxSize)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return p, nil, err
		}
		return p, text, nil
	}
	return "", nil, fmt.Errorf("%w: %q (looked for %s)", ErrNoSource, src, strings.Join(cands, ", "))
}

// readLimited reads a file of at most maxSize bytes (0: no limit).
func readLimited(path string, maxSize int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is a directory", ErrNoSource, path)
	}
	if maxSize > 0 && fi.Size() > maxSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, over the maximum of %d", ErrTooLarge, path, fi.Size(), maxSize)
	}
	r := io.Reader(f)
	if maxSize > 0 {
		r = io.LimitReader(f, maxSize+1)
	}
	text, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if maxSize > 0 && int64(len(text)) > maxSize {
		return nil, fmt.Errorf("%w: %s grew over the maximum of %d bytes", ErrTooLarge, path, maxSize)
	}
	return text, nil
}

// compile parses and compiles a script; a syntax error carries file:line:col.
func compile(path string, text []byte) (proto *lua.FunctionProto, err error) {
	// The parser reports some lexical errors by panicking.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrSyntax, path, r)
		}
	}()
	chunk, err := parse.Parse(bytes.NewReader(text), path)
	if err != nil {
		var pe *parse.Error
		if errors.As(err, &pe) {
			if pe.Pos.Line == parse.EOF {
				return nil, fmt.Errorf("%w: %s: at end of file: %s", ErrSyntax, path, strings.TrimSpace(pe.Message))
			}
			return nil, fmt.Errorf("%w: %s:%d:%d: %s near '%s'", ErrSyntax, path, pe.Pos.Line, pe.Pos.Column, strings.TrimSpace(pe.Message), pe.Token)
		}
		return nil, fmt.Errorf("%w: %s: %s", ErrSyntax, path, strings.TrimSpace(err.Error()))
	}
	proto, err = lua.Compile(chunk, path)
	if err != nil {
		var ce *lua.CompileError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("%w: %s:%d: %s", ErrSyntax, path, ce.Line, ce.Message)
		}
		return nil, fmt.Errorf("%w: %s: %s", ErrSyntax, path, strings.TrimSpace(err.Error()))
	}
	return proto, nil
}
