// Package esmtp is the reference ESMTP listener, the built-in module
// ESMTP_Listener: it accepts mail on its Listen addresses, runs the
// validation phases (hooks in scope "esmtp", provided in Go or by Lua
// scriptlets), refuses to relay for domains it does not serve, and spools
// each message durably before it answers 250.
//
// # Main types
//
//   - Module is the singleton infrastructure object: it defines the options
//     (ConfSetup), resolves each configuration generation's Listen and Peer
//     scopes into settings and binds the addresses a generation adds
//     (ExtInit), and answers the console (Control: spool count, spool list,
//     spool drop ID, sessions). Listening sockets are reference counted by the
//     generations that name them, so a reload never rebinds a port. Drain is
//     the first step of a shutdown: the sockets close, idle sessions get a
//     421 (Shutdown_Message), sessions in a transaction finish it first.
//     CheckConfig checks the Listen and Peer names for `--check`.
//   - A session (unexported) is one SMTP connection, a state machine driven by
//     its fd event on the master loop: no goroutine per connection. Replies to
//     pipelined commands are gathered and written once per callback, in order.
//     The body streams into the spool (package spool) with bounded memory. A
//     session keeps the generation it started its transaction on and moves to
//     the newest at its next MAIL or RSET, unless the new generation dropped
//     its Listen address: then it gets Reconfig_Message (421) and is closed.
//   - Accept, VCtx and Message are what validation providers see: the
//     connection, the validation context (connection and message dictionaries,
//     SetCode, Disconnect, Resumer) and the transaction. The phases are the
//     hooks ValidateConnect ... ValidateSetBinding, with Result values Cont,
//     Done and Again; Again suspends the session (its descriptor leaves the
//     kernel set) until a pool job resumes the context, and the phase then
//     runs again. MessageEnqueue (core.ec_message_enqueue) follows the spool.
//   - Logs receives the mainlog R lines and the rejectlog records; LineLogs
//     writes them as text off the loop.
//   - Env is what the process provides: the loop, the pools, the module
//     manager (for the current generation) and the logs. The daemon calls
//     Provide before loading the configuration; tests use NewInfo.
//
// Subpackages: smtpproto (command parser and reply formatting) and spool
// (the durable spool with group commit).
//
// # Goroutines
//
// Everything a session does runs on the master loop; providers are called
// there and must not block. Option definitions, generation set-up and
// console commands run off the loop, on the module system's goroutines; the
// state they share with the loop is guarded by Module.mu.
package esmtp
