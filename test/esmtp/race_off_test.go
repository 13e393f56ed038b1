//go:build !race

package esmtp

// raceFlags is empty: the tests run without the race detector.
var raceFlags []string
