// Package server assembles the ecelerity process from its parts: the configuration
// store and the core options it owns (ThreadPool, Control_Listener, Logging,
// TimestampFormat, Debug_Flags, Spoolbase, Metrics_Address), the module manager, the
// master loop, the thread pools, the memory types, the control listener with its
// console commands, the logs and the metrics endpoint. It is a top-level package of
// its own because that wiring is logic — start-up order, reload, signals, the pidfile,
// graceful shutdown — that cmd/ecelerity would otherwise hide behind a process, where
// no test can reach it without one; cmd/ecelerity only parses flags and calls Run.
//
// # Main types
//
//   - Server is one daemon: New checks the options and builds nothing that runs; Start
//     takes the pidfile, starts the master loop, builds generation 1 (privileged),
//     binds the control and metrics listeners and reports readiness; Reload is the
//     one path for SIGHUP and the console's `config reload`; Shutdown stops
//     gracefully. Run does all of it around a signal channel.
//   - Check is `ecelerity --check`: the module manager's dry run of a file, every
//     error with its file:line:col, nothing started.
//   - The reference ESMTP listener (esmtp.go): the server gives the built-in
//     ESMTP_Listener module of its chain its master loop, pools, module manager,
//     logs (R lines to the mainlog and rejections to the rejectlog, both counted
//     as messages received and rejected) and paniclog before generation 1 is
//     built, binding it to this server (esmtp.NewInfo) rather than through the
//     process-wide esmtp.Provide, which it calls only when Options.Loaders are
//     given. The ready line lists its addresses ("mail 127.0.0.1:2525") and its
//     spool; `generations` shows the sessions each generation holds; `spool
//     count|list|drop ID` are short for `ESMTP_Listener spool ...`; the metrics
//     gain its sessions per listener and per generation. A shutdown drains it
//     first (esmtp.Module.Drain, within two thirds of the shutdown timeout):
//     the mail port closes, idle sessions get a 421, transactions finish while
//     the pools still run. `--check` checks its Listen and Peer names too.
//   - The module kinds beyond the built-ins (extensions.go): unless Options.Loaders
//     are given, the server makes the Lua scriptlet runtime (the scriptlet module,
//     Lua modules by name, msys.cmod for scripts; paniclog tag "scriptlet") and the
//     native module loader, and hands the module manager its loaders in precedence
//     order: built-in Go modules, native modules, Lua modules. `native list` shows
//     the native libraries loaded; `module list` says which Lua module a native one
//     shadows. Both are closed after the modules at shutdown.
//
// # Configuration the server owns
//
//	ThreadPool "NAME" { Concurrency = N  Backlog = N }      pools; built-ins exist without a stanza
//	Control_Listener {
//	  Listen "/path/to/socket" { File_Mode = 0600 }          unix socket (default mode 0600)
//	  Listen "127.0.0.1:2025" { Enable_Authentication = true  Secret_File = "/etc/ecelerity/secret" }
//	  Timeout = 60                                           idle seconds before a connection closes
//	}
//	Logging { Paniclog = "..."  Mainlog = "..."  Rejectlog = "..."  Auditlog = "..."  Log_Mode = 0640 }
//	TimestampFormat = "[%a %d %b %Y %H:%M:%S] "                prefix of foreground (-d) lines
//	Debug_Flags { DEBUG = ()  INFO = ()  NOTICE = (ALL) ... }  the core's paniclog level: the least
//	                                                         severe level with a non-empty list
//	Spoolbase = "/var/spool/ecelerity"                       the ESMTP listener's spool directory
//	Metrics_Address = "127.0.0.1:9025"                       Prometheus /metrics; off when empty
//	Native_Runtime_Dir = "/run/ecelerity/native"             private copies of native libraries
//	                                                         (default: the first control socket's
//	                                                         path + ".native"); cleaned at start-up
//	Dynamic_Reload_Mode = true                               false: a native library loads once per
//	                                                         process; a changed file waits for a restart
//
// The embedded default configuration (default.conf, written beside the default
// control socket when there is no -c) listens for mail on 127.0.0.1:2525
// (Options.DefaultESMTPListen moves it) for the domain localhost, with its spool
// in a spool directory beside the file.
//
// The log files are a core stanza, Logging, rather than an ec_logger module instance:
// the paniclog must exist before any module loads and after the last one is gone, and
// one set of files per process is what the daemon writes. A Control_Listener without
// a Listen listens on control.DefaultAddress(), the console's default. The control
// listener, Metrics_Address and Spoolbase are read at start-up only (a reload that
// changes them warns that a restart is needed), and so is Native_Runtime_Dir, which
// is read from the file before generation 1 exists; pools, log paths, levels and the
// timestamp format follow every committed generation. Dynamic_Reload_Mode follows
// them too, but the native loader reads it when it loads: a reload that changes it
// counts from the next reload on.
//
// # Goroutines
//
// The master loop runs on its own goroutine (not locked to a thread: see
// sched.Options.LockOSThread). Console commands that read or change server state
// run on it through the control Executor (Dispatch, then wait); commands that
// block (config, reload, write config, module list and module commands, reopen
// logs) run on the connection's goroutine and reach the loop only through the APIs
// that hand work over. Reloads build off the loop; only the
// module manager's swap runs on it. Metrics scrapes read atomics and snapshots and
// never wait for the loop.
package server
