package backoff

import "testing"

func TestSpin(t *testing.T) {
	cases := []struct {
		name    string
		events  []bool // true: hit, false: miss
		skipped []int  // chances passed over after each event
		misses  []int  // Misses after each event
	}{
		{"misses double the gap", []bool{false, false, false}, []int{1, 3, 7}, []int{1, 2, 3}},
		{"the gap is capped", []bool{false, false, false, false, false, false, false, false},
			[]int{1, 3, 7, 15, 31, 63, 63, 63}, []int{1, 2, 3, 4, 5, 6, 6, 6}},
		{"a hit resets", []bool{false, false, true, false}, []int{1, 3, 0, 1}, []int{1, 2, 0, 1}},
		{"hits alone never skip", []bool{true, true}, []int{0, 0}, []int{0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b Spin
			if !b.Try() {
				t.Fatal("the zero Spin passed over its first chance")
			}
			for i, hit := range c.events {
				if hit {
					b.Hit()
				} else {
					b.Miss()
				}
				if m := b.Misses(); m != c.misses[i] {
					t.Errorf("event %d: Misses() = %d, want %d", i, m, c.misses[i])
				}
				n := 0
				for !b.Try() {
					n++
				}
				if n != c.skipped[i] {
					t.Errorf("event %d: %d chances passed over, want %d", i, n, c.skipped[i])
				}
			}
		})
	}
}

// A hit ends the gap at once, even with chances still to pass over from earlier
// misses.
func TestSpinHitClearsTheGap(t *testing.T) {
	var b Spin
	b.Miss()
	b.Miss()
	b.Hit()
	if !b.Try() {
		t.Error("a chance right after a hit was passed over")
	}
}
