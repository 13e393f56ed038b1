package modules

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/ecelerity-go/ecelerity/ecm"
)

// Builtins is a set of built-in Go modules, keyed by name without case. The
// process-wide set behind Register is what the daemon uses; tests make their
// own with NewBuiltins so that they do not share modules. Safe for concurrent
// use.
type Builtins struct {
	// mu guards infos.
	mu    sync.RWMutex
	infos map[string]Info
}

// NewBuiltins returns an empty set.
func NewBuiltins() *Builtins { return &Builtins{infos: make(map[string]Info)} }

// builtins is the process-wide set that init() functions register into; the
// guarded registry STYLE.md allows as package state.
var builtins = NewBuiltins()

// Register adds a built-in module to the process-wide set. It is meant to be
// called from init(). A bad name, a nil constructor, an unparsable manifest or
// a name registered twice is a programmer error and panics.
func Register(info Info) { builtins.Register(info) }

// Registered lists the process-wide built-in modules, sorted by name.
func Registered() []Info { return builtins.List() }

// DefaultBuiltins returns the process-wide set.
func DefaultBuiltins() *Builtins { return builtins }

// Register adds info to b; see the package-level Register for the rules.
func (b *Builtins) Register(info Info) {
	if !validName(info.Name) {
		panic(fmt.Sprintf("modules: Register: bad module name %q", info.Name))
	}
	if info.New == nil {
		panic(fmt.Sprintf("modules: Register %s: nil New", info.Name))
	}
	if len(info.Manifest) > 0 {
		mans, err := ecm.Parse(info.Name+".ecm", strings.NewReader(string(info.Manifest)))
		if err != nil {
			panic(fmt.Sprintf("modules: Register %s: manifest: %v", info.Name, err))
		}
		if len(mans) != 1 || !strings.EqualFold(mans[0].Name, info.Name) {
			panic(fmt.Sprintf("modules: Register %s: the manifest must declare exactly [%s]", info.Name, info.Name))
		}
	}
	info.Kind = Builtin
	key := strings.ToLower(info.Name)
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.infos[key]; dup {
		panic(fmt.Sprintf("modules: Register: module %q registered twice", info.Name))
	}
	b.infos[key] = info
}

// List returns every module of b, sorted by name.
func (b *Builtins) List() []Info {
	b.mu.RLock()
	defer b.mu.RUnlock()
	out := make([]Info, 0, len(b.infos))
	for _, i := range b.infos {
		out = append(out, i)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Loader returns the loader of b's modules.
func (b *Builtins) Loader() Loader { return builtinLoader{b} }

// builtinLoader opens built-in modules; it ignores manifests found on disk
// because a built-in module carries its own.
type builtinLoader struct{ b *Builtins }

var (
	_ Loader = builtinLoader{}
	_ Lister = builtinLoader{}
)

func (l builtinLoader) Kind() Kind { return Builtin }

func (l builtinLoader) Open(name string, _ *ecm.Found) (*Info, error) {
	l.b.mu.RLock()
	defer l.b.mu.RUnlock()
	info, ok := l.b.infos[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("no built-in module %q", name)
	}
	return &info, nil
}

func (l builtinLoader) Names() []string {
	infos := l.b.List()
	out := make([]string, len(infos))
	for i, info := range infos {
		out[i] = info.Name
	}
	return out
}

// validName reports whether s is a usable module name: letters, digits, '_'
// and '-', not starting with '-' (the rule .ecm section names follow).
func validName(s string) bool {
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
