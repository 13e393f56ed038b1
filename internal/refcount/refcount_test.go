package refcount

import (
	"sync"
	"testing"
)

func TestCount(t *testing.T) {
	var c Count
	if c.TryAcquire() {
		t.Fatal("TryAcquire on a count never set succeeded")
	}
	c.Store(1)
	c.Acquire("test")
	if !c.TryAcquire() || c.Load() != 3 {
		t.Fatalf("count = %d after Acquire and TryAcquire, want 3", c.Load())
	}
	for i, want := range []bool{false, false, true} {
		if last := c.Release("test"); last != want {
			t.Fatalf("release %d: last = %v, want %v", i+1, last, want)
		}
	}
	if c.TryAcquire() {
		t.Fatal("TryAcquire revived a released count")
	}
	mustPanic(t, "test: Acquire on a released generation", func() { c.Acquire("test") })
	c.Store(0)
	mustPanic(t, "test: Release without a matching reference", func() { c.Release("test") })
}

// TestTryAcquireRace: holders racing with the last release either get a
// reference before it (and then release it themselves) or none at all.
func TestTryAcquireRace(t *testing.T) {
	for range 200 {
		var c Count
		c.Store(1)
		var wg sync.WaitGroup
		lasts := make(chan bool, 9)
		for range 8 {
			wg.Go(func() {
				if c.TryAcquire() {
					lasts <- c.Release("test")
				}
			})
		}
		lasts <- c.Release("test")
		wg.Wait()
		close(lasts)
		n := 0
		for last := range lasts {
			if last {
				n++
			}
		}
		if n != 1 || c.Load() != 0 {
			t.Fatalf("%d last releases, count %d; want exactly one, 0", n, c.Load())
		}
	}
}

func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != want {
			t.Errorf("panic %v, want %q", r, want)
		}
	}()
	f()
}
