package hooks_test

import (
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/hooks"
)

var (
	countValued = hooks.DeclareValued[func(int) int](testScope, "count_valued", hooks.FirstNonZero[int](), -1)
	countVoid   = hooks.DeclareVoid[func(int)](testScope, "count_void")
)

// tickClock is a deterministic clock: every read is one nanosecond after the
// previous one.
func tickClock() func() int64 {
	var n atomic.Int64
	return func() int64 { return n.Add(1) }
}

func TestCounters(t *testing.T) {
	opts := quiet()
	opts.SampleEvery = 1
	opts.Clock = tickClock()
	r := hooks.NewRegistry(nil, opts)
	// a stops on 1, b on 2 and panics on 3, c never stops.
	mustNil(t, countValued.RegisterLast(r, "a", func(x int) int { return b2i(x == 1) }))
	mustNil(t, countValued.RegisterLast(r, "b", func(x int) int {
		if x == 3 {
			panic("three")
		}
		return b2i(x == 2)
	}))
	mustNil(t, countValued.RegisterLast(r, "c", func(int) int { return 0 }))
	mustNil(t, countVoid.RegisterLast(r, "a", func(int) {}))
	mustNil(t, countVoid.RegisterLast(r, "b", func(x int) {
		if x == 3 {
			panic("three")
		}
	}))
	mustNil(t, countVoid.RegisterLast(r, "c", func(int) {}))
	var cur hooks.Current
	install(t, &cur, r)

	for _, x := range []int{0, 1, 1, 2, 3, 0} {
		hooks.Call1(countValued, &cur, x)
		hooks.CallVoid1(countVoid, &cur, x)
	}

	t.Run("valued", func(t *testing.T) {
		d, err := r.Show(countValued.FullName())
		mustNil(t, err)
		want := hooks.HookStats{Calls: 6, ShortCircuits: 3, Panics: 1, SampledCalls: 5}
		got := d.Stats
		got.SampledTime = 0
		if got != want {
			t.Errorf("hook stats = %+v, want %+v", got, want)
		}
		// A timed call reads the clock at its start and after each provider,
		// so a call that ends after k providers takes k ticks: 3 through all
		// three, 1 when a stops it, 2 when b does. The call that panics is
		// not timed as a whole.
		if wantTime := time.Duration(3 + 1 + 1 + 2 + 3); d.Stats.SampledTime != wantTime {
			t.Errorf("hook sampled time = %v, want %v", d.Stats.SampledTime, wantTime)
		}
		wantProv := []hooks.ProviderStats{
			{Calls: 6, ShortCircuits: 2, SampledCalls: 6, SampledTime: 6},
			{Calls: 4, ShortCircuits: 1, Panics: 1, SampledCalls: 3, SampledTime: 3},
			{Calls: 2, SampledCalls: 2, SampledTime: 2},
		}
		for i, p := range d.Providers {
			if p.Stats != wantProv[i] {
				t.Errorf("provider %s stats = %+v, want %+v", p.Module, p.Stats, wantProv[i])
			}
		}
	})
	t.Run("void", func(t *testing.T) {
		d, err := r.Show(countVoid.FullName())
		mustNil(t, err)
		if d.Stats.Calls != 6 || d.Stats.Panics != 1 || d.Stats.ShortCircuits != 0 || d.Stats.SampledCalls != 6 {
			t.Errorf("hook stats = %+v, want 6 calls, 1 panic, no short-circuit, 6 sampled", d.Stats)
		}
		for _, p := range d.Providers {
			if p.Stats.Calls != 6 {
				t.Errorf("provider %s calls = %d, want every call: 6", p.Module, p.Stats.Calls)
			}
		}
	})
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

var sampledHook = hooks.DeclareVoid[func()](testScope, "sampled")

func TestSampling(t *testing.T) {
	tests := []struct {
		every, calls, wantSampled uint64
	}{
		{1, 10, 10},
		{4, 10, 2},   // calls 4 and 8
		{3, 10, 2},   // rounded up to 4
		{0, 1000, 3}, // DefaultSampleEvery: calls 256, 512, 768
	}
	for _, tt := range tests {
		opts := quiet()
		opts.SampleEvery = tt.every
		r := hooks.NewRegistry(nil, opts)
		mustNil(t, sampledHook.RegisterLast(r, "m", func() {}))
		mustSeal(t, r)
		for range tt.calls {
			hooks.CallVoid0In(sampledHook, r)
		}
		d, err := r.Show(sampledHook.FullName())
		mustNil(t, err)
		if d.Stats.Calls != tt.calls || d.Stats.SampledCalls != tt.wantSampled {
			t.Errorf("SampleEvery %d: %d calls, %d sampled; want %d, %d",
				tt.every, d.Stats.Calls, d.Stats.SampledCalls, tt.calls, tt.wantSampled)
		}
	}
	s := hooks.HookStats{Calls: 100, SampledCalls: 4, SampledTime: 40}
	if got := s.EstimatedTime(); got != 1000 {
		t.Errorf("EstimatedTime = %v, want 1000ns", got)
	}
}

var (
	listA = hooks.DeclareValued[func(string) int](testScope, "list_a", hooks.FirstNonZero[int](), 7)
	listB = hooks.DeclareVoid[func()](testScope, "list_b")
)

func TestListAndShow(t *testing.T) {
	r := hooks.NewRegistry(nil, quiet())
	mustNil(t, listA.RegisterLast(r, "late", func(string) int { return 0 }))
	mustNil(t, listA.RegisterFirst(r, "early", func(string) int { return 0 }, hooks.Before("nobody"), hooks.Singleton()))

	check := func(t *testing.T, when string) {
		list := r.List()
		if !slices.IsSortedFunc(list, func(a, b hooks.HookInfo) int { return strings.Compare(a.FullName(), b.FullName()) }) {
			t.Errorf("%s: List not sorted by name", when)
		}
		found := map[string]hooks.HookInfo{}
		for _, h := range list {
			found[h.FullName()] = h
		}
		a, b := found["hookstest.list_a"], found["hookstest.list_b"]
		if a.NumProviders != 2 || !a.Valued || a.Policy != "first-non-zero" || a.Failure != "7" || a.Signature != "func(string) int" {
			t.Errorf("%s: list_a = %+v", when, a)
		}
		if b.NumProviders != 0 || b.Valued || b.Signature != "func()" {
			t.Errorf("%s: list_b = %+v", when, b)
		}
		d, err := r.Show("hookstest.list_a")
		mustNil(t, err)
		if len(d.Providers) != 2 {
			t.Fatalf("%s: Show has %d providers, want 2", when, len(d.Providers))
		}
		e, l := d.Providers[0], d.Providers[1]
		if e.Module != "early" || e.Position != hooks.First || !e.Singleton || e.Kind != hooks.KindGo ||
			!slices.Equal(e.Before, []string{"nobody"}) || !strings.HasPrefix(e.Site, "hooks/stats_test.go:") {
			t.Errorf("%s: first provider = %+v", when, e)
		}
		if l.Module != "late" || l.Position != hooks.Last || l.Singleton {
			t.Errorf("%s: second provider = %+v", when, l)
		}
	}
	check(t, "open")
	mustSeal(t, r)
	check(t, "sealed")

	if _, err := r.Show("hookstest.nonesuch"); !errors.Is(err, hooks.ErrUnknownHook) {
		t.Errorf("Show of an unknown hook = %v, want ErrUnknownHook", err)
	}
	if hooks.First.String() != "first" || hooks.Last.String() != "last" {
		t.Error("Position strings")
	}
}
