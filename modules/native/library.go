package native

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ebitengine/purego"
)

// library is one load of a shared object: a private copy in the runtime
// directory, opened with dlopen. It is reference counted: the cache holds
// one reference while it is the current load of its path, every generation
// bound to it one, every call into it one for the call's duration, every
// thread-pool job and timed event it queued one, every cmod handle one. The
// copy is closed and deleted when the last goes; until then a rebuilt or
// overwritten file at path cannot affect it.
type library struct {
	c      *cache
	path   string // the file loaded (absolute)
	file   string // the private copy
	dir    string // the per-load directory holding the copy
	handle uintptr
	fp     fingerprint
	seq    uint64 // load number, process-wide per loader
	loaded time.Time

	refs   atomic.Int64
	orphan atomic.Bool // superseded by a newer load of path, or dropped by the cache

	// mu guards the module view of the library: its entry call's result and
	// the module that claimed it.
	mu        sync.Mutex
	entryDone bool
	info      moduleInfo
	entryErr  error
	module    string // the native module using it; "" for cmod only
}

// tryAcquire adds a reference unless the last one is gone (then the library
// is closing and must not be used).
func (lib *library) tryAcquire() bool {
	for {
		n := lib.refs.Load()
		if n <= 0 {
			return false
		}
		if lib.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// acquire adds a reference for a holder that already holds one (or holds a
// generation that does). Any goroutine.
func (lib *library) acquire() {
	if lib.refs.Add(1) <= 1 {
		panic("native: acquire of a released library " + lib.file)
	}
}

// release drops a reference; the last one closes the library. Any goroutine;
// the close is handed to a goroutine of its own when the caller is the event
// loop, which must not wait for dlclose and file removal.
func (lib *library) release() {
	switch n := lib.refs.Add(-1); {
	case n < 0:
		panic("native: release without a reference: " + lib.file)
	case n == 0:
		if loop := lib.c.loop; loop != nil && loop.OnLoop() {
			go lib.close()
			return
		}
		lib.close()
	}
}

// close unloads the copy and deletes it. Called once, when no reference is
// left: no generation, call, job, timer or handle can reach the code.
func (lib *library) close() {
	lib.c.forget(lib)
	dropContexts(lib)
	if err := purego.Dlclose(lib.handle); err != nil {
		lib.c.log.Error("native: dlclose failed; the copy stays mapped", "library", lib.path, "copy", lib.file, "err", err)
	}
	if err := os.RemoveAll(lib.dir); err != nil {
		lib.c.log.Error("native: removing a library copy", "copy", lib.file, "err", err)
	}
	lib.c.log.Info("native: library unloaded", "load", lib.seq, "library", lib.path)
}

// call calls the C function fn of the library with args, holding a reference
// for the call's duration so that a concurrent reload cannot unload the code
// under it. The caller holds a reference already (through a generation, a
// handle, a job); this one covers the moment that holder lets go mid-call.
func (lib *library) call(fn uintptr, args ...uintptr) uintptr {
	lib.acquire()
	r, _, _ := purego.SyscallN(fn, args...)
	lib.release()
	return r
}

// sym returns the address of the exported symbol name.
func (lib *library) sym(name string) (uintptr, error) {
	p, err := purego.Dlsym(lib.handle, name)
	if err != nil || p == 0 {
		return 0, fmt.Errorf("%w: %s in %s", ErrSymbol, name, lib.path)
	}
	return p, nil
}

// entry calls the module entry point once and returns the module's info, or
// why the library is no usable module (no entry symbol, a NULL result, an
// unknown ABI version). The result is kept: a load is entered once.
func (lib *library) entry() (moduleInfo, error) {
	lib.mu.Lock()
	defer lib.mu.Unlock()
	if lib.entryDone {
		return lib.info, lib.entryErr
	}
	lib.entryDone = true
	lib.info, lib.entryErr = lib.enter()
	return lib.info, lib.entryErr
}

func (lib *library) enter() (moduleInfo, error) {
	fn, err := lib.sym(EntrySymbol)
	if err != nil {
		return moduleInfo{}, err
	}
	table, err := hostTable()
	if err != nil {
		return moduleInfo{}, err
	}
	p := lib.call(fn, table, ABIVersion)
	if p == 0 {
		return moduleInfo{}, fmt.Errorf("%w: %s: %s returned NULL (the module refuses host ABI version %d)", ErrBadModule, lib.path, EntrySymbol, ABIVersion)
	}
	info := readInfo(p)
	if info.abi != ABIVersion {
		return moduleInfo{}, fmt.Errorf("%w: %s was built for ABI version %d; this host speaks ABI version %d", ErrABI, lib.path, info.abi, ABIVersion)
	}
	if info.confSetup == 0 {
		return moduleInfo{}, fmt.Errorf("%w: %s has no conf_setup", ErrBadModule, lib.path)
	}
	return info, nil
}

// base returns the library's file name.
func (lib *library) base() string { return filepath.Base(lib.path) }
