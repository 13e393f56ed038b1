// Package esmtp holds the end-to-end tests of the ESMTP listener in the daemon:
// they build cmd/ecelerity and cmd/ec_console and drive the daemon as a process,
// with Python's smtplib and raw sockets, through STARTTLS, size limits, Lua policy,
// console spool commands, metrics, a SIGHUP reload during a session and a SIGKILL
// in the middle of a load.
package esmtp
