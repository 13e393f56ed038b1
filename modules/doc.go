// Package modules is the module system: the catalogue of modules, how a
// configuration decides which of them load and in what order, and the life of
// their instances across configuration generations.
//
// # Kinds and loaders
//
// A module is found by name through a [Loader] per kind ([Builtin] Go modules
// now; native shared objects and Lua modules later, through the same
// interface). A loader turns a name, with the .ecm manifest found for it in
// the libexec path, into an [Info]: name, singleton or not, and a constructor
// without side effects. Built-in modules [Register] their Info from init(),
// into a guarded registry ([Builtins]); a bad or duplicate name panics. A
// built-in module's manifest is compiled in (Info.Manifest).
//
// What a module can do is found by type assertion on small interfaces, each
// claimed with a compile-time guard: [ConfSetuper] (conf_setup: once per
// process; options, memory types, a singleton's hooks), [ExtIniter]
// (ext_init with [Init], [PostInit] and [Destroy]; [InitCtx.Privileged] is
// true only for the start-up generation), [Controller] (console commands
// "name[:instance] args...") and [Describer].
//
// # Catalogue
//
// The [Manager] keeps, for every module name a loader or a manifest knows, its
// kind, manifest facts and [State]: unknown, missing (with the reason), loaded,
// failed (with the reason) or orphaned (only an older, still referenced
// generation holds it). [Manager.Modules] and [FormatModuleList] back
// `module list`; [Manager.Generations] and [FormatGenerations] back
// `generations`.
//
// # Which modules load, in what order
//
// A top-level stanza whose keyword is a module loads it explicitly (a
// singleton's stanza is anonymous, a non-singleton's is named: one instance
// per name). An option named by some module's msys.provides, used at the
// scope the capability names (Global, Binding, Domain, Binding:Domain, ...),
// loads that module implicitly with an empty stanza (a non-singleton gets an
// instance named after the module). msys.requires loads dependencies first,
// transitively; a cycle or a missing dependency is an error naming the chain.
// Independent modules load in the order they first appear in the files, never
// in map or registration order. A singleton, once committed, stays loaded for
// the life of the process: its conf_setup hook registrations are carried into
// every generation and cannot be withdrawn.
//
// # The generation pipeline
//
// A reload ([Manager.Reload]; [Manager.Start] for start-up) runs off the event
// loop: parse the file; resolve modules; conf_setup for modules new to the
// process (defining their scope, the common options enabled and debug_level,
// and theirs); then the config store's commit: validation against the now
// complete definitions, and, as the store's participant, the module build: a
// new hook registry from the previous one (carrying singleton registrations),
// ext_init(Init) for every enabled instance in load order (singletons reuse
// their one object, non-singletons get a new one), ext_init(PostInit), Seal.
// All of that is the config transaction's Prepare. Its Swap then installs the
// configuration generation, the hook registry and the module [Generation]
// together: when a sched.Loop is given, those three pointer stores are one
// function dispatched to the loop, the only step of a reload that runs there,
// so that nothing on the loop ever sees a configuration with the hooks of
// another generation. Commits made through the store directly (the console's
// `config set`) swap on the loop the same way (config.Store.SetSwapRunner).
// What the swap replaced is retired afterwards, off the loop. The registry is
// private to the builder until the swap, which keeps the intent of the seed's
// rule that hooks are registered on the master thread only: no live call ever
// reads a registry that is still being filled.
//
// Any failure rejects the whole reload with every error found ([RejectedError];
// module failures are [ModuleError] values naming the module, instance and
// phase). The running generation stays current and untouched, and every
// instance the rejected generation initialised gets Destroy before Reload
// returns: nothing half-registered stays behind.
//
// A reader off the loop may load the store's configuration and the hook
// registry on either side of a swap; code that needs the two to agree from
// any goroutine reads both from [Manager.Current]. A reload with a path makes
// it the store's path, what the next reload without one reads.
//
// # Lifetime
//
// A Generation is reference counted ([Manager.Current], [Generation.Release]).
// Its instances are destroyed once it has been superseded and both its config
// generation and its hook registry have let go of their last reference: every
// holder released, and every hook call in flight (which pins the registry)
// returned. ext_init(Destroy) is called exactly once per ext_init(Init) call,
// in reverse load order; for a singleton it ends that generation's state only.
//
// Unchanged non-singleton instances are not carried into the next generation:
// each generation builds its own. An instance fetches its option values from
// its generation, which keeps them valid only while that generation lives, and
// registers hook providers that close over that generation's state; carrying
// it would mean re-pointing both and counting references across generations,
// for a saving (one constructor and one ext_init per instance per reload) that
// the reload benchmark shows to be small. [Manager.DryRun] still reports which
// instances are added, removed, reconfigured or unchanged.
//
// # Other ways in
//
// A commit made through the config store directly (the console's `config
// set`) also builds a module generation; it may not need a module that has not
// been set up, since conf_setup must precede validation ([ErrNotSetUp]).
// [Manager.Command] serves `module list`, `module dryrun [path]`,
// `generations` and routes module commands to [Manager.Control].
package modules
