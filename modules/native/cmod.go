package native

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"unsafe"
)

// CModule is a shared object loaded for direct calls (Lua's msys.cmod.load,
// after Tarantool's cmod): any library, no entry point needed, loaded through
// the same cache and private copies as modules. It holds a reference on its
// load until Unload, or until the garbage collector finds it unreachable
// (a Lua script that drops it). Safe for concurrent use.
type CModule struct {
	l    *Loader
	lib  *library
	path string
	h    *handle
}

// CFunc is one function of a CModule. It holds its own reference on the
// load, so it keeps working on the code it was looked up in after the module
// is unloaded or reloaded, until Release or until it is collected.
type CFunc struct {
	l    *Loader
	lib  *library
	name string
	fn   uintptr
	h    *handle
}

// handle is one reference on a load, released once: by an explicit
// Unload/Release or by the cleanup the collector runs for its owner.
type handle struct {
	lib  *library
	done atomic.Bool
}

func (h *handle) release() bool {
	if !h.done.CompareAndSwap(false, true) {
		return false
	}
	h.lib.release()
	return true
}

// LoadC loads the shared object at path (or returns the cached load when the
// file did not change). Errors: ErrNoLibrary for a missing file, ErrDlopen,
// ErrNoExec, ErrSystem. Any goroutine but the loop.
func (l *Loader) LoadC(path string) (*CModule, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: empty path", ErrBadParams)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadParams, err)
	}
	lib, err := l.cache.get(abs, l.reload())
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s: %w", ErrNoLibrary, path, err)
		}
		return nil, err
	}
	m := &CModule{l: l, lib: lib, path: abs, h: &handle{lib: lib}}
	runtime.AddCleanup(m, func(h *handle) { h.release() }, m.h)
	return m, nil
}

// Path returns the library's absolute path.
func (m *CModule) Path() string { return m.path }

// State returns StateCached while m's load is the current load of its path,
// StateOrphan once a newer load replaced it.
func (m *CModule) State() string {
	if !m.lib.orphan.Load() && m.l.cache.current(m.lib) {
		return StateCached
	}
	return StateOrphan
}

// Func looks up the exported function name. Errors: ErrUnloaded after
// Unload, ErrChanged when the file on disk is no longer what was loaded
// (load it again), ErrSymbol when there is no such function.
func (m *CModule) Func(name string) (*CFunc, error) {
	if m.h.done.Load() {
		return nil, fmt.Errorf("%w: %s", ErrUnloaded, m.path)
	}
	if name == "" {
		return nil, fmt.Errorf("%w: empty function name", ErrBadParams)
	}
	if _, fp, err := readLibrary(m.path); err != nil || fp != m.lib.fp {
		return nil, fmt.Errorf("%w: %s (load %d); load it again", ErrChanged, m.path, m.lib.seq)
	}
	fn, err := m.lib.sym(name)
	if err != nil {
		return nil, err
	}
	if !m.lib.tryAcquire() {
		return nil, fmt.Errorf("%w: %s", ErrUnloaded, m.path)
	}
	f := &CFunc{l: m.l, lib: m.lib, name: name, fn: fn, h: &handle{lib: m.lib}}
	runtime.AddCleanup(f, func(h *handle) { h.release() }, f.h)
	return f, nil
}

// Unload lets go of m's reference; functions looked up keep theirs. A second
// Unload is ErrUnloaded.
func (m *CModule) Unload() error {
	if !m.h.release() {
		return fmt.Errorf("%w: %s", ErrUnloaded, m.path)
	}
	return nil
}

// Name returns the function's name.
func (f *CFunc) Name() string { return f.name }

// Release lets go of f's reference. A second Release is ErrUnloaded.
func (f *CFunc) Release() error {
	if !f.h.release() {
		return fmt.Errorf("%w: %s", ErrUnloaded, f.name)
	}
	return nil
}

// Call calls the function with args (as the header's ec_cmod_args) and
// returns the results it wrote with reply_write. A nonzero return is an
// error wrapping ErrModule, with the results as its text. On the calling
// goroutine; the function may block it.
func (f *CFunc) Call(args ...string) ([]string, error) {
	if f.h.done.Load() {
		return nil, fmt.Errorf("%w: %s", ErrUnloaded, f.name)
	}
	table, err := hostTable()
	if err != nil {
		return nil, err
	}
	// One mapping holds the ec_cmod_args block, then the argument vector.
	a, err := newArgvAfter(cmodArgsSize, args)
	if err != nil {
		return nil, err
	}
	defer a.free()
	c := newContext(f.l, f.lib, nil, phaseCall)
	defer c.done()
	blk := a.mem.b
	*(*uintptr)(unsafe.Pointer(&blk[0])) = table
	*(*uintptr)(unsafe.Pointer(&blk[8])) = c.id
	*(*int32)(unsafe.Pointer(&blk[16])) = int32(len(args))
	*(*uintptr)(unsafe.Pointer(&blk[24])) = a.ptr()
	*(*uintptr)(unsafe.Pointer(&blk[32])) = c.id
	r := int32(f.lib.call(f.fn, a.mem.addr(0)))
	c.mu.Lock()
	res := c.results
	c.mu.Unlock()
	if r != 0 {
		return res, fmt.Errorf("%w: %s returned %d%s", ErrModule, f.name, r, detail(errors.Join(append(textErrs(res), c.takeErrs())...)))
	}
	return res, nil
}

// textErrs turns result texts into errors for a failure message.
func textErrs(res []string) []error {
	out := make([]error, 0, len(res))
	for _, s := range res {
		out = append(out, errors.New(s))
	}
	return out
}
