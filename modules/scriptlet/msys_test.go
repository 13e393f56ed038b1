package scriptlet

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestTimers: timers armed in init start when the generation commits and run on the loop,
// in the prime state: after, at, every (cancelled from its own callback), and a timer
// callback that waits for pool work (it suspends rather than blocking the loop).
func TestTimers(t *testing.T) {
	h := newHarness(t, harnessOpts{loop: true})
	h.script("t.lua", `local mod = {}
function mod:init()
  msys.timer.after(0.005, function() probe:signal("after", probe:onloop()) end)
  msys.timer.at(msys.core.get_now_ts() - 1, function() probe:signal("at") end)
  local n, id = 0, nil
  id = msys.timer.every(0.005, function()
    n = n + 1
    probe:signal("every", n)
    if n == 3 then msys.timer.cancel(id) end
  end)
  msys.timer.after(0.01, function()
    local ok, v = msys.runInPool("IO", function() return 9 end)
    probe:signal("pool", ok, v, probe:onloop())
  end)
  return true
end
msys.registerModule("t", mod)
`)
	h.start(stanza("", "t=t"))
	var got []string
	for i := 0; i < 6; i++ {
		got = append(got, h.probe.next(t))
	}
	sort.Strings(got)
	want := []string{"after true", "at", "every 1", "every 2", "every 3", "pool true 9 true"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("timer signals %q, want %q", got, want)
	}
}

// TestMsysAPI: msys.config mirrors the console's eval, threadpool.count/find/stat,
// dumper.Dumper, readfile and core.io_wrapper_open inside a pool, from a console command.
func TestMsysAPI(t *testing.T) {
	h := newHarness(t, harnessOpts{loop: true})
	h.script("api.lua", `local mod = {}
function mod:init()
  msys.registerControl("api", function(cc)
    local v, text = msys.config("eval", "scriptlet", "scriptlet", "call_timeout")
    print("config", v, text)
    local id = msys.threadpool.find("io")
    print("pools", msys.threadpool.count() > 0, msys.threadpool.find(id), msys.threadpool.stat("IO").name, msys.threadpool.stat("nosuch"))
    print(msys.dumper.Dumper({ b = 1, a = { "x" } }))
    print("read", msys.readfile(cc.argv[1]))
    local ok, n = msys.runInPool("IO", function()
      local f = msys.core.io_wrapper_open(cc.argv[2], msys.core.O_WRONLY + msys.core.O_CREAT + msys.core.O_TRUNC, 420)
      local n = f:write("written by lua", 7)
      f:close()
      return n
    end)
    print("write", ok, n)
  end)
  return true
end
function mod:sltest_check(s)
  local f = msys.core.io_wrapper_open(s, msys.core.O_RDONLY, 0)
  return 1
end
msys.registerModule("api", mod)
`)
	in := h.script("in.txt", "file content")
	outPath := filepath.Join(h.dir, "out.txt")
	h.start(stanza("call_timeout = 2.5", "api=api"))
	out, err := h.m.Control([]string{"scriptlet", "api", in, outPath})
	if err != nil {
		t.Fatal(err)
	}
	want := `config	2.5	call_timeout = 2.5
pools	true	IO	IO	nil
{
  ["a"] = {
    [1] = "x",
  },
  ["b"] = 1,
}
read	file content
write	true	7
`
	if out != want {
		t.Errorf("reply:\n%s\nwant:\n%s", out, want)
	}
	if data, err := os.ReadFile(outPath); err != nil || string(data) != "written" {
		t.Errorf("io_wrapper wrote %q, %v", data, err)
	}
	var got int
	h.onLoop(func() { got = h.check(in) })
	if got != -1 || !strings.Contains(h.log.String(), "io_wrapper_open") {
		t.Errorf("io_wrapper_open on the loop = %d; want it refused and logged", got)
	}
}

// TestPersistentStateProxy: the persistent table behaves like a table across states:
// nested tables, #, pairs in key order, nil deletes, and it refuses functions.
func TestPersistentStateProxy(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.script("p.lua", `local st = msys.state("proxy", 1)
local mod = {}
function mod:init()
  st.list = { "a", "b", "c" }
  st.map = { x = 1 }
  st.gone = true
  st.gone = nil
  return true
end
function mod:sltest_check(s)
  if s == "len" then return #st.list end
  if s == "pairs" then
    local keys = {}
    for k, v in pairs(st) do keys[#keys + 1] = k end
    return table.concat(keys, ",") == "list,map" and 1 or 0
  end
  if s == "nested" then st.map.x = st.map.x + 1 return st.map.x end
  if s == "func" then st.f = function() end return 0 end
  return -2
end
msys.registerModule("p", mod)
`)
	h.start(stanza("", "p=p"))
	for _, tc := range []struct {
		in   string
		want int
	}{{"len", 3}, {"pairs", 1}, {"nested", 2}, {"nested", 3}, {"func", -1}} {
		if got := h.check(tc.in); got != tc.want {
			t.Errorf("check(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
