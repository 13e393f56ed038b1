// Package scriptlet is the Lua scriptlet runtime: scripts, written as Momentum's policy
// scriptlets are, that provide hook providers, console commands and timers, reload on the
// fly without dropping a call, and keep versioned state across reloads. It embeds
// gopher-lua and is the only package that does: other packages reach it through the facade
// in adapter.go (Bind, Provider, Value, Class, Func, Suspender), which has no Lua type in
// it. Options.Msys is how a process adds Go libraries under msys (msys.cmod).
//
// # Main types
//
//   - Runtime (New) holds what outlives generations: persistent script state (msys.state),
//     the deadline watchdog, the counters. Runtime.Info is the `scriptlet` module for the
//     module system; NewLuaLoader is the loader of Lua modules (name.lua in the Lua module
//     directory, loaded as a module that requires scriptlet).
//   - A generation state (one per module generation) compiles the scripts once (the
//     gopher-lua FunctionProto is shared by every interpreter of the generation), runs
//     their chunks and init() in its prime interpreter, registers their methods as hook
//     providers through each hook's Lua adapter, and keeps a pool of interpreters: one per
//     goroutine at a time, warmed when the generation is built so that calls create none.
//   - Provider is one Lua method registered on one hook. A hook's binding (Bind) calls it
//     with Provider.Call: a protected call with a deadline, whose errors and timeouts are
//     logged with the script's file:line, counted, and quarantine a provider that fails too
//     often until the next reload.
//
// # Goroutines
//
// Hooks are called on the master loop, which must never block. A script that needs
// blocking work asks for it with msys.runInPool (or a Method's Call.InPool): inside a call
// that can suspend (a hook whose caller passed a Suspender, a timer, a done callback) the
// script runs in a coroutine that yields; the work runs in the pool, in the same
// interpreter, and the completion resumes the coroutine on the loop. Off the loop (init,
// console commands, pool work) the goroutine simply waits. On the loop with nobody to
// suspend, the request is refused (ErrCannotWait) rather than blocking the loop.
//
// # Reloads
//
// Every configuration reload builds a new generation from the sources: a syntax error, a
// failing chunk or an init() that does not return true rejects the reload with the
// script's file:line and the running generation keeps serving. Calls in flight finish on
// the generation they started in; the old generation's deinit() runs when it retires.
package scriptlet
