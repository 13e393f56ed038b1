// Package logging holds the daemon's log files: the paniclog (the server's own
// diagnostics), the mainlog (one line per message event) and the rejectlog (one
// line per refused command). It is a top-level package because every part of the
// server writes to it — the scheduler's owner, modules through their slog.Logger,
// thread pools, hooks, and the ESMTP listener of a later issue — while none of them
// should know where the files are or when they are reopened.
//
// # Main types
//
//   - Paniclog writes `<unix time>:<tag>: text` lines, filtered by level: a module's
//     lines by its `debug_level`, the core's by Debug_Flags. It keeps the last
//     RecentPerLevel entries of each level in memory for the console's `paniclog`
//     command, and in the foreground (`-d`) copies each line to stderr prefixed with
//     the configured TimestampFormat. Handler adapts it to log/slog, so that
//     Options.Logger of hooks, threadpool and modules write to it.
//   - Mainlog writes the `@`-separated records of REFERENCE section 7 (R, D, T, P and
//     the M heartbeat); Rejectlog writes rejection lines and its Marker heartbeat.
//   - Logs owns the files of all of them. A file is opened once and shared: a reload
//     that names the same path keeps the open file (never truncated, never reopened),
//     a changed path is opened before the change commits (Stage) so that a bad path
//     rejects the reload, and Reopen (`reopen logs`) reopens every file in place after
//     an external rotation.
//
// Every method may be called from any goroutine; writes to one file are serialised.
// Writes go straight to the file (append mode): log lines are short and a write to a
// regular file does not wait on the network, so the master loop may log.
package logging
