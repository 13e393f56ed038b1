package scriptlet

import (
	"strings"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/hooks"
)

const poolScript = `require("msys.core")
local mod = {}
function mod:init()
  msys.registerControl("fetch", function(cc)
    local ok, v = msys.runInPool("IO", function() return "fetched", probe:onloop() end)
    print(ok, v)
  end)
  return true
end
function mod:validate_sltest(str, vctx)
  if str == "sync" then
    local ok, res, where = msys.runInPool("IO", function()
      probe:wait()
      return "worked", probe:onloop()
    end)
    probe:signal("sync", ok, res, where, probe:onloop())
    return msys.core.VALIDATE_DONE
  elseif str == "poolfail" then
    local ok, err = msys.runInPool("IO", function() error("pool boom") end)
    probe:signal("poolfail", ok, string.find(err, "pool boom") ~= nil)
    return msys.core.VALIDATE_DONE
  elseif str == "method" then
    local addr = vctx:lookup("mx")
    local none, err = vctx:lookup("fail")
    probe:signal("method", addr, none, err)
    return msys.core.VALIDATE_DONE
  elseif str == "async" then
    msys.runInPool("IO", function() probe:signal("async", probe:onloop()) end, true)
    probe:signal("caller continues")
    return msys.core.VALIDATE_CONT
  elseif str == "done" then
    msys.runInPool("IO", function() return 42 end,
      function(ok, v) probe:signal("done", ok, v, probe:onloop()) end)
    return msys.core.VALIDATE_CONT
  elseif str == "done_sched" then
    msys.runInPool("IO", function() return 43 end,
      function(ok, v) probe:signal("done_sched", ok, v, probe:onloop()) end,
      msys.core.ECTP_COMPLETE_CALLBACK_SCHED)
    return msys.core.VALIDATE_CONT
  end
  return msys.core.VALIDATE_CONT
end
function mod:sltest_check(s)
  local ok, v = msys.runInPool("IO", function() return 5 end)
  return v
end
msys.registerModule("pool", mod)
`

// validate calls validateHook on the loop and returns its result.
func (h *harness) validate(s string, v *testVctx) int {
	var r int
	h.onLoop(func() { r = hooks.Call2(validateHook, h.m.Hooks(), s, v) })
	return r
}

func (h *harness) resumed(v *testVctx) {
	h.t.Helper()
	select {
	case <-v.resumed:
	case <-time.After(10 * time.Second):
		h.t.Fatal("the suspended call was never resumed")
	}
}

// TestRunInPoolSuspends: a synchronous runInPool in a validation provider on the loop
// suspends the call (AGAIN), runs the function in a worker, resumes the script on the
// loop, and hands the result to the next call of the phase; calling again before the
// resume runs nothing.
func TestRunInPoolSuspends(t *testing.T) {
	h := newHarness(t, harnessOpts{loop: true})
	h.script("pool.lua", poolScript)
	h.start(stanza("", "pool=pool"))
	v := newVctx()
	if got := h.validate("sync", v); got != ValidateAgain {
		t.Fatalf("first call = %d, want AGAIN", got)
	}
	<-h.probe.entered
	if got := h.validate("sync", v); got != ValidateAgain {
		t.Errorf("call while parked = %d, want AGAIN", got)
	}
	close(h.probe.gate)
	h.resumed(v)
	if s := h.probe.next(t); s != "sync true worked false true" {
		t.Errorf("signal %q: want the work off the loop and the script resumed on it", s)
	}
	if got := h.validate("sync", v); got != ValidateDone {
		t.Errorf("call after the resume = %d, want DONE (the parked result)", got)
	}
	if n := v.parking.Pending(); n != 0 {
		t.Errorf("%d calls still parked", n)
	}
}

// TestRunInPoolForms: the other forms: a failing pool function (pcall-style results), a
// Method's InPool (suspends the same way), async (after the caller's call, off the loop),
// done in the worker, done on the loop.
func TestRunInPoolForms(t *testing.T) {
	h := newHarness(t, harnessOpts{loop: true})
	h.script("pool.lua", poolScript)
	h.start(stanza("", "pool=pool"))
	for _, tc := range []struct {
		in      string
		first   int
		signals []string
	}{
		{"poolfail", ValidateAgain, []string{"poolfail false true"}},
		{"method", ValidateAgain, []string{"method addr-of-mx nil no such name"}},
		{"async", ValidateCont, []string{"caller continues", "async false"}},
		{"done", ValidateCont, []string{"done true 42 false"}},
		{"done_sched", ValidateCont, []string{"done_sched true 43 true"}},
	} {
		t.Run(tc.in, func(t *testing.T) {
			v := newVctx()
			if got := h.validate(tc.in, v); got != tc.first {
				t.Fatalf("call = %d, want %d", got, tc.first)
			}
			if tc.first == ValidateAgain {
				h.resumed(v)
				if got := h.validate(tc.in, v); got != ValidateDone {
					t.Errorf("call after resume = %d, want DONE", got)
				}
			}
			for _, want := range tc.signals {
				if s := h.probe.next(t); s != want {
					t.Errorf("signal %q, want %q", s, want)
				}
			}
		})
	}
}

// TestRunInPoolWithoutSuspender: where nothing can suspend, a synchronous runInPool blocks
// a goroutine that is not the loop (a console command, a hook called off the loop), and is
// refused on the loop, failing that call with the error logged.
func TestRunInPoolWithoutSuspender(t *testing.T) {
	h := newHarness(t, harnessOpts{loop: true})
	h.script("pool.lua", poolScript)
	h.start(stanza("", "pool=pool"))
	out, err := h.m.Control([]string{"scriptlet", "fetch"})
	if err != nil || out != "true\tfetched\n" {
		t.Errorf("console command = %q, %v; want the pool's result", out, err)
	}
	if got := h.check("x"); got != 5 {
		t.Errorf("off-loop call = %d, want 5", got)
	}
	var got int
	h.onLoop(func() { got = h.check("x") })
	if got != -1 {
		t.Errorf("on-loop call = %d, want the failure value", got)
	}
	if !strings.Contains(h.log.String(), "cannot wait here") {
		t.Errorf("refusal not logged:\n%s", h.log.String())
	}
}
