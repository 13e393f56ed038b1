// Package test holds the end-to-end tests: they build the ecelerity daemon and the
// ec_console console into a temporary directory once per test binary (TestMain),
// start the daemon on temporary paths (socket, pidfile, logs, configuration) and
// drive it the way an operator does — the console in batch mode, signals, a second
// daemon, a kill -9 — checking what the operator would see. Benchmarks here measure
// start-up time, console round trips and idle memory of the real binaries.
package test
