package hooks

import (
	"log/slog"
	"testing"
)

var reenterHook = DeclareValued[func() int](Scope("hooksinternal"), "reenter", FirstNonZero[int](), -1)

// TestReenterBacksOut replays the race that Current.enter leaves to reenter:
// a call loads the installed registry, a reload swaps and retires it, and
// only then does the call count itself in. The call must back out of the
// retired registry (letting it drain) and run on the new one.
func TestReenterBacksOut(t *testing.T) {
	opts := Options{Logger: slog.New(slog.DiscardHandler)}
	var cur Current
	build := func(v int) *Registry {
		r := NewRegistry(nil, opts)
		if err := reenterHook.RegisterFirst(r, "m", func() int { return v }); err != nil {
			t.Fatal(err)
		}
		if err := r.Seal(); err != nil {
			t.Fatal(err)
		}
		return r
	}
	old, next := build(1), build(2)
	if _, err := cur.Swap(old); err != nil {
		t.Fatal(err)
	}

	// The call has loaded old and is about to count itself in.
	r, s, _ := cur.enter(reenterHook.d.id)
	if r != old {
		t.Fatal("enter did not find the installed registry")
	}
	// Meanwhile the reload commits. old cannot drain: the call is counted.
	if _, err := cur.Swap(next); err != nil {
		t.Fatal(err)
	}
	if err := old.Retire(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-old.Drained():
		t.Fatal("drained with a call counted in")
	default:
	}
	if !r.retired.Load() {
		t.Fatal("retired not visible to the call")
	}
	r, s, _ = cur.reenter(r, s, reenterHook.d.id)
	if r != next {
		t.Fatal("reenter did not move to the installed registry")
	}
	<-old.Drained()
	r.exit(s)

	d, err := old.Show(reenterHook.FullName())
	if err != nil {
		t.Fatal(err)
	}
	if d.Stats.Calls != 0 {
		t.Errorf("backed-out call counted as a call: %d", d.Stats.Calls)
	}
	if got := Call0(reenterHook, &cur); got != 2 {
		t.Errorf("Call0 = %d, want 2 from the new registry", got)
	}
}
