package hooks_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/hooks"
)

var (
	orderVoid   = hooks.DeclareVoid[func(*[]string)](testScope, "order_void")
	orderValued = hooks.DeclareValued[func(*[]string) int](testScope, "order_valued", hooks.FirstNonZero[int](), -1)
)

// reg is one registration in a table.
type reg struct {
	module string
	pos    hooks.Position
	opts   []hooks.RegisterOption
}

// recorder returns a provider that appends module to the trace.
func recorder(module string) func(*[]string) {
	return func(got *[]string) { *got = append(*got, module) }
}

func TestFirstLastOrder(t *testing.T) {
	tests := []struct {
		name string
		regs []reg
		want []string
	}{
		{"one", []reg{{module: "a", pos: hooks.First}}, []string{"a"}},
		{"firsts in registration order", []reg{{module: "a", pos: hooks.First}, {module: "b", pos: hooks.First}, {module: "c", pos: hooks.First}}, []string{"a", "b", "c"}},
		{"lasts in registration order", []reg{{module: "a", pos: hooks.Last}, {module: "b", pos: hooks.Last}}, []string{"a", "b"}},
		{"firsts before lasts", []reg{
			{module: "l1", pos: hooks.Last},
			{module: "f1", pos: hooks.First},
			{module: "l2", pos: hooks.Last},
			{module: "f2", pos: hooks.First},
		}, []string{"f1", "f2", "l1", "l2"}},
		{"one module twice", []reg{{module: "a", pos: hooks.Last}, {module: "b", pos: hooks.First}, {module: "a", pos: hooks.First}}, []string{"b", "a", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := hooks.NewRegistry(nil, quiet())
			for _, g := range tt.regs {
				fn := recorder(g.module)
				if g.pos == hooks.First {
					mustNil(t, orderVoid.RegisterFirst(r, g.module, fn))
				} else {
					mustNil(t, orderVoid.RegisterLast(r, g.module, fn))
				}
				mustNil(t, orderValued.RegisterForeign(r, g.pos, hooks.KindGo, g.module,
					func(got *[]string) int { fn(got); return 0 }))
			}
			var cur hooks.Current
			install(t, &cur, r)

			var got []string
			hooks.CallVoid1(orderVoid, &cur, &got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("void order = %v, want %v", got, tt.want)
			}
			got = nil
			if v := hooks.Call1(orderValued, &cur, &got); v != 0 {
				t.Errorf("valued result = %d, want 0", v)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("valued order = %v, want %v", got, tt.want)
			}
		})
	}
}

var (
	policyFirstNonZero = hooks.DeclareValued[func(*[]int) int](testScope, "policy_fnz", hooks.FirstNonZero[int](), -1)
	policyStopNegative = hooks.DeclareValued[func(*[]int) int](testScope, "policy_neg",
		hooks.StopWhen("negative", func(r int) bool { return r < 0 }), -99)
	policyError = hooks.DeclareValued[func() error](testScope, "policy_err", hooks.FirstNonZero[error](), nil)
)

func TestValuedPolicy(t *testing.T) {
	tests := []struct {
		name    string
		hook    *hooks.Valued[func(*[]int) int, int]
		results []int // provider i returns results[i]
		want    int
		ran     []int // indexes of the providers that ran
	}{
		{"all zero returns zero", policyFirstNonZero, []int{0, 0, 0}, 0, []int{0, 1, 2}},
		{"first non-zero stops", policyFirstNonZero, []int{0, 7, 3}, 7, []int{0, 1}},
		{"first provider stops", policyFirstNonZero, []int{5, 0}, 5, []int{0}},
		{"last non-zero", policyFirstNonZero, []int{0, 0, -2}, -2, []int{0, 1, 2}},
		{"custom policy skips positives", policyStopNegative, []int{4, 0, -3, -8}, -3, []int{0, 1, 2}},
		{"custom policy none stops returns zero", policyStopNegative, []int{4, 5}, 0, []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := hooks.NewRegistry(nil, quiet())
			for i, res := range tt.results {
				mustNil(t, tt.hook.RegisterLast(r, fmt.Sprintf("m%d", i), func(ran *[]int) int {
					*ran = append(*ran, i)
					return res
				}))
			}
			mustSeal(t, r)
			var ran []int
			if got := hooks.Call1In(tt.hook, r, &ran); got != tt.want {
				t.Errorf("result = %d, want %d", got, tt.want)
			}
			if !slices.Equal(ran, tt.ran) {
				t.Errorf("ran %v, want %v", ran, tt.ran)
			}
		})
	}
}

func TestInterfaceResult(t *testing.T) {
	errStop := errors.New("stop")
	r := hooks.NewRegistry(nil, quiet())
	ran := 0
	mustNil(t, policyError.RegisterLast(r, "a", func() error { ran++; return nil }))
	mustNil(t, policyError.RegisterLast(r, "b", func() error { ran++; return errStop }))
	mustNil(t, policyError.RegisterLast(r, "c", func() error { ran++; return nil }))
	mustSeal(t, r)
	if err := hooks.Call0In(policyError, r); !errors.Is(err, errStop) || ran != 2 {
		t.Fatalf("Call0In = %v after %d providers, want %v after 2", err, ran, errStop)
	}
}

var hasHook = hooks.DeclareValued[func() int](testScope, "has", hooks.FirstNonZero[int](), -1)

func TestHasWithNone(t *testing.T) {
	var empty hooks.Current
	if hasHook.Has(&empty) {
		t.Error("Has on an empty Current = true")
	}
	if got := hooks.Call0(hasHook, &empty); got != 0 {
		t.Errorf("Call0 on an empty Current = %d, want 0", got)
	}
	if hasHook.HasIn(nil) {
		t.Error("HasIn(nil) = true")
	}

	none := hooks.NewRegistry(nil, quiet())
	var cur hooks.Current
	install(t, &cur, none)
	if hasHook.Has(&cur) {
		t.Error("Has with no provider = true")
	}
	if got := hooks.Call0(hasHook, &cur); got != 0 {
		t.Errorf("Call0 with no provider = %d, want 0", got)
	}

	open := hooks.NewRegistry(nil, quiet())
	mustNil(t, hasHook.RegisterFirst(open, "m", func() int { return 3 }))
	if hasHook.HasIn(open) {
		t.Error("HasIn on an unsealed registry = true")
	}
	if got := hooks.Call0In(hasHook, open); got != 0 {
		t.Errorf("Call0In on an unsealed registry = %d, want 0", got)
	}
	install(t, &cur, open)
	if !hasHook.Has(&cur) || !hasHook.HasIn(open) {
		t.Error("Has with a provider = false")
	}
	if got := hooks.Call0(hasHook, &cur); got != 3 {
		t.Errorf("Call0 = %d, want 3", got)
	}
}

var (
	panicValued = hooks.DeclareValued[func(*[]string) int](testScope, "panic_valued", hooks.FirstNonZero[int](), 421)
	panicVoid   = hooks.DeclareVoid[func(*[]string)](testScope, "panic_void")
)

func TestProviderPanic(t *testing.T) {
	opts, log := newLogged()
	r := hooks.NewRegistry(nil, opts)
	boom := func(got *[]string) { *got = append(*got, "boom"); panic("provider exploded") }
	mustNil(t, panicValued.RegisterLast(r, "before", func(got *[]string) int { recorder("before")(got); return 0 }))
	mustNil(t, panicValued.RegisterLast(r, "bomber", func(got *[]string) int { boom(got); return 0 }))
	mustNil(t, panicValued.RegisterLast(r, "after", func(got *[]string) int { recorder("after")(got); return 0 }))
	mustNil(t, panicVoid.RegisterLast(r, "before", recorder("before")))
	mustNil(t, panicVoid.RegisterLast(r, "bomber", boom))
	mustNil(t, panicVoid.RegisterLast(r, "bomber2", boom))
	mustNil(t, panicVoid.RegisterLast(r, "after", recorder("after")))
	var cur hooks.Current
	install(t, &cur, r)

	t.Run("valued returns the failure value and stops", func(t *testing.T) {
		var got []string
		if v := hooks.Call1(panicValued, &cur, &got); v != 421 {
			t.Errorf("result = %d, want the failure value 421", v)
		}
		if want := []string{"before", "boom"}; !slices.Equal(got, want) {
			t.Errorf("ran %v, want %v", got, want)
		}
	})
	t.Run("void goes on with the next provider", func(t *testing.T) {
		var got []string
		hooks.CallVoid1(panicVoid, &cur, &got)
		if want := []string{"before", "boom", "boom", "after"}; !slices.Equal(got, want) {
			t.Errorf("ran %v, want %v", got, want)
		}
	})
	t.Run("logged with hook, module and site", func(t *testing.T) {
		out := log.String()
		for _, want := range []string{
			"hook=hookstest.panic_valued", "hook=hookstest.panic_void", "module=bomber", "module=bomber2",
			"site=hooks/call_test.go:", `panic="provider exploded"`, "TestProviderPanic",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("counted", func(t *testing.T) {
		for name, want := range map[string]map[string]uint64{
			"hookstest.panic_valued": {"before": 0, "bomber": 1, "after": 0},
			"hookstest.panic_void":   {"before": 0, "bomber": 1, "bomber2": 1, "after": 0},
		} {
			d, err := r.Show(name)
			mustNil(t, err)
			for _, p := range d.Providers {
				if p.Stats.Panics != want[p.Module] {
					t.Errorf("%s %s: panics = %d, want %d", name, p.Module, p.Stats.Panics, want[p.Module])
				}
			}
		}
	})
}

// Hooks of every arity with a direct form, each provider returning the sum
// of its arguments so that the test sees every argument arrive.
var (
	ar0 = hooks.DeclareValued[func() int](testScope, "ar0", hooks.FirstNonZero[int](), -1)
	ar1 = hooks.DeclareValued[func(int) int](testScope, "ar1", hooks.FirstNonZero[int](), -1)
	ar2 = hooks.DeclareValued[func(int, int) int](testScope, "ar2", hooks.FirstNonZero[int](), -1)
	ar3 = hooks.DeclareValued[func(int, int, int) int](testScope, "ar3", hooks.FirstNonZero[int](), -1)
	ar4 = hooks.DeclareValued[func(int, int, int, int) int](testScope, "ar4", hooks.FirstNonZero[int](), -1)
	ar5 = hooks.DeclareValued[func(int, int, int, int, int) int](testScope, "ar5", hooks.FirstNonZero[int](), -1)
	ar6 = hooks.DeclareValued[func(int, int, int, int, int, int) int](testScope, "ar6", hooks.FirstNonZero[int](), -1)
	av0 = hooks.DeclareVoid[func()](testScope, "av0")
	av1 = hooks.DeclareVoid[func(*int)](testScope, "av1")
	av2 = hooks.DeclareVoid[func(*int, int)](testScope, "av2")
	av3 = hooks.DeclareVoid[func(*int, int, int)](testScope, "av3")
	av4 = hooks.DeclareVoid[func(*int, int, int, int)](testScope, "av4")
	av5 = hooks.DeclareVoid[func(*int, int, int, int, int)](testScope, "av5")
	av6 = hooks.DeclareVoid[func(*int, int, int, int, int, int)](testScope, "av6")
	// awith has a result pair, which no direct form covers.
	awith = hooks.DeclareVoid[func(string) (int, error)](testScope, "awith")
)

func TestEveryForm(t *testing.T) {
	r := hooks.NewRegistry(nil, quiet())
	v0 := 0
	mustNil(t, ar0.RegisterLast(r, "m", func() int { return 1 }))
	mustNil(t, ar1.RegisterLast(r, "m", func(a int) int { return a }))
	mustNil(t, ar2.RegisterLast(r, "m", func(a, b int) int { return a + b }))
	mustNil(t, ar3.RegisterLast(r, "m", func(a, b, c int) int { return a + b + c }))
	mustNil(t, ar4.RegisterLast(r, "m", func(a, b, c, d int) int { return a + b + c + d }))
	mustNil(t, ar5.RegisterLast(r, "m", func(a, b, c, d, e int) int { return a + b + c + d + e }))
	mustNil(t, ar6.RegisterLast(r, "m", func(a, b, c, d, e, f int) int { return a + b + c + d + e + f }))
	mustNil(t, av0.RegisterLast(r, "m", func() { v0++ }))
	mustNil(t, av1.RegisterLast(r, "m", func(p *int) { *p += 1 }))
	mustNil(t, av2.RegisterLast(r, "m", func(p *int, a int) { *p += a }))
	mustNil(t, av3.RegisterLast(r, "m", func(p *int, a, b int) { *p += a + b }))
	mustNil(t, av4.RegisterLast(r, "m", func(p *int, a, b, c int) { *p += a + b + c }))
	mustNil(t, av5.RegisterLast(r, "m", func(p *int, a, b, c, d int) { *p += a + b + c + d }))
	mustNil(t, av6.RegisterLast(r, "m", func(p *int, a, b, c, d, e int) { *p += a + b + c + d + e }))
	mustNil(t, awith.RegisterLast(r, "m", func(s string) (int, error) { return len(s), nil }))
	var cur hooks.Current
	install(t, &cur, r)

	valued := []struct {
		name      string
		cur, in   int
		wantEqual int
	}{
		{"0", hooks.Call0(ar0, &cur), hooks.Call0In(ar0, r), 1},
		{"1", hooks.Call1(ar1, &cur, 1), hooks.Call1In(ar1, r, 1), 1},
		{"2", hooks.Call2(ar2, &cur, 1, 2), hooks.Call2In(ar2, r, 1, 2), 3},
		{"3", hooks.Call3(ar3, &cur, 1, 2, 3), hooks.Call3In(ar3, r, 1, 2, 3), 6},
		{"4", hooks.Call4(ar4, &cur, 1, 2, 3, 4), hooks.Call4In(ar4, r, 1, 2, 3, 4), 10},
		{"5", hooks.Call5(ar5, &cur, 1, 2, 3, 4, 5), hooks.Call5In(ar5, r, 1, 2, 3, 4, 5), 15},
		{"6", hooks.Call6(ar6, &cur, 1, 2, 3, 4, 5, 6), hooks.Call6In(ar6, r, 1, 2, 3, 4, 5, 6), 21},
		{"With", hooks.CallWith(ar2, &cur, func(f func(int, int) int) int { return f(20, 1) }),
			hooks.CallWithIn(ar2, r, func(f func(int, int) int) int { return f(20, 1) }), 21},
	}
	for _, v := range valued {
		if v.cur != v.wantEqual || v.in != v.wantEqual {
			t.Errorf("Call%s = %d, Call%sIn = %d, want %d", v.name, v.cur, v.name, v.in, v.wantEqual)
		}
	}

	void := []struct {
		name string
		call func(*int)
		want int
	}{
		{"0", func(*int) { hooks.CallVoid0(av0, &cur); hooks.CallVoid0In(av0, r) }, 0},
		{"1", func(p *int) { hooks.CallVoid1(av1, &cur, p); hooks.CallVoid1In(av1, r, p) }, 2},
		{"2", func(p *int) { hooks.CallVoid2(av2, &cur, p, 1); hooks.CallVoid2In(av2, r, p, 1) }, 2},
		{"3", func(p *int) { hooks.CallVoid3(av3, &cur, p, 1, 2); hooks.CallVoid3In(av3, r, p, 1, 2) }, 6},
		{"4", func(p *int) { hooks.CallVoid4(av4, &cur, p, 1, 2, 3); hooks.CallVoid4In(av4, r, p, 1, 2, 3) }, 12},
		{"5", func(p *int) { hooks.CallVoid5(av5, &cur, p, 1, 2, 3, 4); hooks.CallVoid5In(av5, r, p, 1, 2, 3, 4) }, 20},
		{"6", func(p *int) {
			hooks.CallVoid6(av6, &cur, p, 1, 2, 3, 4, 5)
			hooks.CallVoid6In(av6, r, p, 1, 2, 3, 4, 5)
		}, 30},
		{"With", func(p *int) {
			hooks.CallVoidWith(awith, &cur, func(f func(string) (int, error)) { n, _ := f("abc"); *p += n })
			hooks.CallVoidWithIn(awith, r, func(f func(string) (int, error)) { n, _ := f("de"); *p += n })
		}, 5},
	}
	for _, v := range void {
		got := 0
		v.call(&got)
		if got != v.want {
			t.Errorf("CallVoid%s: sum = %d, want %d", v.name, got, v.want)
		}
	}
	if v0 != 2 {
		t.Errorf("CallVoid0 ran the provider %d times, want 2", v0)
	}
}

var (
	allocValued = hooks.DeclareValued[func(*int, string) int](testScope, "alloc_valued", hooks.FirstNonZero[int](), -1)
	allocVoid   = hooks.DeclareVoid[func(*int, string)](testScope, "alloc_void")
)

func TestCallDoesNotAllocate(t *testing.T) {
	// SampleEvery 1 puts the timed path under test too.
	for _, every := range []uint64{1, hooks.DefaultSampleEvery} {
		opts := quiet()
		opts.SampleEvery = every
		r := hooks.NewRegistry(nil, opts)
		for i := range 3 {
			mustNil(t, allocValued.RegisterLast(r, fmt.Sprint("m", i), func(n *int, s string) int { *n += len(s); return 0 }))
			mustNil(t, allocVoid.RegisterLast(r, fmt.Sprint("m", i), func(n *int, s string) { *n += len(s) }))
		}
		var cur hooks.Current
		install(t, &cur, r)
		n := 0
		s := "hello"
		forms := map[string]func(){
			"Call2":       func() { hooks.Call2(allocValued, &cur, &n, s) },
			"Call2In":     func() { hooks.Call2In(allocValued, r, &n, s) },
			"CallVoid2":   func() { hooks.CallVoid2(allocVoid, &cur, &n, s) },
			"CallVoid2In": func() { hooks.CallVoid2In(allocVoid, r, &n, s) },
			"CallWith": func() {
				hooks.CallWith(allocValued, &cur, func(f func(*int, string) int) int { return f(&n, s) })
			},
		}
		for name, call := range forms {
			if a := testing.AllocsPerRun(200, call); a != 0 {
				t.Errorf("SampleEvery %d: %s allocates %.1f times per call", every, name, a)
			}
		}
	}
}

func TestDeclareRefusesBadNames(t *testing.T) {
	tests := []struct {
		name        string
		scope, hook string
	}{
		{"duplicate", string(testScope), "order_void"},
		{"empty name", string(testScope), ""},
		{"empty scope", "", "x"},
		{"dot in name", string(testScope), "a.b"},
		{"space in scope", "my scope", "x"},
		{"leading digit", string(testScope), "1x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("DeclareVoid(%q, %q) did not panic", tt.scope, tt.hook)
				}
			}()
			hooks.DeclareVoid[func()](hooks.Scope(tt.scope), tt.hook)
		})
	}
}

// TestProviderPanicEveryPath makes a provider panic on each path a valued
// call can take (the common loop, a custom policy, a timed call; through a
// Current and In a registry) and checks that the failure value comes back,
// the panic is counted, and the pinned forms count the call out, so that the
// registry still drains when it is retired.
func TestProviderPanicEveryPath(t *testing.T) {
	for _, sampled := range []bool{false, true} {
		for hook, want := range map[*hooks.Valued[func(*[]int) int, int]]int{policyFirstNonZero: -1, policyStopNegative: -99} {
			name := fmt.Sprintf("%s/sampled=%v", hook.FullName(), sampled)
			t.Run(name, func(t *testing.T) {
				opts := quiet()
				if sampled {
					opts.SampleEvery = 1
				}
				r := hooks.NewRegistry(nil, opts)
				mustNil(t, hook.RegisterLast(r, "ok", func(*[]int) int { return 0 }))
				mustNil(t, hook.RegisterLast(r, "bomber", func(*[]int) int { panic("boom") }))
				var cur hooks.Current
				install(t, &cur, r)
				if got := hooks.Call1(hook, &cur, nil); got != want {
					t.Errorf("Call1 = %d, want failure value %d", got, want)
				}
				if got := hooks.Call1In(hook, r, nil); got != want {
					t.Errorf("Call1In = %d, want failure value %d", got, want)
				}
				d, err := r.Show(hook.FullName())
				mustNil(t, err)
				if d.Stats.Panics != 2 || d.Providers[1].Stats.Panics != 2 {
					t.Errorf("panics: hook %d, bomber %d; want 2 and 2", d.Stats.Panics, d.Providers[1].Stats.Panics)
				}
				prev, err := cur.Swap(nil)
				mustNil(t, err)
				mustNil(t, prev.Retire())
				select {
				case <-prev.Drained():
				case <-time.After(5 * time.Second):
					t.Fatal("registry did not drain: a panicking call was not counted out")
				}
			})
		}
	}
}
