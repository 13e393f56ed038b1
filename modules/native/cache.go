package native

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/ebitengine/purego"

	"github.com/ecelerity-go/ecelerity/sched"
)

// cache is the module cache: the current load of every library path, and
// every older load that something still holds. A path is reloaded only when
// its fingerprint (device, inode, size, mtime and content hash) changed.
type cache struct {
	dir  *runtimeDir
	log  *slog.Logger
	loop *sched.Loop

	// mu guards every field below. Loads are made under it, one at a time:
	// two reloads that race for the same new file must not load it twice.
	mu      sync.Mutex
	byPath  map[string]*library   // the current load of each path
	live    map[*library]struct{} // every load not yet closed
	seq     uint64
	ignored map[string]fingerprint // changes seen while reloading is off, logged once each
}

func newCache(dir *runtimeDir, log *slog.Logger, loop *sched.Loop) *cache {
	return &cache{
		dir: dir, log: log, loop: loop,
		byPath: map[string]*library{}, live: map[*library]struct{}{}, ignored: map[string]fingerprint{},
	}
}

// get returns the current load of the library at path with a reference for
// the caller. An unchanged file gives the load already cached; a changed one
// is loaded anew when reload is true (the older load stays, orphaned, while
// something holds it) and is ignored, with a log line, when it is false.
func (c *cache) get(path string, reload bool) (*library, error) {
	path, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSystem, err)
	}
	data, fp, readErr := readLibrary(path)
	c.mu.Lock()
	cur := c.byPath[path]
	if cur != nil && (!reload || readErr == nil && cur.fp == fp) {
		if readErr == nil && cur.fp != fp && c.ignored[path] != fp {
			c.ignored[path] = fp
			c.log.Warn("native: library changed on disk; dynamic reload is off, the change takes effect at restart", "library", path)
		}
		if cur.tryAcquire() {
			c.mu.Unlock()
			return cur, nil
		}
		// Unreachable while the cache holds its reference; fall through
		// to a fresh load rather than hand out a closing library.
	}
	if readErr != nil {
		c.mu.Unlock()
		return nil, readErr
	}
	c.seq++
	lib, err := c.openLocked(path, data, fp, c.seq)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	lib.refs.Store(2) // the cache's and the caller's
	c.byPath[path] = lib
	c.live[lib] = struct{}{}
	c.mu.Unlock()
	if cur != nil {
		cur.orphan.Store(true)
		c.log.Info("native: library changed on disk; loaded anew beside the old load", "library", path, "load", lib.seq, "old_load", cur.seq)
		cur.release()
	}
	return lib, nil
}

// openLocked copies data into a new per-load directory and opens the copy.
// c.mu must be held.
func (c *cache) openLocked(path string, data []byte, fp fingerprint, seq uint64) (*library, error) {
	file, dir, err := c.dir.place(filepath.Base(path), data)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	// RTLD_NOW finds unresolved symbols at load instead of at a first call
	// on the loop; RTLD_LOCAL keeps two loads of one module from binding
	// each other's symbols.
	h, err := purego.Dlopen(file, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		removeDir(dir)
		return nil, fmt.Errorf("%w: %s: %w", ErrDlopen, path, err)
	}
	return &library{c: c, path: path, file: file, dir: dir, handle: h, fp: fp, seq: seq, loaded: time.Now()}, nil
}

// current reports whether lib is still the current load of its path.
func (c *cache) current(lib *library) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byPath[lib.path] == lib
}

// forget removes a closing library from the cache.
func (c *cache) forget(lib *library) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.live, lib)
	if c.byPath[lib.path] == lib {
		delete(c.byPath, lib.path)
	}
}

// drop makes every current load an orphan and lets go of the cache's
// references: the loads close as soon as nothing else holds them.
func (c *cache) drop() {
	c.mu.Lock()
	var libs []*library
	for p, lib := range c.byPath {
		libs = append(libs, lib)
		delete(c.byPath, p)
	}
	c.mu.Unlock()
	for _, lib := range libs {
		lib.orphan.Store(true)
		lib.release()
	}
}

// State of a library load in the cache.
const (
	// StateCached: the current load of its path.
	StateCached = "cached"
	// StateOrphan: superseded by a newer load (or the loader closed) and
	// still held by a generation, a call, a job, a timer or a handle.
	StateOrphan = "orphan"
)

// LibraryStatus is one library load, as `native list` shows it.
type LibraryStatus struct {
	Path   string // the library file
	Copy   string // the private copy that is mapped
	Load   uint64 // load number
	Module string // the native module using it; "" for cmod only
	State  string // StateCached or StateOrphan
	Refs   int64
	Loaded time.Time
}

// list returns every live load, by path then load number.
func (c *cache) list() []LibraryStatus {
	c.mu.Lock()
	libs := make([]*library, 0, len(c.live))
	for lib := range c.live {
		libs = append(libs, lib)
	}
	c.mu.Unlock()
	out := make([]LibraryStatus, 0, len(libs))
	for _, lib := range libs {
		st := StateCached
		if lib.orphan.Load() {
			st = StateOrphan
		}
		lib.mu.Lock()
		mod := lib.module
		lib.mu.Unlock()
		out = append(out, LibraryStatus{Path: lib.path, Copy: lib.file, Load: lib.seq, Module: mod, State: st, Refs: lib.refs.Load(), Loaded: lib.loaded})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Load < out[j].Load
	})
	return out
}
