// Package native loads third-party modules written in C: shared objects
// opened with purego (no cgo; the daemon builds with CGO_ENABLED=0), wired
// into the module system as modules of kind native, and replaced by a new
// build while the server runs without a crash when old code is still on some
// call stack.
//
// # The C ABI
//
// include/ecelerity_module.h is the whole ABI, versioned (ABIVersion): a
// module exports ec_module_entry, which receives the host's table of
// functions (one table per process, its entries purego callbacks: 14 of
// purego's 2000) and returns the module's ec_module_info: name, description,
// singleton flag, state version, conf_setup, ext_init, control and migrate.
// An ABI version the host does not know is refused with both versions named.
// sample/ holds a sample module and the README for module authors.
//
// # Main types
//
//   - Loader (NewLoader) is the modules.Loader of kind modules.Native: for a
//     manifest X.ecm it loads X.so beside it. Give it to the module system
//     before the Lua loader, so that a native module wins over a Lua one of
//     the same name (Options.Shadowed lets `module list` say so).
//   - Bind makes a declared hook providable from C: the binding turns the
//     hook's arguments into C words (Provider's Call methods; Frame for
//     strings and opaque handles read back through Accessors). hook_register
//     refuses a hook without a binding.
//   - CModule and CFunc are direct calls into any library (msys.cmod for
//     Lua: Loader.LuaLibrary, installed with the scriptlet runtime's
//     Options.Msys; a loaded function is callable as f(...)).
//
// # Reload safety
//
// Every load copies the library into a directory of its own under
// Options.RuntimeDir (refused if mounted noexec; cleaned at start-up) and
// dlopens the copy (RTLD_NOW|RTLD_LOCAL): a rebuilt file loads as a new
// version beside the old one, and a file overwritten in place never touches
// mapped code. A load is reference counted: by the cache while it is the
// current load of its path, by each generation bound to it, by every call in
// flight, by the thread-pool jobs and timed events it queued, by cmod
// handles. The copy is closed and deleted when the last reference goes.
//
// The cache is keyed by path and validated by device, inode, size, mtime and
// a SHA-256 of the content, so a reused inode or a restored mtime does not
// fool it. A changed library is loaded anew at the next reload (the first
// ext_init of a generation compares it) and the old load shows as orphan in
// Loader.Libraries until released. Options.NoReload (dynamic_reload_mode
// off) keeps the first load for the life of the process and logs changes.
//
// # Reload evolution
//
// The host keeps a module's persistent state (an opaque pointer) and its
// version across versions. A new version's migrate runs once per version step
// (each logged), then its conf_setup receives the migrated state; a version
// older than the state is refused (ErrDowngrade) and the reload fails with
// the running version untouched. Options and memory types keep their ids
// across versions; a version that adds one needs a restart (ErrRestart).
//
// # Goroutines
//
// Hook providers run on whatever goroutine calls the hook; conf_setup and
// ext_init on the goroutine building a generation; control on the control
// connection's; jobs in pool workers, their completions and timers on the
// loop. A C module may call host functions only from inside such calls.
package native
