package backoff

// SpinMax caps the misses Spin counts: after it, each miss passes over
// 2^SpinMax-1 = 63 chances, so slow work still gets a spin now and then and one
// that catches brings spinning back.
const SpinMax = 6

// Spin spaces out spins that do not pay: after k spins in a row that ran out of
// budget, the next 2^k-1 chances to spin (up to 63) are passed over, and one spin
// that catches what it waited for brings spinning back at once. Work slower than
// the budget then costs a wasted spin now and then instead of one per wait.
//
// A timing rule ("spin again when the work came soon after going to sleep") was
// tried and does not work: that time includes the very thread wake-up that
// spinning avoids, tens of microseconds on a virtual machine, so it never looked
// soon enough.
//
// The zero value spins at the first chance. Spin has no lock: its owner guards it
// (the loop's goroutine in sched, the pool's mutex in threadpool).
type Spin struct {
	misses uint8  // spins in a row that ran out of budget, capped at SpinMax
	skip   uint32 // chances to spin still to pass over
}

// Try reports whether to spin at this chance; a false counts the chance as passed
// over.
func (b *Spin) Try() bool {
	if b.skip > 0 {
		b.skip--
		return false
	}
	return true
}

// Hit records a spin that caught what it waited for.
func (b *Spin) Hit() { b.misses, b.skip = 0, 0 }

// Miss records a spin that ran out of budget.
func (b *Spin) Miss() {
	if b.misses < SpinMax {
		b.misses++
	}
	b.skip = 1<<b.misses - 1
}

// Misses returns how many spins in a row ran out of budget, at most SpinMax.
func (b *Spin) Misses() int { return int(b.misses) }
