// Package smtpproto is the wire grammar of the ESMTP listener: it parses one
// command line (RFC 5321 verbs, reverse- and forward-paths in angle brackets
// with ESMTP parameters such as SIZE= and BODY=) into a [Command], and formats
// replies with enhanced status codes ([AppendReply]).
//
// It knows nothing of sessions, sockets or policy: the session state machine in
// package esmtp reads lines, enforces the line length limits (the constants
// below) and calls [ParseCommand] on each command line. Parsing is strict where
// the RFC is and lenient where real clients are not (a space after "FROM:", a
// missing space before "<"); every refusal is an error wrapping one of the
// sentinels, which the session maps to a reply.
package smtpproto
