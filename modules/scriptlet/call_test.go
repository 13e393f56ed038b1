package scriptlet

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/hooks"
)

// TestEndlessLoopHitsDeadline: a provider that never returns is stopped at its deadline;
// the call gets the hook's failure value, the timeout is counted and logged with the
// script's position, and the next call runs normally in a reused state.
func TestEndlessLoopHitsDeadline(t *testing.T) {
	t.Run("watchdog ticking", func(t *testing.T) { testEndlessLoop(t, 0) })
	// With no Lua state the watchdog stops its ticker after one tick (2ms in
	// the harness); the first state created must wake it.
	t.Run("watchdog woken from its sleep", func(t *testing.T) { testEndlessLoop(t, 50*time.Millisecond) })
}

func testEndlessLoop(t *testing.T, idle time.Duration) {
	h := newHarness(t, harnessOpts{})
	time.Sleep(idle)
	h.script("spin.lua", `local mod = {}
function mod:sltest_check(s)
  if s == "spin" then
    while true do end
  end
  return 7
end
msys.registerModule("spin", mod)
`)
	h.start(stanza("call_timeout = 0.05\nmin_states = 1", "spin=spin"))
	before := h.rt.Stats()
	if got := h.check("spin"); got != -1 {
		t.Errorf("spinning call = %d, want the failure value -1", got)
	}
	if got := h.check("ok"); got != 7 {
		t.Errorf("next call = %d, want 7", got)
	}
	after := h.rt.Stats()
	if after.Timeouts != before.Timeouts+1 {
		t.Errorf("timeouts %d -> %d, want one more", before.Timeouts, after.Timeouts)
	}
	if after.StatesCreated != before.StatesCreated {
		t.Errorf("states created %d -> %d: the timed-out state should be reused", before.StatesCreated, after.StatesCreated)
	}
	if log := h.log.String(); !strings.Contains(log, "spin.lua:4") || !strings.Contains(log, "deadline") {
		t.Errorf("timeout not logged with its position:\n%s", log)
	}
}

// TestUnsafeLibraries: os.execute, io, dofile and loadfile are absent unless the operator
// enables them; os.time stays.
func TestUnsafeLibraries(t *testing.T) {
	const script = `local mod = {}
function mod:sltest_check(s)
  local f = ({ execute = os.execute, io = io, dofile = dofile, loadfile = loadfile, time = os.time, popen = io and io.popen })[s]
  if f == nil then return 0 end
  return 1
end
msys.registerModule("libs", mod)
`
	for _, tc := range []struct {
		opts string
		want map[string]int
	}{
		{"", map[string]int{"execute": 0, "io": 0, "popen": 0, "dofile": 0, "loadfile": 0, "time": 1}},
		{"enable_libraries = ( os io dofile )", map[string]int{"execute": 1, "io": 1, "popen": 1, "dofile": 1, "loadfile": 1, "time": 1}},
	} {
		t.Run(tc.opts, func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.script("libs.lua", script)
			h.start(stanza(tc.opts, "libs=libs"))
			for name, want := range tc.want {
				if got := h.check(name); got != want {
					t.Errorf("%s present = %d, want %d", name, got, want)
				}
			}
		})
	}
}

// TestRuntimeErrorCounted: a runtime error in a provider is logged with file:line and
// counted; the call gets the failure value.
func TestRuntimeErrorCounted(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.script("e.lua", "local mod = {}\nfunction mod:sltest_check(s)\n  return nil + 1\nend\nmsys.registerModule(\"e\", mod)\n")
	h.start(stanza("", "e=e"))
	if got := h.check("x"); got != -1 {
		t.Errorf("check = %d, want -1", got)
	}
	if n := h.rt.Stats().Errors; n != 1 {
		t.Errorf("errors = %d, want 1", n)
	}
	if !strings.Contains(h.log.String(), "e.lua:3:") {
		t.Errorf("error not logged at e.lua:3:\n%s", h.log.String())
	}
}

// TestQuarantine: a provider that fails quarantine_errors times within the window is
// skipped (failure value, no Lua run), raises a paniclog alarm and shows in `scriptlet
// status`, until the next reload.
func TestQuarantine(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	const bad = `local st = msys.state("runs", 1)
local mod = {}
function mod:sltest_check(s)
  st.n = (st.n or 0) + 1
  if s == "fail" then error("bad input") end
  return st.n
end
msys.registerModule("q", mod)
`
	h.script("q.lua", bad)
	h.start(stanza("quarantine_errors = 3\nquarantine_window = 3600", "q=q"))
	if got := h.check("ok"); got != 1 {
		t.Fatalf("first call = %d", got)
	}
	for i := 0; i < 3; i++ {
		if got := h.check("fail"); got != -1 {
			t.Fatalf("failing call %d = %d", i, got)
		}
	}
	if got := h.check("ok"); got != -1 {
		t.Errorf("call after quarantine = %d, want -1 (skipped)", got)
	}
	if got := h.rt.Quarantined(h.gen()); len(got) != 1 || got[0] != "q:sltest_check" {
		t.Errorf("quarantined = %v", got)
	}
	if !strings.Contains(h.log.String(), "ALARM: q:sltest_check") {
		t.Errorf("no quarantine alarm in the paniclog:\n%s", h.log.String())
	}
	out, err := h.m.Control([]string{"scriptlet", "status"})
	if err != nil || !strings.Contains(out, "QUARANTINED") {
		t.Errorf("status = %q, %v; want the provider shown quarantined", out, err)
	}
	if err := h.reload(stanza("quarantine_errors = 3\nquarantine_window = 3600", "q=q")); err != nil {
		t.Fatal(err)
	}
	// The skipped call did not run: runs were 1 ok + 3 failing.
	if got := h.check("ok"); got != 5 {
		t.Errorf("call after the reload = %d, want 5 (quarantine lifted; the skipped call never ran)", got)
	}
}

// TestRegisterControl: a console command written in Lua gets cc.argc and cc.argv (argv[0]
// the command) and its print output is the reply, through the module system's routing.
func TestRegisterControl(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.script("c.lua", `local mod = {}
function mod:init()
  msys.registerControl("greet", function(cc)
    print("argc", cc.argc)
    for i = 0, cc.argc - 1 do print(i, cc.argv[i]) end
  end)
  msys.registerControl("broken", function(cc) error("kaput") end)
  return true
end
msys.registerModule("c", mod)
`)
	h.start(stanza("", "c=c"))
	out, err := h.m.Control([]string{"scriptlet", "greet", "a", "b c"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "argc\t3\n0\tgreet\n1\ta\n2\tb c\n"; out != want {
		t.Errorf("reply %q, want %q", out, want)
	}
	if _, err := h.m.Control([]string{"scriptlet", "broken"}); !errors.Is(err, ErrRuntime) || !strings.Contains(err.Error(), "c.lua:7:") {
		t.Errorf("broken command = %v, want ErrRuntime at c.lua:7", err)
	}
	if _, err := h.m.Control([]string{"scriptlet", "nosuch"}); !errors.Is(err, ErrUnknownCommand) {
		t.Errorf("unknown command = %v, want ErrUnknownCommand", err)
	}
	out, _ = h.m.Control([]string{"scriptlet", "status"})
	if !strings.Contains(out, "Commands: broken, greet") {
		t.Errorf("status does not list the commands:\n%s", out)
	}
}

// TestNoStateCreatedOnCalls: once a generation is built, calls take states from its pool:
// none is created however many calls run.
func TestNoStateCreatedOnCalls(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.script("p.lua", policy)
	h.script("policy.lua", policy)
	h.start(stanza("", "policy=policy"))
	before := h.rt.Stats().StatesCreated
	for i := 0; i < 1000; i++ {
		h.check("ok")
	}
	if after := h.rt.Stats().StatesCreated; after != before {
		t.Errorf("%d states created by 1000 calls, want 0", after-before)
	}
}

// TestCallWithoutProviders: a hook with no Lua provider is not affected by the runtime.
func TestCallWithoutProviders(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.start("")
	if checkHook.Has(h.m.Hooks()) {
		t.Error("checkHook has a provider with no scripts loaded")
	}
	_ = hooks.Call1(checkHook, h.m.Hooks(), "x")
}

// TestScriptCoroutines: scripts may use coroutines of their own inside a call, under the
// call's deadline.
func TestScriptCoroutines(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.script("co.lua", `local mod = {}
function mod:sltest_check(s)
  local gen = coroutine.wrap(function() for i = 1, 3 do coroutine.yield(i) end end)
  local sum = 0
  for i = 1, 3 do sum = sum + gen() end
  if s == "spin" then
    local co = coroutine.create(function() while true do end end)
    coroutine.resume(co)
  end
  return sum
end
msys.registerModule("co", mod)
`)
	h.start(stanza("call_timeout = 0.05", "co=co"))
	if got := h.check("x"); got != 6 {
		t.Errorf("check = %d, want 6", got)
	}
	if got := h.check("spin"); got != -1 || h.rt.Stats().Timeouts != 1 {
		t.Errorf("spinning coroutine: check = %d, %d timeouts; want the failure value and one timeout", got, h.rt.Stats().Timeouts)
	}
	if got := h.check("x"); got != 6 {
		t.Errorf("check after the spinning coroutine = %d, want 6", got)
	}
}
