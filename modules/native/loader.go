package native

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ecelerity-go/ecelerity/ecm"
	"github.com/ecelerity-go/ecelerity/memtype"
	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// Options configure a Loader.
type Options struct {
	// RuntimeDir is where every load's private copy of a library goes, in a
	// directory of its own; required. It must not be mounted noexec. The
	// per-load directories a previous process left are removed by NewLoader.
	RuntimeDir string
	// NoReload turns dynamic reload off (the seed's dynamic_reload_mode):
	// a library loads once per process and a changed file is ignored, with
	// a log line, until restart. SetReload changes it at run time.
	NoReload bool
	// Logger receives module log lines (the host's log function) and the
	// loader's own; nil means slog.Default().
	Logger *slog.Logger
	// Memory is where native memory types are registered; nil means
	// memtype.Default().
	Memory *memtype.Registry
	// Pools runs the jobs modules queue with job_queue; nil refuses them.
	Pools *threadpool.Manager
	// Loop is the master loop: timed events run on it and job completions
	// are brought back to it. Nil refuses timer_after and completes jobs in
	// their worker.
	Loop *sched.Loop
	// Shadowed are the loaders that come after this one in the module
	// system (the Lua loader): a name this loader opens is also offered to
	// them, without using what they return, so that `module list` can say
	// which of their modules the native one shadows.
	Shadowed []modules.Loader
}

// Loader opens native modules for the module system (modules.Loader with
// Kind modules.Native): for a manifest X.ecm it loads X.so from the same
// directory, through the module cache. Give it to modules.Options.Loaders
// before the Lua loader, so that a native module wins over a Lua one of the
// same name. Its methods are safe for concurrent use.
type Loader struct {
	opts     Options
	log      *slog.Logger
	mem      *memtype.Registry
	cache    *cache
	noReload atomic.Bool
	manager  atomic.Pointer[modules.Manager]

	// mu guards slots.
	mu    sync.Mutex
	slots map[string]*slot // by lower-case module name
}

var _ modules.Loader = (*Loader)(nil)

// NewLoader prepares the runtime directory (created, checked for noexec,
// cleaned of earlier processes' copies) and returns a loader.
func NewLoader(opts Options) (*Loader, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Memory == nil {
		opts.Memory = memtype.Default()
	}
	dir, err := openRuntimeDir(opts.RuntimeDir)
	if err != nil {
		return nil, fmt.Errorf("native: %w", err)
	}
	l := &Loader{
		opts: opts, log: opts.Logger, mem: opts.Memory,
		cache: newCache(dir, opts.Logger, opts.Loop),
		slots: map[string]*slot{},
	}
	l.noReload.Store(opts.NoReload)
	return l, nil
}

// Kind returns modules.Native.
func (l *Loader) Kind() modules.Kind { return modules.Native }

// Attach gives the loader the module system it serves, whose current
// generation is where options are fetched from outside ext_init (a module's
// long context in a hook provider, a job or a timer). Call it once the
// Manager exists.
func (l *Loader) Attach(m *modules.Manager) { l.manager.Store(m) }

// SetReload turns dynamic reload on or off. Any goroutine; it takes effect
// at the next reload.
func (l *Loader) SetReload(on bool) { l.noReload.Store(!on) }

// reload reports whether changed libraries are loaded anew.
func (l *Loader) reload() bool { return !l.noReload.Load() }

// Open loads the library of the module found (X.so beside X.ecm; X the
// module's name, else the manifest's file name) through the cache, enters it
// and describes it to the module system. A missing library, a missing entry
// point, an unknown ABI version or a name other than the manifest's is an
// error, which the module system shows as the reason the module is missing.
// Open does not run module code beyond the entry point: conf_setup waits for
// the module system.
func (l *Loader) Open(name string, found *ecm.Found) (*modules.Info, error) {
	if found == nil {
		return nil, fmt.Errorf("%w: no manifest for %s", ErrNoLibrary, name)
	}
	path := filepath.Join(found.Dir, found.Name+".so")
	if _, err := os.Stat(path); err != nil {
		alt := filepath.Join(found.Dir, strings.TrimSuffix(filepath.Base(found.File), ".ecm")+".so")
		if _, aerr := os.Stat(alt); aerr != nil {
			return nil, fmt.Errorf("%w: no %s beside %s", ErrNoLibrary, filepath.Base(path), found.File)
		}
		path = alt
	}
	s := l.slotFor(found.Name, path)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.setUp {
		// The catalogue is refreshed before every reload; a module not set
		// up yet is opened again, and the cache makes that a stat and a hash
		// unless the file changed.
		lib, err := l.cache.get(path, l.reload())
		if err != nil {
			return nil, err
		}
		info, err := lib.entry()
		if err == nil && !strings.EqualFold(info.name, found.Name) {
			err = fmt.Errorf("%w: %s calls itself %q, its manifest %s declares [%s]", ErrBadModule, path, info.name, found.File, found.Name)
		}
		lib.release()
		if err != nil {
			return nil, err
		}
		s.path, s.singleton, s.description = path, info.singleton, info.description
	}
	s.shadows = l.shadowed(name, found)
	return &modules.Info{Name: found.Name, Kind: modules.Native, Singleton: s.singleton, New: s.newObject}, nil
}

// shadowed asks the loaders after this one whether they could open name too;
// each kind is named once (the daemon has a Lua loader per libexec directory,
// and each finds an X.lua beside X.ecm).
func (l *Loader) shadowed(name string, found *ecm.Found) []modules.Kind {
	var out []modules.Kind
	for _, o := range l.opts.Shadowed {
		if slices.Contains(out, o.Kind()) {
			continue
		}
		if _, err := o.Open(name, found); err == nil {
			out = append(out, o.Kind())
		}
	}
	return out
}

// Shadowed returns the kinds of the other modules named name that the native
// module hides (for `module list`); none when name is not a native module.
func (l *Loader) Shadowed(name string) []modules.Kind {
	l.mu.Lock()
	s := l.slots[strings.ToLower(name)]
	l.mu.Unlock()
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]modules.Kind(nil), s.shadows...)
}

// slotFor returns the process-long record of module name.
func (l *Loader) slotFor(name, path string) *slot {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := strings.ToLower(name)
	s := l.slots[key]
	if s == nil {
		s = &slot{l: l, name: name, path: path, failed: map[*library]error{}}
		l.slots[key] = s
	}
	return s
}

// Libraries lists every library load alive: the current load of each path
// (cached) and older loads still held (orphan), by path and load number.
// Any goroutine.
func (l *Loader) Libraries() []LibraryStatus { return l.cache.list() }

// FormatLibraries renders the listing as console text.
func FormatLibraries(libs []LibraryStatus) string {
	var b strings.Builder
	for _, lib := range libs {
		mod := lib.Module
		if mod == "" {
			mod = "-"
		}
		fmt.Fprintf(&b, "%s load %d: %s, module %s, %d refs, copy %s\n", lib.Path, lib.Load, lib.State, mod, lib.Refs, lib.Copy)
	}
	return b.String()
}

// Close lets go of the cache's references: every load closes once nothing
// else holds it. Modules already set up keep their current load until their
// generations are gone. Any goroutine but the loop.
func (l *Loader) Close() {
	l.cache.drop()
	l.mu.Lock()
	slots := make([]*slot, 0, len(l.slots))
	for _, s := range l.slots {
		slots = append(slots, s)
	}
	l.mu.Unlock()
	for _, s := range slots {
		s.close()
	}
}
