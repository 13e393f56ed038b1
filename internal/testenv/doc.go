// Package testenv holds the pieces of a test environment that several packages'
// tests share: an event loop running on its own goroutine for the length of a test,
// a log sink that the code under test and the test may use at once, and the sample
// native module built and installed into a libexec directory. Only tests import it.
package testenv
