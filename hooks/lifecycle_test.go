package hooks_test

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ecelerity-go/ecelerity/hooks"
)

// instance stands for a module instance that a generation's cleanup
// destroys.
type instance struct {
	name      string
	destroyed atomic.Bool
}

var slowHook = hooks.DeclareValued[func() string](testScope, "slow", hooks.FirstNonZero[string](), "failed")

func TestRetireWaitsForCallInFlight(t *testing.T) {
	old := &instance{name: "old"}
	entered := make(chan struct{})
	release := make(chan struct{})
	var cur hooks.Current

	r1 := hooks.NewRegistry(nil, quiet())
	mustNil(t, slowHook.RegisterFirst(r1, "m", func() string {
		close(entered)
		<-release
		if old.destroyed.Load() {
			return "destroyed under the call"
		}
		return old.name
	}))
	mustNil(t, r1.OnRetire(func() { old.destroyed.Store(true) }))
	install(t, &cur, r1)

	result := make(chan string)
	go func() { result <- hooks.Call0(slowHook, &cur) }()
	<-entered

	// Reload: r2 commits while the call is in r1's provider.
	fresh := &instance{name: "new"}
	r2 := hooks.NewRegistry(r1, quiet())
	mustNil(t, slowHook.RegisterFirst(r2, "m", func() string { return fresh.name }))
	install(t, &cur, r2)

	if got := hooks.Call0(slowHook, &cur); got != "new" {
		t.Errorf("call after the reload = %q, want the new generation's %q", got, "new")
	}
	select {
	case <-r1.Drained():
		t.Fatal("old registry drained while a call was in flight")
	default:
	}
	if old.destroyed.Load() {
		t.Fatal("old instance destroyed while a call was in flight")
	}

	close(release)
	if got := <-result; got != "old" {
		t.Errorf("call in flight returned %q, want %q from the old generation", got, "old")
	}
	<-r1.Drained()
	if !old.destroyed.Load() {
		t.Error("old instance not destroyed after the last call returned")
	}
}

func TestPinHoldsRetiredRegistry(t *testing.T) {
	var cur hooks.Current
	r1 := hooks.NewRegistry(nil, quiet())
	mustNil(t, slowHook.RegisterFirst(r1, "m", func() string { return "one" }))
	cleaned := false
	mustNil(t, r1.OnRetire(func() { cleaned = true }))
	install(t, &cur, r1)

	held := cur.Acquire()
	if held != r1 {
		t.Fatalf("Acquire = %p, want r1 %p", held, r1)
	}
	install(t, &cur, hooks.NewRegistry(nil, quiet()))
	if got := hooks.Call0In(slowHook, held); got != "one" {
		t.Errorf("call on the pinned, retired registry = %q, want %q", got, "one")
	}
	if cleaned {
		t.Fatal("cleanup ran while pinned")
	}
	if err := r1.Pin(); !errors.Is(err, hooks.ErrRetired) {
		t.Errorf("Pin of a retired registry = %v, want ErrRetired", err)
	}
	held.Unpin()
	<-r1.Drained()
	if !cleaned {
		t.Error("cleanup did not run after the last Unpin")
	}
	defer func() {
		if recover() == nil {
			t.Error("Unpin without Pin did not panic")
		}
	}()
	r1.Unpin()
}

func TestOnRetireOrderAndPanic(t *testing.T) {
	opts, log := newLogged()
	r := hooks.NewRegistry(nil, opts)
	var order []string
	mustNil(t, r.OnRetire(func() { order = append(order, "first added") }))
	mustNil(t, r.OnRetire(func() { panic("cleanup exploded") }))
	mustNil(t, r.OnRetire(func() { order = append(order, "last added") }))
	// A build that fails is cancelled by retiring the unsealed registry.
	mustNil(t, r.Retire())
	<-r.Drained()
	if want := []string{"last added", "first added"}; !slices.Equal(order, want) {
		t.Errorf("cleanups ran as %v, want %v", order, want)
	}
	if !strings.Contains(log.String(), "cleanup exploded") {
		t.Errorf("cleanup panic not logged:\n%s", log)
	}
	if err := r.OnRetire(func() {}); !errors.Is(err, hooks.ErrRetired) {
		t.Errorf("OnRetire after the cleanups = %v, want ErrRetired", err)
	}
}

var carryHook = hooks.DeclareVoid[func(*[]string)](testScope, "carry")

func TestSingletonCarryOver(t *testing.T) {
	// Generation 1: singleton S registers once (conf_setup); non-singleton N
	// registers in each generation's ext_init.
	r1 := hooks.NewRegistry(nil, quiet())
	mustNil(t, carryHook.RegisterLast(r1, "S", recorder("S"), hooks.Singleton()))
	mustNil(t, carryHook.RegisterFirst(r1, "S-first", recorder("S-first"), hooks.Singleton()))
	mustNil(t, carryHook.RegisterLast(r1, "N", recorder("N1")))
	mustSeal(t, r1)

	r2 := hooks.NewRegistry(r1, quiet())
	mustNil(t, carryHook.RegisterLast(r2, "N", recorder("N2")))
	mustSeal(t, r2)

	// Generation 3: N is no longer configured.
	r3 := hooks.NewRegistry(r2, quiet())
	mustSeal(t, r3)

	for _, tt := range []struct {
		name string
		reg  *hooks.Registry
		want []string
	}{
		{"gen1", r1, []string{"S-first", "S", "N1"}},
		{"gen2", r2, []string{"S-first", "S", "N2"}},
		{"gen3", r3, []string{"S-first", "S"}},
	} {
		var got []string
		hooks.CallVoid1In(carryHook, tt.reg, &got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s ran %v, want %v", tt.name, got, tt.want)
		}
		d, err := tt.reg.Show(carryHook.FullName())
		mustNil(t, err)
		for _, p := range d.Providers {
			if p.Singleton != strings.HasPrefix(p.Module, "S") {
				t.Errorf("%s: %s Singleton = %v", tt.name, p.Module, p.Singleton)
			}
		}
	}
}

var phaseHook = hooks.DeclareVoid[func()](testScope, "phase")

func TestRegistrationOutsideSetupRefused(t *testing.T) {
	r := hooks.NewRegistry(nil, quiet())
	mustSeal(t, r)
	err := phaseHook.RegisterFirst(r, "latecomer", func() {}) // the line named below
	if !errors.Is(err, hooks.ErrSealed) {
		t.Fatalf("register after Seal = %v, want ErrSealed", err)
	}
	site := regexp.MustCompile(`hooks/lifecycle_test\.go:\d+`)
	for _, want := range []string{"hookstest.phase", `"latecomer"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if !site.MatchString(err.Error()) {
		t.Errorf("error %q does not name the caller's file:line", err)
	}
	if err := r.Seal(); !errors.Is(err, hooks.ErrSealed) {
		t.Errorf("second Seal = %v, want ErrSealed", err)
	}

	cancelled := hooks.NewRegistry(nil, quiet())
	mustNil(t, cancelled.Retire())
	if err := phaseHook.RegisterLast(cancelled, "m", func() {}); !errors.Is(err, hooks.ErrRetired) {
		t.Errorf("register into a retired registry = %v, want ErrRetired", err)
	}
	if err := cancelled.Seal(); !errors.Is(err, hooks.ErrRetired) {
		t.Errorf("Seal of a retired registry = %v, want ErrRetired", err)
	}
}

func TestLifecycleMisuse(t *testing.T) {
	var cur hooks.Current
	open := hooks.NewRegistry(nil, quiet())
	if _, err := cur.Swap(open); !errors.Is(err, hooks.ErrNotSealed) {
		t.Errorf("Swap of an unsealed registry = %v, want ErrNotSealed", err)
	}
	mustSeal(t, open)
	if _, err := cur.Swap(open); err != nil {
		t.Fatal(err)
	}
	if err := open.Retire(); !errors.Is(err, hooks.ErrInstalled) {
		t.Errorf("Retire of the installed registry = %v, want ErrInstalled", err)
	}
	prev, err := cur.Swap(nil)
	if err != nil || prev != open {
		t.Fatalf("Swap(nil) = %p, %v; want the installed registry", prev, err)
	}
	mustNil(t, open.Retire())
	if err := open.Retire(); !errors.Is(err, hooks.ErrRetired) {
		t.Errorf("second Retire = %v, want ErrRetired", err)
	}
	if _, err := cur.Swap(open); !errors.Is(err, hooks.ErrRetired) {
		t.Errorf("Swap of a retired registry = %v, want ErrRetired", err)
	}
	if cur.Acquire() != nil || cur.Load() != nil {
		t.Error("an empty Current returned a registry")
	}
	// An uncalled registration argument error names what is wrong.
	r := hooks.NewRegistry(nil, quiet())
	for name, err := range map[string]error{
		"empty module": phaseHook.RegisterFirst(r, "", func() {}),
		"self before":  phaseHook.RegisterFirst(r, "a", func() {}, hooks.Before("a")),
		"self after":   phaseHook.RegisterFirst(r, "a", func() {}, hooks.After("a")),
	} {
		if !errors.Is(err, hooks.ErrBadProvider) {
			t.Errorf("%s: %v, want ErrBadProvider", name, err)
		}
	}
}

var constraintHook = hooks.DeclareVoid[func(*[]string)](testScope, "constraint")

func TestOrderingConstraints(t *testing.T) {
	tests := []struct {
		name  string
		regs  []reg
		want  []string
		cycle []string // modules the cycle error must name, in order
	}{
		{"before moves one provider up", []reg{
			{module: "a", pos: hooks.First}, {module: "b", pos: hooks.First},
			{module: "c", pos: hooks.First, opts: []hooks.RegisterOption{hooks.Before("a")}},
		}, []string{"c", "a", "b"}, nil},
		{"after moves one provider down", []reg{
			{module: "a", pos: hooks.First, opts: []hooks.RegisterOption{hooks.After("c")}},
			{module: "b", pos: hooks.First}, {module: "c", pos: hooks.First},
		}, []string{"b", "c", "a"}, nil},
		{"constraint wins over position", []reg{
			{module: "f", pos: hooks.First},
			{module: "l", pos: hooks.Last, opts: []hooks.RegisterOption{hooks.Before("f")}},
		}, []string{"l", "f"}, nil},
		{"absent module ignored", []reg{
			{module: "a", pos: hooks.Last, opts: []hooks.RegisterOption{hooks.After("not_loaded")}},
			{module: "b", pos: hooks.First},
		}, []string{"b", "a"}, nil},
		{"chain", []reg{
			{module: "x", pos: hooks.First, opts: []hooks.RegisterOption{hooks.After("y")}},
			{module: "y", pos: hooks.First, opts: []hooks.RegisterOption{hooks.After("z")}},
			{module: "z", pos: hooks.First},
		}, []string{"z", "y", "x"}, nil},
		{"two-cycle", []reg{
			{module: "a", pos: hooks.First, opts: []hooks.RegisterOption{hooks.Before("b")}},
			{module: "b", pos: hooks.First, opts: []hooks.RegisterOption{hooks.Before("a")}},
		}, nil, []string{"a", "b", "a"}},
		{"three-cycle beside free providers", []reg{
			{module: "free", pos: hooks.First},
			{module: "p", pos: hooks.First, opts: []hooks.RegisterOption{hooks.After("r")}},
			{module: "q", pos: hooks.First, opts: []hooks.RegisterOption{hooks.After("p")}},
			{module: "r", pos: hooks.Last, opts: []hooks.RegisterOption{hooks.After("q")}},
		}, nil, []string{"p", "q", "r", "p"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := hooks.NewRegistry(nil, quiet())
			for _, g := range tt.regs {
				mustNil(t, constraintHook.RegisterForeign(r, g.pos, hooks.KindGo, g.module, recorder(g.module), g.opts...))
			}
			err := r.Seal()
			if tt.cycle != nil {
				if !errors.Is(err, hooks.ErrCycle) {
					t.Fatalf("Seal = %v, want ErrCycle", err)
				}
				var parts []string
				for _, m := range tt.cycle {
					parts = append(parts, regexp.QuoteMeta(m)+` \(hooks/lifecycle_test\.go:\d+\)`)
				}
				if re := regexp.MustCompile(strings.Join(parts, " -> ")); !re.MatchString(err.Error()) {
					t.Errorf("cycle error %q does not name the cycle %v", err, tt.cycle)
				}
				if r.Sealed() {
					t.Error("registry sealed despite the cycle")
				}
				return
			}
			mustNil(t, err)
			var got []string
			hooks.CallVoid1In(constraintHook, r, &got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("order %v, want %v", got, tt.want)
			}
		})
	}
}

// fakeForeign is what a "fake" loader hands over: a provider described by
// data rather than a Go func.
type fakeForeign struct{ answer int }

const kindFake = hooks.Kind("fake")

var (
	adaptedHook   = hooks.DeclareValued[func(int) int](testScope, "adapted", hooks.FirstNonZero[int](), -1)
	unadaptedHook = hooks.DeclareValued[func(int) int](testScope, "unadapted", hooks.FirstNonZero[int](), -1)
)

func init() {
	adaptedHook.SetAdapter(kindFake, hooks.AdapterFunc[func(int) int](func(foreign any) (func(int) int, error) {
		ff, ok := foreign.(fakeForeign)
		if !ok {
			return nil, fmt.Errorf("want a fakeForeign, got %T", foreign)
		}
		return func(x int) int { return x + ff.answer }, nil
	}))
}

func TestAdapters(t *testing.T) {
	r := hooks.NewRegistry(nil, quiet())
	tests := []struct {
		name    string
		hook    *hooks.Valued[func(int) int, int]
		kind    hooks.Kind
		foreign any
		wantErr error
	}{
		{"adapter present", adaptedHook, kindFake, fakeForeign{answer: 40}, nil},
		{"adapter absent", unadaptedHook, kindFake, fakeForeign{answer: 1}, hooks.ErrNoAdapter},
		{"adapter refuses", adaptedHook, kindFake, "not a fake", hooks.ErrBadProvider},
		{"no lua adapter", adaptedHook, hooks.KindLua, fakeForeign{}, hooks.ErrNoAdapter},
		{"go func as foreign", unadaptedHook, hooks.KindGo, func(x int) int { return x * 2 }, nil},
		{"go value of the wrong type", unadaptedHook, hooks.KindGo, func() int { return 0 }, hooks.ErrBadProvider},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.hook.RegisterForeign(r, hooks.Last, tt.kind, "loader", tt.foreign, hooks.Site("script.fake:7"))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("RegisterForeign = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "script.fake:7") {
				t.Errorf("error %q does not name the foreign site", err)
			}
		})
	}
	mustSeal(t, r)
	if got := hooks.Call1In(adaptedHook, r, 2); got != 42 {
		t.Errorf("adapted provider returned %d, want 42", got)
	}
	if got := hooks.Call1In(unadaptedHook, r, 21); got != 42 {
		t.Errorf("go foreign provider returned %d, want 42", got)
	}
	d, err := r.Show(adaptedHook.FullName())
	mustNil(t, err)
	if len(d.Providers) != 1 || d.Providers[0].Kind != kindFake || d.Providers[0].Site != "script.fake:7" {
		t.Errorf("Show providers = %+v, want one fake provider at script.fake:7", d.Providers)
	}

	defer func() {
		if recover() == nil {
			t.Error("a second adapter for the same kind did not panic")
		}
	}()
	adaptedHook.SetAdapter(kindFake, hooks.AdapterFunc[func(int) int](nil))
}

var stressHook = hooks.DeclareValued[func() int](testScope, "stress", hooks.FirstNonZero[int](), -1)

// TestReloadsUnderConcurrentCalls commits reloads while other goroutines
// call; no provider may ever run on a destroyed instance, and every retired
// generation must drain. Run it with -race.
func TestReloadsUnderConcurrentCalls(t *testing.T) {
	const callers, reloads = 4, 200
	var cur hooks.Current
	var violations atomic.Int64
	build := func(gen int) *hooks.Registry {
		inst := &instance{name: fmt.Sprint(gen)}
		r := hooks.NewRegistry(cur.Load(), quiet())
		mustNil(t, stressHook.RegisterFirst(r, "m", func() int {
			if inst.destroyed.Load() {
				violations.Add(1)
			}
			return gen + 1
		}))
		mustNil(t, r.OnRetire(func() { inst.destroyed.Store(true) }))
		return r
	}
	install(t, &cur, build(0))

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if hooks.Call0(stressHook, &cur) == 0 {
					violations.Add(1)
				}
				if r := cur.Acquire(); r != nil {
					hooks.Call0In(stressHook, r)
					r.Unpin()
				}
			}
		}()
	}
	var retired []*hooks.Registry
	for gen := 1; gen <= reloads; gen++ {
		retired = append(retired, cur.Load())
		install(t, &cur, build(gen))
	}
	close(stop)
	wg.Wait()
	for _, r := range retired {
		<-r.Drained()
	}
	if n := violations.Load(); n != 0 {
		t.Fatalf("%d calls ran on a destroyed instance or found no provider", n)
	}
}
