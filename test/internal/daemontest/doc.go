// Package daemontest is the end-to-end harness that the daemon's test packages
// (test and test/esmtp) share: it builds cmd/ecelerity and cmd/ec_console once per
// test binary, runs the daemon as a process with its stderr collected line by line
// so that a test can wait for a line, and runs the console. It is an ordinary
// package so that both test packages can import it; only tests import it.
package daemontest
