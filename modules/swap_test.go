package modules

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/sched"
)

// probe is a config participant for tests: it calls its functions at each
// step of a commit.
type probe struct {
	onPrepare func()
	onSwap    func()
	onCommit  func()
}

var (
	_ config.Participant = (*probe)(nil)
	_ config.Swapper     = (*probe)(nil)
)

func (p *probe) Prepare(*config.Txn, *config.Generation) error {
	if p.onPrepare != nil {
		p.onPrepare()
	}
	return nil
}

func (p *probe) Swap(_, _ *config.Generation) {
	if p.onSwap != nil {
		p.onSwap()
	}
}

func (p *probe) Commit(_, _ *config.Generation) {
	if p.onCommit != nil {
		p.onCommit()
	}
}

func (p *probe) Abort(*config.Generation) {}

// configID returns the store's current generation number.
func (h *harness) configID() uint64 {
	g := h.store.Current()
	defer g.Release()
	return g.ID()
}

// TestLoopSeesConfigAndHooksTogether: a reader on the loop never sees the
// store's new configuration generation with the old hook registry or the other
// way round, for reloads and for console commits. A participant that joined
// the store before the module system checks from the loop, before the swap
// (in its Prepare) and right after it (its Commit, which the store calls
// before the module system's): the generation the hook provider answered for
// must be the store's current one, and the module generation must wrap it.
// It also records that every swap ran on the loop.
func TestLoopSeesConfigAndHooksTogether(t *testing.T) {
	loop, err := sched.New(sched.Options{})
	if err != nil {
		t.Fatal(err)
	}
	go loop.Run()
	defer loop.Stop()

	var (
		mu       sync.Mutex
		problems []string
		swaps    int
		offLoop  int
	)
	var h *harness
	check := func(when string) {
		done := make(chan struct{})
		loop.Dispatch(func(time.Time) {
			defer close(done)
			conf := h.store.Current()
			defer conf.Release()
			var who []string
			hooks.CallVoid1(whoHook, h.m.Hooks(), &who)
			mg := h.m.Current()
			defer mg.Release()
			want := []string{fmt.Sprintf("ns:a@%d", conf.ID())}
			if len(who) != 1 || who[0] != want[0] || mg.Config() != conf {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s: config generation %d, hooks answer %v, module generation %d", when, conf.ID(), who, mg.ID()))
				mu.Unlock()
			}
		})
		<-done
	}
	started := false
	p := &probe{
		onPrepare: func() {
			if started {
				check("before the swap")
			}
		},
		onSwap: func() {
			mu.Lock()
			defer mu.Unlock()
			swaps++
			if !loop.OnLoop() {
				offLoop++
			}
		},
		onCommit: func() {
			if started {
				check("after the swap")
			}
		},
	}
	h = newHarness(t, lifecycleSpecs, func(o *Options) { o.Loop = loop; o.Store.AddParticipant(p) })
	h.start("ns \"a\" {}\n")
	started = true

	var sess config.Session
	defer sess.Close()
	for i := range 5 {
		h.mustReload(fmt.Sprintf("ns \"a\" { level = %d }\n", i))
		if _, err := h.store.Command(&sess, []string{"set", "ns", "a", "level", fmt.Sprint(100 + i)}); err != nil {
			t.Fatalf("config set: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the loop saw configuration and hooks of different generations:\n%s", strings.Join(problems, "\n"))
	}
	if want := 11; swaps != want || offLoop != 0 {
		t.Errorf("%d swaps, %d of them off the loop; want %d on the loop", swaps, offLoop, want)
	}
	if got, want := h.configID(), uint64(12); got != want {
		t.Errorf("config generation %d, want %d", got, want)
	}
}

// TestReloadSetsStorePath: a reload of another file makes it the store's path,
// which a later reload without a path reads; a rejected reload keeps the old
// path; ReloadTree, which has no file, keeps it too.
func TestReloadSetsStorePath(t *testing.T) {
	h := newHarness(t, lifecycleSpecs)
	first := h.write("s {}\n")
	if err := h.m.Start(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	if got := h.store.Path(); got != first {
		t.Fatalf("store path %q after starting with %q", got, first)
	}
	second := h.write("s {}\nns \"a\" {}\n")
	if err := h.m.Reload(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	if got := h.store.Path(); got != second {
		t.Fatalf("store path %q after reloading %q", got, second)
	}
	// Reload("") reads the second file, whatever it holds now.
	if err := os.WriteFile(second, []byte("s {}\nns \"b\" {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.m.Reload(context.Background(), ""); err != nil {
		t.Fatal(err)
	}
	if got := h.loaded(); len(got) != 2 || got[1] != "ns:b" {
		t.Errorf("Reload(\"\") loaded %v, want [s ns:b]", got)
	}
	if err := h.m.Reload(context.Background(), h.write("Nope = 1\n")); err == nil {
		t.Fatal("a bad file was accepted")
	}
	if got := h.store.Path(); got != second {
		t.Errorf("store path %q after a rejected reload, want %q", got, second)
	}
	tree, err := config.Parse("virtual.conf", []byte("s {}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.m.ReloadTree(context.Background(), tree); err != nil {
		t.Fatal(err)
	}
	if got := h.store.Path(); got != second {
		t.Errorf("store path %q after ReloadTree, want %q", got, second)
	}
}
