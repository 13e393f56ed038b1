package scriptlet

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/modules"
)

// returning is a script whose check provider returns n and whose deinit tells the probe.
func returning(name string, n int) string {
	return fmt.Sprintf(`local mod = {}
function mod:init() return true end
function mod:deinit() probe:signal("deinit %s %d") return true end
function mod:sltest_check(s) return %d end
msys.registerModule(%q, mod)
`, name, n, n, name)
}

// TestSyntaxErrorOnReload: a reload whose script does not compile is rejected with
// file:line; the old generation keeps serving and its deinit does not run.
func TestSyntaxErrorOnReload(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.script("p.lua", returning("p", 1))
	h.start(stanza("", "p=p"))
	h.script("p.lua", "local mod = {}\n\nfunction mod:sltest_check(s) return 2 en\n")
	err := h.reload(stanza("", "p=p"))
	if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "p.lua:3:") {
		t.Fatalf("reload = %v, want ErrSyntax at p.lua:3", err)
	}
	if got := h.check("x"); got != 1 {
		t.Errorf("after the rejected reload check = %d, want 1 (old script)", got)
	}
	select {
	case s := <-h.probe.signals:
		t.Errorf("the serving generation was deinitialised: %q", s)
	default:
	}
	h.script("p.lua", returning("p", 3))
	if err := h.reload(stanza("", "p=p")); err != nil {
		t.Fatal(err)
	}
	if got := h.check("x"); got != 3 {
		t.Errorf("after the fixed reload check = %d, want 3", got)
	}
	if s := h.probe.next(t); s != "deinit p 1" {
		t.Errorf("signal %q, want the old generation's deinit", s)
	}
}

// TestReloadWhileProviderRunning: a call in flight when a reload commits finishes on the
// old generation (old script, old state), new calls see the new script, and the old
// generation's deinit runs only after the call has returned.
func TestReloadWhileProviderRunning(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	const slow = `local mod = {}
function mod:deinit() probe:signal("deinit old") return true end
function mod:sltest_probe(p, arg)
  p:wait()
  return 1
end
function mod:sltest_check(s) return 1 end
msys.registerModule("s", mod)
`
	h.script("s.lua", slow)
	h.start(stanza("", "s=s"))
	result := make(chan int)
	go func() { result <- hooks.Call2(probeHook, h.m.Hooks(), h.probe, "x") }()
	<-h.probe.entered

	h.script("s.lua", strings.ReplaceAll(strings.ReplaceAll(slow, "return 1", "return 2"), "deinit old", "deinit new"))
	if err := h.reload(stanza("", "s=s")); err != nil {
		t.Fatal(err)
	}
	if got := h.check("x"); got != 2 {
		t.Errorf("a call after the reload returned %d, want 2 (new script)", got)
	}
	select {
	case s := <-h.probe.signals:
		t.Fatalf("%q while the old generation still had a call in flight", s)
	default:
	}
	close(h.probe.gate)
	if got := <-result; got != 1 {
		t.Errorf("the call in flight returned %d, want 1 (old script)", got)
	}
	if s := h.probe.next(t); s != "deinit old" {
		t.Errorf("signal %q, want the old generation's deinit", s)
	}
}

// TestStateMigration: persistent state survives reloads; a newer script migrates it step
// by step (each logged); an older script is refused and the reload fails cleanly, the
// stored state and the serving generation untouched.
func TestStateMigration(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	v := func(version int, body string) string {
		return fmt.Sprintf(`local mod = {}
local st = msys.state("counters", %d, {
  [2] = function(s) s.hits = s.count or 0; s.count = nil end,
  [3] = function(s) s.by = { total = s.hits }; s.hits = nil end,
})
function mod:sltest_check(str) %s end
msys.registerModule("m", mod)
`, version, body)
	}
	h.script("m.lua", v(1, "st.count = (st.count or 0) + 1 return st.count"))
	h.start(stanza("", "m=m"))
	for i := 1; i <= 3; i++ {
		if got := h.check("x"); got != i {
			t.Fatalf("v1 call %d = %d", i, got)
		}
	}
	h.script("m.lua", v(2, "st.hits = st.hits + 1 return st.hits"))
	if err := h.reload(stanza("", "m=m")); err != nil {
		t.Fatal(err)
	}
	if got := h.check("x"); got != 4 {
		t.Errorf("v2 first call = %d, want 4 (count carried into hits)", got)
	}
	h.script("m.lua", v(3, "st.by.total = st.by.total + 1 return st.by.total"))
	if err := h.reload(stanza("", "m=m")); err != nil {
		t.Fatal(err)
	}
	if got := h.check("x"); got != 5 {
		t.Errorf("v3 first call = %d, want 5", got)
	}
	log := h.log.String()
	if !strings.Contains(log, "state counters upgraded to 2") || !strings.Contains(log, "state counters upgraded to 3") {
		t.Errorf("migrations not logged:\n%s", log)
	}
	h.script("m.lua", v(2, "return 0"))
	err := h.reload(stanza("", "m=m"))
	if !errors.Is(err, ErrDowngrade) || !errors.Is(err, modules.ErrRejected) || !strings.Contains(err.Error(), "m.lua:2:") {
		t.Fatalf("downgrade reload = %v, want ErrDowngrade at m.lua:2", err)
	}
	if ver, _ := h.rt.PersistedVersion("counters"); ver != 3 {
		t.Errorf("stored version %d after the refused downgrade, want 3", ver)
	}
	if got := h.check("x"); got != 6 {
		t.Errorf("after the refused downgrade check = %d, want 6 (v3 still serving)", got)
	}
}

// TestRejectedReloadKeepsStoredState: a reload that migrates state but is rejected for
// another reason leaves the stored state at its version.
func TestRejectedReloadKeepsStoredState(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.script("m.lua", "local st = msys.state(\"s\", 1)\nst.v = 'one'\nlocal mod = {}\nfunction mod:sltest_check() return st.v == 'one' and 1 or 0 end\nmsys.registerModule(\"m\", mod)\n")
	h.start(stanza("", "m=m"))
	h.script("m.lua", "local st = msys.state(\"s\", 2, {[2] = function(s) s.v = 'two' end})\nlocal mod = {}\nfunction mod:sltest_check() return 2 end\nmsys.registerModule(\"m\", mod)\n")
	h.script("broken.lua", "syntax error here")
	if err := h.reload(stanza("", "m=m", "broken=broken")); !errors.Is(err, ErrSyntax) {
		t.Fatalf("reload = %v, want ErrSyntax", err)
	}
	h.script("broken.lua", "local mod = {}\nfunction mod:init() error('no') end\nmsys.registerModule(\"broken\", mod)\n")
	if err := h.reload(stanza("", "m=m", "broken=broken")); !errors.Is(err, ErrInit) {
		t.Fatalf("reload = %v, want ErrInit", err)
	}
	if ver, _ := h.rt.PersistedVersion("s"); ver != 1 {
		t.Errorf("stored version %d after rejected reloads, want 1", ver)
	}
	if got := h.check("x"); got != 1 {
		t.Errorf("check = %d, want 1 (state untouched by the rejected migration)", got)
	}
}
