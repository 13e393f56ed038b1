// Package testenv holds the pieces of a test environment that the module packages'
// tests (modules/esmtp, modules/scriptlet) share: an event loop running on its own
// goroutine for the length of a test, and a log sink that the code under test and
// the test may use at once. Only tests import it.
package testenv
