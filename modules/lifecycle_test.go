package modules

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/sched"
)

var lifecycleSpecs = []spec{
	{name: "s", singleton: true},
	{name: "ns"},
	{name: "dep", singleton: true, requires: []string{"ns"}},
	{name: "badsetup", singleton: true, failSetup: true},
}

// TestExtInitFailureRejectsReload: a module whose ext_init fails (init or
// post-init) rejects the whole reload naming it; the old generation stays
// current and its hooks are still called; every instance of the rejected
// generation whose Init ran is destroyed before Reload returns.
func TestExtInitFailureRejectsReload(t *testing.T) {
	for _, tc := range []struct {
		name  string
		init  bool
		phase string
	}{{"init", true, "ext_init(init)"}, {"post-init", false, "ext_init(post-init)"}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, lifecycleSpecs)
			h.start("s {}\nns \"a\" {}\n")
			before := h.m.Current()
			oldGen := before.ID()
			before.Release()
			h.rec.setFail("ns:b", tc.init, true)

			err := h.reload("s {}\nns \"a\" {}\nns \"b\" {}\n")
			var me *ModuleError
			if !errors.Is(err, ErrRejected) || !errors.Is(err, ErrInit) || !errors.As(err, &me) || me.Module != "ns" || me.Instance != "b" || me.Phase != tc.phase {
				t.Fatalf("Reload = %v (%#v), want ErrRejected/ErrInit naming ns:b in %s", err, me, tc.phase)
			}
			cur := h.m.Current()
			if cur.ID() != oldGen || !reflect.DeepEqual(cur.Modules(), []string{"s", "ns:a"}) {
				t.Errorf("current is generation %d %v, want %d [s ns:a]", cur.ID(), cur.Modules(), oldGen)
			}
			cur.Release()
			if got, want := h.who(), []string{fmt.Sprintf("s@%d", oldGen), fmt.Sprintf("ns:a@%d", oldGen)}; !reflect.DeepEqual(got, want) {
				t.Errorf("hook answers %v, want %v (the old generation's provider)", got, want)
			}
			var single []string
			hooks.CallVoid1(singleHook, h.m.Hooks(), &single)
			if !reflect.DeepEqual(single, []string{"s"}) {
				t.Errorf("singleton hook answers %v", single)
			}
			failedGen := oldGen + 1
			for _, lbl := range []string{"s", "ns:a", "ns:b"} {
				if n := len(h.rec.matching(fmt.Sprintf("destroy %s gen=%d ", lbl, failedGen))); n != 1 {
					t.Errorf("%s of the rejected generation destroyed %d times, want 1", lbl, n)
				}
			}
			if n := len(h.rec.matching(fmt.Sprintf("destroy ns:a gen=%d ", oldGen))); n != 0 {
				t.Errorf("the running generation's ns:a was destroyed")
			}
			if st := status(h.m, "ns"); st.State != Loaded || !strings.Contains(st.Reason, "refused") {
				t.Errorf("ns status %+v, want loaded with the last failure", st)
			}

			// The operator fixes the module: the next reload goes through.
			h.rec.setFail("ns:b", tc.init, false)
			h.mustReload("s {}\nns \"a\" {}\nns \"b\" {}\n")
			if st := status(h.m, "ns"); st.Reason != "" {
				t.Errorf("failure reason kept after a good reload: %q", st.Reason)
			}
		})
	}
}

func status(m *Manager, name string) ModuleStatus {
	for _, st := range m.Modules() {
		if st.Name == name {
			return st
		}
	}
	return ModuleStatus{}
}

// TestInstanceIdentityAcrossReloads: a singleton keeps one object for the
// process; a non-singleton gets a new one every generation.
func TestInstanceIdentityAcrossReloads(t *testing.T) {
	h := newHarness(t, lifecycleSpecs)
	h.start("s {}\nns \"a\" {}\n")
	var singles, instances []Module
	for i := 0; i < 4; i++ {
		if i > 0 {
			h.mustReload(fmt.Sprintf("s { level = %d }\nns \"a\" {}\n", i))
		}
		g := h.m.Current()
		singles = append(singles, g.Instance("s", ""))
		instances = append(instances, g.Instance("ns", "a"))
		g.Release()
	}
	for i := 1; i < 4; i++ {
		if singles[i] != singles[0] {
			t.Errorf("reload %d: singleton object changed", i)
		}
		for j := 0; j < i; j++ {
			if instances[i] == instances[j] {
				t.Errorf("generations %d and %d share a non-singleton object", i, j)
			}
		}
	}
	if n := len(h.rec.matching("setup s ")); n != 1 {
		t.Errorf("conf_setup of s ran %d times, want 1", n)
	}
}

// TestDestroyAfterLastReference: an old generation's non-singleton instance
// is destroyed exactly once, and only after the last of its references has
// gone, whichever that is: a hook call in flight on another goroutine, a
// holder of the module generation, a holder of the config generation.
func TestDestroyAfterLastReference(t *testing.T) {
	orders := [][]string{
		{"call", "gen", "conf"},
		{"conf", "gen", "call"},
		{"call", "conf", "gen"},
	}
	for _, order := range orders {
		t.Run(strings.Join(order, ","), func(t *testing.T) {
			h := newHarness(t, lifecycleSpecs)
			h.start("ns \"a\" {}\n")
			old := h.m.Current()         // a reader holding the module generation
			oldConf := h.store.Current() // and one holding the config generation
			block := make(chan struct{})
			entered := h.rec.armBlock(block)
			callDone := make(chan struct{})
			go func() {
				defer close(callDone)
				hooks.CallVoid0(blockHook, h.m.Hooks())
			}()
			<-entered

			h.mustReload("ns \"a\" {}\n")
			h.mustReload("ns \"a\" {}\n")
			oldDestroy := fmt.Sprintf("destroy ns:a gen=%d ", old.ID())
			release := map[string]func(){
				"call": func() { close(block); <-callDone },
				"gen":  old.Release,
				"conf": oldConf.Release,
			}
			for i, what := range order {
				if n := len(h.rec.matching(oldDestroy)); n != 0 {
					t.Fatalf("destroyed %d times with %v still held", n, order[i:])
				}
				release[what]()
			}
			<-old.Destroyed()
			if n := len(h.rec.matching(oldDestroy)); n != 1 {
				t.Fatalf("old instance destroyed %d times, want 1", n)
			}

			// Every non-singleton object is destroyed exactly once by the end.
			if err := h.m.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			inits, destroys := map[string]int{}, map[string]int{}
			for _, e := range h.rec.matching("init ns:a ") {
				inits[objOf(e)]++
			}
			for _, e := range h.rec.matching("destroy ns:a ") {
				destroys[objOf(e)]++
			}
			if len(inits) != 3 || !reflect.DeepEqual(inits, destroys) {
				t.Errorf("inits %v, destroys %v: want each of 3 objects destroyed once", inits, destroys)
			}
		})
	}
}

func objOf(event string) string {
	for _, f := range strings.Fields(event) {
		if strings.HasPrefix(f, "obj=") {
			return f
		}
	}
	return ""
}

// TestPrivilegedOnlyAtStartup: conf_setup and ext_init see Privileged() during
// Start only.
func TestPrivilegedOnlyAtStartup(t *testing.T) {
	h := newHarness(t, lifecycleSpecs)
	h.start("s {}\n")
	h.mustReload("s {}\nns \"a\" {}\n")
	want := []string{
		"setup s privileged=true",
		"setup ns privileged=false",
	}
	var got []string
	for _, e := range h.rec.matching("setup ") {
		got = append(got, e)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("setups %v, want %v", got, want)
	}
	for _, e := range h.rec.matching("init ") {
		start := strings.Contains(e, "gen=2 ")
		if strings.Contains(e, "privileged=true") != start {
			t.Errorf("event %q: privileged must be set for the start-up generation only", e)
		}
	}
	for _, e := range h.rec.matching("post-init ") {
		if strings.Contains(e, "privileged=true") != strings.Contains(e, "gen=2 ") {
			t.Errorf("event %q", e)
		}
	}
}

// TestSetupFailureIsFinal: a conf_setup failure rejects the reload and the
// module stays failed for the life of the process.
func TestSetupFailureIsFinal(t *testing.T) {
	h := newHarness(t, lifecycleSpecs)
	h.start("s {}\n")
	for i := 0; i < 2; i++ {
		err := h.reload("s {}\nbadsetup {}\n")
		if !errors.Is(err, ErrSetup) || !strings.Contains(err.Error(), "badsetup") {
			t.Fatalf("Reload = %v, want ErrSetup naming badsetup", err)
		}
	}
	if n := len(h.rec.matching("setup badsetup")); n != 1 {
		t.Errorf("conf_setup ran %d times, want once", n)
	}
	if st := status(h.m, "badsetup"); st.State != Failed || !strings.Contains(st.Reason, "refused") {
		t.Errorf("status %+v", st)
	}
}

// TestSingletonStaysLoaded: a committed singleton keeps its process-long hook
// registrations, so it stays in every later generation.
func TestSingletonStaysLoaded(t *testing.T) {
	h := newHarness(t, lifecycleSpecs)
	h.start("s {}\nns \"a\" {}\n")
	h.mustReload("ns \"a\" {}\n")
	if got := h.loaded(); !reflect.DeepEqual(got, []string{"ns:a", "s"}) {
		t.Errorf("loaded %v", got)
	}
	var single []string
	hooks.CallVoid1(singleHook, h.m.Hooks(), &single)
	if !reflect.DeepEqual(single, []string{"s"}) {
		t.Errorf("singleton hook %v, want registered once and carried", single)
	}
}

// TestOrphanedState: a module removed from the configuration is orphaned while
// an old generation holding it is referenced, and unknown afterwards.
func TestOrphanedState(t *testing.T) {
	h := newHarness(t, lifecycleSpecs)
	h.start("ns \"a\" {}\n")
	old := h.m.Current()
	h.mustReload("")
	if st := status(h.m, "ns"); st.State != Orphaned || st.Generation != old.ID() {
		t.Errorf("status %+v, want orphaned in generation %d", st, old.ID())
	}
	old.Release()
	<-old.Destroyed()
	if st := status(h.m, "ns"); st.State != Unknown {
		t.Errorf("status %+v, want unknown", st)
	}
}

// TestConsoleCommitBuildsGeneration: a commit through the config store (a
// console `config set`) builds a module generation too.
func TestConsoleCommitBuildsGeneration(t *testing.T) {
	h := newHarness(t, lifecycleSpecs)
	h.start("ns \"a\" {}\n")
	txn := h.store.Begin()
	if _, err := txn.Set([]config.ScopeRef{{Keyword: "ns", Name: "a"}}, "level", config.Scalar("9")); err != nil {
		t.Fatal(err)
	}
	g, err := txn.Commit()
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release()
	cur := h.m.Current()
	defer cur.Release()
	if cur.ID() != g.ID() || cur.Config() != g {
		t.Errorf("module generation %d, config generation %d", cur.ID(), g.ID())
	}
	if got := h.who(); !reflect.DeepEqual(got, []string{fmt.Sprintf("ns:a@%d", g.ID())}) {
		t.Errorf("hooks %v", got)
	}
}

// TestSwapRunsOnLoop: with a loop, the swap waits for it, and the
// configuration store's pointer waits with the hooks and the module
// generation: while the loop is busy, a prepared reload changes none of them.
// A stopped loop does not block a reload whose context ends.
func TestSwapRunsOnLoop(t *testing.T) {
	loop, err := sched.New(sched.Options{})
	if err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- loop.Run() }()
	h := newHarness(t, lifecycleSpecs, func(o *Options) { o.Loop = loop })
	h.start("s {}\n")
	first := h.m.Current()
	firstID := first.ID()
	first.Release()
	prepared := make(chan struct{}, 1)
	h.store.AddParticipant(&probe{onPrepare: func() { prepared <- struct{}{} }})

	blocked, unblock := make(chan struct{}), make(chan struct{})
	loop.Dispatch(func(time.Time) { close(blocked); <-unblock })
	<-blocked
	reloaded := make(chan error, 1)
	go func() { reloaded <- h.reload("s { level = 1 }\n") }()
	<-prepared // every participant prepared; the swap needs the loop
	if id := h.configID(); id != firstID {
		t.Errorf("config generation %d current while the loop was busy", id)
	}
	if g := h.m.Current(); g.ID() != firstID {
		t.Errorf("module generation %d swapped while the loop was busy", g.ID())
		g.Release()
	} else {
		g.Release()
	}
	if gs := h.m.Generations(); len(gs) != 1 || gs[0].ID != firstID || !gs[0].Current {
		t.Errorf("generations %+v while the swap waits, want %d alone", gs, firstID)
	}
	select {
	case err := <-reloaded:
		t.Fatalf("Reload returned (%v) before the loop ran its swap", err)
	default:
	}
	close(unblock)
	if err := <-reloaded; err != nil {
		t.Fatal(err)
	}
	if g := h.m.Current(); g.ID() != firstID+1 || h.configID() != firstID+1 {
		t.Errorf("module generation %d, config generation %d after the swap, want %d", g.ID(), h.configID(), firstID+1)
		g.Release()
	} else {
		g.Release()
	}
	if h.m.LastSwap() <= 0 {
		t.Errorf("LastSwap = %v", h.m.LastSwap())
	}

	loop.Stop()
	if err := <-runDone; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.m.Reload(ctx, h.write("s { level = 2 }\n")); err != nil {
		t.Fatalf("Reload with a stopped loop: %v", err)
	}
	if g := h.m.Current(); g.ID() != firstID+2 {
		t.Errorf("generation %d, want %d", g.ID(), firstID+2)
		g.Release()
	} else {
		g.Release()
	}
}

// TestReloadOnLoopRefused: a reload from the loop would deadlock on its own
// swap; it is refused.
func TestReloadOnLoopRefused(t *testing.T) {
	loop, err := sched.New(sched.Options{})
	if err != nil {
		t.Fatal(err)
	}
	go loop.Run()
	defer loop.Stop()
	h := newHarness(t, lifecycleSpecs, func(o *Options) { o.Loop = loop })
	got := make(chan error, 1)
	loop.Dispatch(func(time.Time) { got <- h.m.Reload(context.Background(), "") })
	if err := <-got; !errors.Is(err, ErrOnLoop) {
		t.Errorf("Reload on the loop = %v, want ErrOnLoop", err)
	}
}
