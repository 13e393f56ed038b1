// Package refcount is the reference count that configuration and module
// generations share: holders acquire and release it from any goroutine, and
// once it has dropped to zero it can never be raised again, so a generation
// that retired is never handed out.
package refcount

import "sync/atomic"

// Count is a reference count. Its zero value holds no reference; the owner
// sets the first with Store(1). Load, Store and Add are those of the
// embedded atomic. Any goroutine.
type Count struct {
	atomic.Int64
}

// Acquire adds a reference for a holder handing the counted thing to
// another goroutine; the caller must hold one already. It panics, naming
// pkg, on a count that had dropped to zero.
func (c *Count) Acquire(pkg string) {
	if c.Add(1) <= 1 {
		panic(pkg + ": Acquire on a released generation")
	}
}

// TryAcquire adds a reference unless the count has dropped to zero.
func (c *Count) TryAcquire() bool {
	for {
		n := c.Load()
		if n <= 0 {
			return false
		}
		if c.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release drops a reference and reports whether it was the last. It
// panics, naming pkg, on a release without a matching reference.
func (c *Count) Release(pkg string) (last bool) {
	n := c.Add(-1)
	if n < 0 {
		panic(pkg + ": Release without a matching reference")
	}
	return n == 0
}
