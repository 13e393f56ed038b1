//go:build !race

package esmtp

// raceEnabled says the tests run with the race detector, which allocates
// where the code alone does not.
const raceEnabled = false
