// Package esmtp holds the end-to-end tests of the ESMTP listener: they build
// the esmtpd command (the listener module on a real loop, pools, module manager
// and Lua runtime, without the rest of the daemon) and drive it as a process,
// with Python's smtplib and raw sockets, through STARTTLS, size limits, Lua
// policy, reloads and a SIGKILL in the middle of a load.
package esmtp
