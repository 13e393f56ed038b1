package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ecelerity-go/ecelerity/internal/testenv"
)

// policyScript is a scriptlet in Momentum's style: a console command that prints its
// version and the generations it saw committed, counted by its provider of the
// config.generation_committed hook in state that survives reloads.
func policyScript(version string) string {
	return `require("msys.core")
local st = msys.state("policy", 1)
local mod = {}

function mod:config_generation_committed(gen)
  st.commits = (st.commits or 0) + 1
end

function mod:init()
  msys.registerControl("hello", function(cc)
    print("policy ` + version + `", cc.argv[1], "commits", st.commits)
  end)
  return true
end

msys.registerModule("policy", mod)
`
}

// TestLuaScriptletReload: a scriptlet configured in the real daemon answers its console
// command through ec_console; a syntax error at `config reload` is refused with the
// script's file:line and the old script keeps answering; the fixed script takes over
// at the next reload, its committed-hook provider having run at every commit.
func TestLuaScriptletReload(t *testing.T) {
	e := newEnv(t)
	script := filepath.Join(e.dir, "policy.lua")
	writeFile(t, script, policyScript("v1"))
	e.write(e.config(`scriptlet "scriptlet" {
  script "policy" { source = "policy" }
}`))
	e.start("-c", e.conf)
	if out := e.ok("scriptlet hello operator"); out != "policy v1\toperator\tcommits\t1\n" {
		t.Errorf("scriptlet hello = %q", out)
	}

	writeFile(t, script, strings.Replace(policyScript("v2"), "return true\nend", "return true\nend end", 1))
	out, errs, code := e.console("", e.socket, "config reload")
	if code == 0 || !strings.Contains(errs, "Reconfigure failed") || !regexp.MustCompile(regexp.QuoteMeta(script)+`:\d+`).MatchString(errs) {
		t.Errorf("reload of a broken script: exit %d\nstdout: %s\nstderr: %s\nwant Reconfigure failed with %s:line", code, out, errs, script)
	}
	if out := e.ok("scriptlet hello operator"); !strings.HasPrefix(out, "policy v1\t") {
		t.Errorf("after the rejected reload the old script does not answer: %q", out)
	}

	writeFile(t, script, policyScript("v2"))
	e.ok("config reload")
	// Generation 1 and the reload commit; the rejected one never committed.
	if out := e.ok("scriptlet hello operator"); out != "policy v2\toperator\tcommits\t2\n" {
		t.Errorf("after the fixed reload: %q", out)
	}
}

// TestNativeModuleReload: the sample C module, built with cc into a libexec directory,
// loads in the real daemon (-L): its console command answers, `memory` lists its memory
// type and `native list` its load as cached; rebuilt with a different output and
// reloaded, the new code answers and the old load is orphaned or gone.
func TestNativeModuleReload(t *testing.T) {
	if _, err := exec.LookPath("cc"); err != nil {
		t.Fatal("no C compiler (cc) on PATH to build the sample native module: install one (Debian: apt-get install gcc), as .ci/run does")
	}
	e := newEnv(t)
	libexec := filepath.Join(e.dir, "libexec")
	if err := os.Mkdir(libexec, 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.InstallNativeSample(t, "..", libexec)

	e.write(e.config(`native_sample { greeting = "greetings" }`))
	e.start("-c", e.conf, "-L", libexec)
	if out := e.ok("native_sample status"); !regexp.MustCompile(`^greetings \(limit 10\); \d+ commits seen; loaded 1 times\n$`).MatchString(out) {
		t.Errorf("native_sample status = %q", out)
	}
	if out := e.ok("memory"); !strings.Contains(out, "native_sample:state") {
		t.Errorf("memory does not list the module's memory type:\n%s", out)
	}
	so := filepath.Join(libexec, "native_sample.so")
	first := regexp.MustCompile(regexp.QuoteMeta(so) + ` load (\d+): cached, module native_sample`)
	m := first.FindStringSubmatch(e.ok("native list"))
	if m == nil {
		t.Fatalf("native list does not show the load cached:\n%s", e.ok("native list"))
	}

	testenv.InstallNativeSample(t, "..", libexec, "commits seen", "commits counted")
	e.ok("config reload")
	// The state survives the new version (loads counts the versions that used it).
	if out := e.ok("native_sample status"); !regexp.MustCompile(`^greetings \(limit 10\); \d+ commits counted; loaded 2 times\n$`).MatchString(out) {
		t.Errorf("after the rebuild and reload: %q", out)
	}
	list := e.ok("native list")
	old := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(so) + ` load ` + m[1] + `: (\w+)`).FindStringSubmatch(list)
	if old != nil && old[1] != "orphan" {
		t.Errorf("the first load is %s after the rebuild, want orphan or gone:\n%s", old[1], list)
	}
	if !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(so)+` load \d+: cached, module native_sample`).MatchString(list) || strings.Count(list, ": cached,") != 1 {
		t.Errorf("native list after the rebuild, want one cached load:\n%s", list)
	}
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
