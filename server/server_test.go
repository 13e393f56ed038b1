package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/logging"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

func TestStartIsReadyAndShutdownCleansUp(t *testing.T) {
	f := startFixture(t, "")
	if got := f.notes.list(); !slices.Equal(got, []string{"READY=1"}) {
		t.Errorf("notify after start = %q, want READY=1", got)
	}
	if l := f.s.Listening(); len(l) != 1 || l[0] != "control "+f.socket {
		t.Errorf("Listening = %q", l)
	}
	st, err := os.Stat(f.socket)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket: %v, mode %v; want 0600", err, st.Mode().Perm())
	}
	pid := readFile(t, filepath.Join(f.dir, "ecelerity.pid"))
	if strings.TrimSpace(pid) != itoa(os.Getpid()) {
		t.Errorf("pidfile holds %q", pid)
	}
	if ready := readFile(t, f.panic); !regexp.MustCompile(`^\d+:ecelerity: ecelerity \S+ ready \(pid \d+, generation \d+, config .*\): listening on control .*ctl.sock\n$`).MatchString(ready) {
		t.Errorf("paniclog after start = %q, want one ready line", ready)
	}
	// Lines go to the paniclog file, not stderr, when a file is configured and -d is off.
	if f.stderr.String() != "" {
		t.Errorf("stderr without -d: %q", f.stderr.String())
	}
	f.stop(t)
	for _, p := range []string{f.socket, filepath.Join(f.dir, "ecelerity.pid")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after shutdown: %v", p, err)
		}
	}
	if got := f.notes.list(); got[len(got)-1] != "STOPPING=1" {
		t.Errorf("notify after shutdown = %q, want STOPPING=1 last", got)
	}
	if !strings.Contains(readFile(t, f.panic), "shutdown complete") {
		t.Errorf("paniclog has no shutdown line")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestForegroundCopiesToStderrWithTimestampFormat(t *testing.T) {
	f := startFixture(t, `TimestampFormat = "%Y|"`, func(o *Options) { o.Foreground = true })
	if !regexp.MustCompile(`^\d{4}\|ecelerity: ecelerity \S+ ready`).MatchString(f.stderr.String()) {
		t.Errorf("stderr with -d = %q", f.stderr.String())
	}
}

func TestReload(t *testing.T) {
	f := startFixture(t, "")
	c := f.client(t)
	poolConc := func() int {
		for _, p := range f.s.Pools().Stats() {
			if p.Name == threadpool.PoolIO {
				return p.Concurrency
			}
		}
		return -1
	}
	if poolConc() != 7 {
		t.Fatalf("IO concurrency %d after start, want 7 from the file", poolConc())
	}

	writeConf(t, f.conf, strings.Replace(baseConfig(f.dir, ""), "Concurrency = 7", "Concurrency = 9", 1))
	if err := f.s.Reload(t.Context(), ""); err != nil {
		t.Fatalf("good reload: %v", err)
	}
	if poolConc() != 9 {
		t.Errorf("IO concurrency %d after reload, want 9", poolConc())
	}
	if got := f.notes.list(); !slices.Equal(got, []string{"READY=1", "RELOADING=1", "READY=1"}) {
		t.Errorf("notify = %q", got)
	}

	writeConf(t, f.conf, baseConfig(f.dir, "ThreadPool \"IO\" { Concurrency = 3 }\nNo_Such_Option = 1\n"))
	err := f.s.Reload(t.Context(), "")
	if !errors.Is(err, ErrReload) || !strings.Contains(err.Error(), f.conf+":10:1") {
		t.Fatalf("broken reload error = %v; want Reconfigure failed with %s:10:1", err, f.conf)
	}
	if poolConc() != 9 {
		t.Errorf("IO concurrency %d after a failed reload, want 9 kept", poolConc())
	}
	if log := readFile(t, f.panic); !strings.Contains(log, ":ecelerity: Reconfigure failed: "+f.conf+":10:1") {
		t.Errorf("paniclog has no Reconfigure failed line with the position:\n%s", log)
	}
	// The console takes the same path, and the server still answers.
	msg := doErr(t, c, "config reload")
	if !strings.HasPrefix(msg, "Reconfigure failed") || !strings.Contains(msg, ":10:1") {
		t.Errorf("console reload error = %q", msg)
	}
	writeConf(t, f.conf, baseConfig(f.dir, ""))
	if out := do(t, c, "config reload"); !strings.HasPrefix(out, "Configuration reloaded: generation ") {
		t.Errorf("console reload = %q", out)
	}
	if poolConc() != 7 {
		t.Errorf("IO concurrency %d after console reload, want 7", poolConc())
	}
	sum := do(t, c, "summary")
	if !strings.Contains(sum, "Reloads Succeeded: 2") || !strings.Contains(sum, "Reloads Failed: 2") {
		t.Errorf("summary counts:\n%s", sum)
	}
}

func TestReloadReopensOnlyChangedLogFiles(t *testing.T) {
	f := startFixture(t, "")
	before, _ := os.Stat(f.panic)
	mainBefore, _ := os.Stat(filepath.Join(f.dir, "mainlog"))
	moved := filepath.Join(f.dir, "mainlog2")
	writeConf(t, f.conf, strings.Replace(baseConfig(f.dir, ""), filepath.Join(f.dir, "mainlog"), moved, 1))
	if err := f.s.Reload(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(f.panic)
	if !os.SameFile(before, after) || after.Size() < before.Size() {
		t.Errorf("paniclog replaced or truncated by a reload that kept its path")
	}
	f.s.Logs().Mainlog.Heartbeat(time.Unix(1, 0))
	if got := readFile(t, moved); got != "1@@@@M\n" {
		t.Errorf("new mainlog = %q", got)
	}
	if mainBefore.Size() != 0 || readFile(t, filepath.Join(f.dir, "mainlog")) != "" {
		t.Errorf("old mainlog written after the move")
	}
	// A log path that cannot be opened rejects the reload.
	writeConf(t, f.conf, strings.Replace(baseConfig(f.dir, ""), filepath.Join(f.dir, "mainlog"), filepath.Join(f.dir, "no", "dir"), 1))
	if err := f.s.Reload(t.Context(), ""); !errors.Is(err, ErrReload) || !strings.Contains(err.Error(), "no/dir") {
		t.Errorf("reload with an unopenable log: %v", err)
	}
}

func TestConsoleCommands(t *testing.T) {
	f := startFixture(t, "probe { }\n")
	c := f.client(t)
	written := filepath.Join(f.dir, "written.conf")
	cases := []struct {
		line string
		want string // a regexp the reply must match
	}{
		{"version", `^` + regexp.QuoteMeta(Version()) + `\n`},
		{"pid", `^` + itoa(os.Getpid()) + `$`},
		{"sysinfo", `(?m)^Product: ecelerity-go$`},
		{"summary", `(?s)^Summary Statistics\n.* Uptime: \d+\n$`},
		{"threads", `(?m)^IO thread pool: concurrency 7$`},
		{"threads stats", `(?m)^CPU thread pool: concurrency 4$`},
		{"threads io queue", `Jobs in the IO pool`},
		{"memory", `^$`},
		{"module list", `(?m)^Module: probe`},
		{"module hooks", `(?m)^probe\.poke\n\tfunc\(bool\)$`},
		{"hooks show probe.poke", `(?s)Hook: probe.poke.*1\. probe \(go, last\)`},
		{"generations", `(?m)^\d+\*`},
		{"config get ThreadPool IO Concurrency", `Concurrency = 7`},
		{"config eval TimestampFormat", `TimestampFormat = "\[%a`},
		{"config set TimestampFormat = x", `TimestampFormat = x`},
		{"config eval TimestampFormat", `TimestampFormat = x`},
		{"write config", `(?m)^ThreadPool "IO" \{$`},
		{"write config " + written, `Configuration written to`},
		{"paniclog", `\[notice\] ecelerity: ecelerity \S+ ready`},
		{"probe ping", `^pong\n$`},
		{"reopen logs", `Logs reopened`},
	}
	for _, tc := range cases {
		out := do(t, c, tc.line)
		if !regexp.MustCompile(tc.want).MatchString(out) {
			t.Errorf("%s:\n%s\nwant match for %s", tc.line, out, tc.want)
		}
	}
	if !strings.Contains(readFile(t, written), "TimestampFormat = x") {
		t.Errorf("write config path did not write the running configuration")
	}
	errCases := []struct{ line, want string }{
		{"threads nosuch queue", "no such pool"},
		{"threads a b c", "usage"},
		{"summary now", "usage"},
		{"hooks show nosuch.hook", "nosuch"},
		{"memory nosuch", "nosuch"},
		{"probe nosuch", "unknown probe command"},
		{"config set No_Such_Option 1", "No_Such_Option"},
	}
	for _, tc := range errCases {
		if msg := doErr(t, c, tc.line); !strings.Contains(msg, tc.want) {
			t.Errorf("%s: error %q, want it to mention %q", tc.line, msg, tc.want)
		}
	}
}

func TestPanicsAreCaughtAndLogged(t *testing.T) {
	f := startFixture(t, "probe { }\n")
	c := f.client(t)
	if msg := doErr(t, c, "probe explode"); !strings.Contains(msg, "probe") {
		t.Errorf("module command panic reply = %q", msg)
	}
	// A provider panic: the hooks package recovers it and logs to the paniclog.
	pokeHook.Has(f.s.Modules().Hooks())
	reg := f.s.Modules().Hooks().Acquire()
	hooksCallPoke(reg)
	reg.Unpin()
	// A pool job panic.
	io, _ := f.s.Pools().Class(threadpool.PoolIO)
	done := make(chan struct{})
	job := &threadpool.Job{Name: "test bomb", Class: io, Mode: threadpool.CompleteCallback,
		Work: func(*threadpool.Job) error { panic("job exploded") },
		Done: func(*threadpool.Job) { close(done) }}
	if err := f.s.Pools().Submit(job); err != nil {
		t.Fatal(err)
	}
	<-done
	if !errors.Is(job.Err, threadpool.ErrPanic) {
		t.Errorf("job error = %v", job.Err)
	}
	if out := do(t, c, "version"); !strings.HasPrefix(out, Version()) {
		t.Errorf("server unusable after panics: %q", out)
	}
	log := readFile(t, f.panic)
	for _, want := range []string{"provider exploded", "job exploded", "test bomb"} {
		if !strings.Contains(log, want) {
			t.Errorf("paniclog does not mention %q:\n%s", want, log)
		}
	}
}

func TestConfigTransactionOverTheConsole(t *testing.T) {
	f := startFixture(t, "")
	probeConns(t, f)
	b := f.client(t)
	do(t, b, "config begin")
	do(t, b, "config set TimestampFormat = y")
	if out := do(t, b, "config replay"); !strings.Contains(out, "TimestampFormat") {
		t.Errorf("replay = %q", out)
	}
	if msg := doErr(t, b, "config reload"); !strings.Contains(msg, "transaction") {
		t.Errorf("reload in a transaction: %q", msg)
	}
	g := f.s.store.Current()
	if got := f.s.core.timestampFormat.Global(g); got != logging.DefaultTimestampFormat {
		t.Errorf("uncommitted change is live: %q", got)
	}
	g.Release()
	do(t, b, "config commit")
	if out := do(t, b, "config eval TimestampFormat"); !strings.Contains(out, "= y") {
		t.Errorf("committed change not visible: %q", out)
	}
	if id := do(t, b, "test conn"); f.s.sessions.inTxn(connID(t, id)) {
		t.Errorf("transaction still open after commit")
	}
}

func TestShutdownCommandRequestsShutdown(t *testing.T) {
	f := startFixture(t, "")
	c := f.client(t)
	do(t, c, "shutdown")
	select {
	case <-f.s.ShutdownRequested():
	case <-time.After(10 * time.Second):
		t.Fatal("shutdown command did not signal")
	}
	if log := readFile(t, f.panic); !strings.Contains(log, `command="shutdown" result=ok`) {
		t.Errorf("shutdown not audited:\n%s", log)
	}
}

func TestSecondServerRefused(t *testing.T) {
	f := startFixture(t, "")
	cases := []struct {
		name    string
		pidfile string
		want    error
	}{
		{"same pidfile", filepath.Join(f.dir, "ecelerity.pid"), ErrPidfileHeld},
		{"same socket", filepath.Join(f.dir, "other.pid"), ErrControlInUse},
	}
	for _, tc := range cases {
		s2, _ := New(Options{ConfigPath: f.conf, PidFile: tc.pidfile, Stderr: io.Discard, Loaders: testLoaders(), Notify: func(string) error { return nil }})
		err := s2.Start(t.Context())
		if !errors.Is(err, tc.want) || !IsStartupConflict(err) {
			t.Errorf("%s: second Start = %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(f.dir, "other.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused server left its pidfile")
	}
	if out := do(t, f.client(t), "version"); out == "" {
		t.Errorf("the first server stopped answering")
	}
}

func TestPidfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pid")
	// A pidfile left by a crash: content, no lock.
	writeConf(t, path, "999999\n")
	p, stale, err := acquirePidFile(path)
	if err != nil || !stale {
		t.Fatalf("stale pidfile: %v, stale=%v", err, stale)
	}
	if got := readFile(t, path); got != itoa(os.Getpid())+"\n" {
		t.Errorf("pidfile = %q", got)
	}
	_, _, err = acquirePidFile(path)
	if !errors.Is(err, ErrPidfileHeld) || !strings.Contains(err.Error(), itoa(os.Getpid())) {
		t.Errorf("second acquire: %v", err)
	}
	p.release()
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pidfile left after release")
	}
	p2, stale, err := acquirePidFile(path)
	if err != nil || stale {
		t.Fatalf("fresh pidfile: %v, stale=%v", err, stale)
	}
	// Someone replaced the file meanwhile: release must not remove theirs.
	os.Remove(path)
	writeConf(t, path, "other\n")
	p2.release()
	if got := readFile(t, path); got != "other\n" {
		t.Errorf("release removed a file that was not ours")
	}
}

func TestStartFailures(t *testing.T) {
	cases := []struct {
		name, extra, want string
	}{
		{"tcp without auth", `Control_Listener { Listen "127.0.0.1:0" { } }`, "needs Enable_Authentication"},
		{"auth without secret", `Control_Listener { Listen "127.0.0.1:0" { Enable_Authentication = true } }`, "needs a Secret_File"},
		{"bad option", "Concurrency = 4", "Concurrency"},
		{"bad log path", `Logging { Rejectlog = "/nonexistent/dir/rejectlog" }`, "/nonexistent/dir/rejectlog"},
		{"unknown module", "no_such_module { }", "no_such_module"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			conf := filepath.Join(dir, "c.conf")
			writeConf(t, conf, baseConfig(dir, tc.extra))
			s, _ := New(Options{ConfigPath: conf, PidFile: filepath.Join(dir, "pid"), Stderr: io.Discard, Loaders: testLoaders(), Notify: func(string) error { return nil }})
			err := s.Start(t.Context())
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start = %v, want ErrConfig mentioning %q", err, tc.want)
			}
			for _, p := range []string{filepath.Join(dir, "pid"), filepath.Join(dir, "ctl.sock")} {
				if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s left by a failed start", p)
				}
			}
		})
	}
}

func TestTCPControlNeedsLogin(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	writeConf(t, secret, "s3cret\n")
	f := startFixture(t, `Control_Listener { Listen "127.0.0.1:0" { Enable_Authentication = true Secret_File = "`+secret+`" } }`)
	var tcp string
	for _, l := range f.s.Listening() {
		if a, ok := strings.CutPrefix(l, "control tcp "); ok {
			tcp = a
		}
	}
	if tcp == "" {
		t.Fatalf("no TCP control listener in %q", f.s.Listening())
	}
	if _, err := dialTCP(tcp, nil); err == nil {
		t.Errorf("TCP login without a secret succeeded")
	}
	c, err := dialTCP(tcp, []byte("s3cret"))
	if err != nil {
		t.Fatalf("login with the secret: %v", err)
	}
	defer c.Close()
	if out, err := c.Do("version"); err != nil || !strings.HasPrefix(out, Version()) {
		t.Errorf("version over TCP: %q, %v", out, err)
	}
}

func TestMetrics(t *testing.T) {
	f := startFixture(t, "probe { }\nMetrics_Address = \"127.0.0.1:0\"\n")
	var url string
	for _, l := range f.s.Listening() {
		if a, ok := strings.CutPrefix(l, "metrics "); ok {
			url = a
		}
	}
	if url == "" {
		t.Fatalf("no metrics listener in %q", f.s.Listening())
	}
	if err := f.s.Reload(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	f.s.Counters().MessagesReceived.Add(3)
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`ecelerity_pool_concurrency{pool="IO"} 7`,
		`ecelerity_pool_queue_depth{pool="CPU"} 0`,
		`ecelerity_reloads_total{result="ok"} 1`,
		`ecelerity_messages_total{outcome="received"} 3`,
		`ecelerity_hook_calls_total{hook="probe.poke"} 0`,
		`ecelerity_generations_alive `,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestModuleDebugLevelFiltersItsLines(t *testing.T) {
	f := startFixture(t, "probe { debug_level = DEBUG }\n")
	do(t, f.client(t), "probe ping")
	if !strings.Contains(readFile(t, f.panic), ":probe: probe debug line") {
		t.Errorf("probe's DEBUG line missing with debug_level = DEBUG")
	}
	p := f.s.Paniclog()
	if !p.Enabled("probe", logging.Debug) || p.Enabled("ecelerity", logging.Info) {
		t.Errorf("levels: probe debug %v, core info %v", p.Enabled("probe", logging.Debug), p.Enabled("ecelerity", logging.Info))
	}
	writeConf(t, f.conf, baseConfig(f.dir, "probe { }\nDebug_Flags { INFO = ( ALL ) }\n"))
	if err := f.s.Reload(t.Context(), ""); err != nil {
		t.Fatal(err)
	}
	if p.Enabled("probe", logging.Warning) || !p.Enabled("probe", logging.Error) || !p.Enabled("ecelerity", logging.Info) {
		t.Errorf("after reload: probe defaults to ERROR and Debug_Flags INFO lowers the core level")
	}
}

func TestExecutorRunsInlineAfterLoopStops(t *testing.T) {
	f := startFixture(t, "")
	e := &loopExecutor{loop: f.s.loop, loopDone: f.s.loopDone, plog: f.s.plog}
	onLoop := false
	e.Run(func() { onLoop = f.s.loop.OnLoop() })
	if !onLoop {
		t.Errorf("command did not run on the loop")
	}
	e.Run(func() { panic("command bomb") })
	if !strings.Contains(readFile(t, f.panic), "command bomb") {
		t.Errorf("panic on the loop not logged")
	}
	f.stop(t)
	ran := false
	e.Run(func() { ran = true })
	if !ran {
		t.Errorf("command did not run after the loop stopped")
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	bad := filepath.Join(dir, "bad.conf")
	writeConf(t, good, baseConfig(dir, "probe { }"))
	writeConf(t, bad, "ThreadPool \"X\" {\n  Concurrency = -1\n}\nprobe { Unknown = 1 }\nControl_Listener { Listen \"1.2.3.4:5\" { } }\nNo_Such = 2\n")
	var out strings.Builder
	if !Check(Options{ConfigPath: good, Loaders: testLoaders()}, &out) || !strings.Contains(out.String(), "configuration OK") {
		t.Errorf("good config: %s", out.String())
	}
	out.Reset()
	if Check(Options{ConfigPath: bad, Loaders: testLoaders()}, &out) {
		t.Fatalf("bad config passed: %s", out.String())
	}
	for _, want := range []string{bad + ":2:", bad + ":4:", bad + ":6:1", "error(s)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("check output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	// The default has an ESMTP listener: the server's own chain, with it.
	if !Check(Options{Builtins: listenerBuiltins()}, &out) {
		t.Errorf("the embedded default config fails its check: %s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "ctl.sock")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("check started a listener")
	}
}

func TestRunHandlesSignals(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.conf")
	writeConf(t, conf, baseConfig(dir, ""))
	n := newNotes()
	s, _ := New(Options{ConfigPath: conf, Stderr: io.Discard, Loaders: testLoaders(), Notify: n.notify})
	sigs := make(chan os.Signal)
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), sigs) }()
	sigs <- hup // delivered once Run listens, i.e. after Start
	n.waitLen(t, 3)
	writeConf(t, conf, "this is { broken")
	sigs <- hup
	sigs <- term
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{"READY=1", "RELOADING=1", "READY=1", "RELOADING=1", "READY=1", "STOPPING=1"}
	if got := n.list(); !slices.Equal(got, want) {
		t.Errorf("notify = %q, want %q", got, want)
	}
	log := readFile(t, filepath.Join(dir, "paniclog"))
	if !strings.Contains(log, "Reconfigured") || !strings.Contains(log, "Reconfigure failed: "+conf+":1:") {
		t.Errorf("paniclog:\n%s", log)
	}
}

// A shutdown whose context has ended before it starts (what a second SIGTERM
// makes of the teardown) has removed the control socket by the time it is done
// with the control listener, and the pidfile by the time it returns: the socket
// goes before anything waits, not on a goroutine that the ended context outruns.
func TestShutdownWithEndedContextCleansUp(t *testing.T) {
	f := startFixture(t, "")
	f.stopped = true
	// With one processor, a goroutine started by the teardown cannot run before
	// the teardown blocks, so a socket removed there would still be present.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var afterControl error
	f.s.controlStopped = func() { _, afterControl = os.Stat(f.socket) }
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.s.Shutdown(ctx) // an error is allowed: nothing had time to drain
	if !errors.Is(afterControl, os.ErrNotExist) {
		t.Errorf("%s present when the teardown was done with the control listener (stat: %v)", f.socket, afterControl)
	}
	for _, p := range []string{f.socket, filepath.Join(f.dir, "ecelerity.pid")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after a shutdown with an ended context: %v", p, err)
		}
	}
}

func TestSecondTermStopsAtOnce(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "c.conf")
	writeConf(t, conf, baseConfig(dir, ""))
	n := newNotes()
	pidfile := filepath.Join(dir, "pid")
	s, _ := New(Options{ConfigPath: conf, PidFile: pidfile, Stderr: io.Discard, Loaders: testLoaders(), Notify: n.notify, ShutdownTimeout: time.Hour})
	sigs := make(chan os.Signal)
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background(), sigs) }()
	n.waitLen(t, 1) // READY=1

	// A job that runs until released holds the graceful drain.
	release, running := make(chan struct{}), make(chan struct{})
	defer close(release)
	io, _ := s.Pools().Class(threadpool.PoolIO)
	job := &threadpool.Job{Name: "slow", Class: io, Work: func(*threadpool.Job) error { close(running); <-release; return nil }}
	if err := s.Pools().Submit(job); err != nil {
		t.Fatal(err)
	}
	<-running
	sigs <- term
	n.waitLen(t, 2) // STOPPING=1: the graceful shutdown is under way and waits for the job
	sigs <- term
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run after a second SIGTERM = %v, want the drain cancelled", err)
	}
	for _, p := range []string{pidfile, filepath.Join(dir, "ctl.sock")} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after an immediate stop", p)
		}
	}
}
