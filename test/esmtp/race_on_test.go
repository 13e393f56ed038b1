//go:build race

package esmtp

// raceFlags builds the daemon with the race detector when the tests run with it,
// so that the end-to-end traffic checks the daemon's goroutines too.
var raceFlags = []string{"-race"}
