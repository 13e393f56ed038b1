package control_test

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/control"
)

func TestSocketMode(t *testing.T) {
	cases := []struct {
		name string
		mode fs.FileMode
		want fs.FileMode
	}{
		{"default", 0, 0o600},
		{"group", 0o660, 0o660},
		{"group read", 0o640, 0o640},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := control.NewServer(control.Config{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			path := filepath.Join(shortDir(t), "c.sock")
			if err := s.ListenUnix(path, c.mode); err != nil {
				t.Fatal(err)
			}
			st, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Type() != fs.ModeSocket || st.Mode().Perm() != c.want {
				t.Errorf("mode = %v, want socket %#o", st.Mode(), c.want)
			}
			// The private bind directory is gone: only the socket is left.
			entries, _ := os.ReadDir(filepath.Dir(path))
			if len(entries) != 1 {
				t.Errorf("directory holds %d entries, want the socket only", len(entries))
			}
		})
	}
}

func TestSecondServerRefused(t *testing.T) {
	_, path := startUnix(t, control.Config{})
	second, err := control.NewServer(control.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := second.ListenUnix(path, 0); !errors.Is(err, control.ErrInUse) {
		t.Fatalf("second ListenUnix: err = %v, want ErrInUse", err)
	}
	second.Close()
	// The first server's socket is intact and still answers.
	if _, err := dial(t, path).Do("pid"); err != nil {
		t.Errorf("first server after the refused second: %v", err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(shortDir(t), "c.sock")
	// A crashed server leaves its socket file behind with nobody listening.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	s, err := control.NewServer(control.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.ListenUnix(path, 0); err != nil {
		t.Fatalf("ListenUnix over a stale socket: %v", err)
	}
	if _, err := dial(t, path).Do("pid"); err != nil {
		t.Errorf("server on the replaced socket: %v", err)
	}
}

func TestNonSocketLeftAlone(t *testing.T) {
	path := filepath.Join(shortDir(t), "c.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, _ := control.NewServer(control.Config{})
	defer s.Close()
	if err := s.ListenUnix(path, 0); !errors.Is(err, control.ErrNotSocket) {
		t.Fatalf("err = %v, want ErrNotSocket", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Errorf("file changed: %q, %v", b, err)
	}
}

func TestCloseRemovesSocket(t *testing.T) {
	s, path := startUnix(t, control.Config{})
	c := dial(t, path)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket still there after Close: %v", err)
	}
	if _, err := c.Do("pid"); err == nil {
		t.Error("a connection survived Close")
	}
	if err := s.ListenUnix(path, 0); !errors.Is(err, control.ErrClosed) {
		t.Errorf("ListenUnix after Close: err = %v, want ErrClosed", err)
	}
}

func TestCommands(t *testing.T) {
	reg := control.NewRegistry()
	must(t, reg.Register(control.Command{Name: "echo", Usage: "echo [word...]", Help: "Repeat the words.\nOne per line.",
		Run: func(_ *control.Ctx, args []string) (string, error) { return strings.Join(args, "\n"), nil }}))
	must(t, reg.Register(control.Command{Name: "fail",
		Run: func(*control.Ctx, []string) (string, error) { return "", errors.New("Reconfigure failed\nline 2") }}))
	must(t, reg.Register(control.Command{Name: "config", Run: func(_ *control.Ctx, args []string) (string, error) {
		return "config:" + strings.Join(args, ","), nil
	}}))
	must(t, reg.Register(control.Command{Name: "config reload", Run: func(_ *control.Ctx, args []string) (string, error) {
		return "reload:" + strings.Join(args, ","), nil
	}}))
	_, path := startUnix(t, control.Config{Registry: reg, Version: func() string { return "4.2.0-test" }})
	c := dial(t, path)

	cases := []struct {
		line, want, wantErr string
	}{
		{line: "version", want: "4.2.0-test"},
		{line: "VERSION", want: "4.2.0-test"},
		{line: "pid", want: strconv.Itoa(os.Getpid())},
		{line: "", want: ""},
		{line: "echo", want: ""},
		{line: `echo a "b c" ""`, want: "a\nb c\n"},
		{line: "config reload /x.conf", want: "reload:/x.conf"},
		{line: "Config Reload", want: "reload:"},
		{line: "config show", want: "config:show"},
		{line: "help echo", want: "usage: echo [word...]\nRepeat the words.\nOne per line.\n"},
		{line: "fail", wantErr: "Reconfigure failed\nline 2"},
		{line: "nosuch x", wantErr: `Unknown command "nosuch"; type 'help' for a list.`},
		{line: "help nosuch", wantErr: `No help for "nosuch".`},
		{line: `echo "open`, wantErr: "control: syntax error in request: unterminated quote"},
	}
	for _, tc := range cases {
		got, err := c.Do(tc.line)
		if tc.wantErr != "" {
			var re *control.ReplyError
			if !errors.As(err, &re) || re.Message != tc.wantErr || re.Command != tc.line {
				t.Errorf("%q: err = %#v, want ReplyError %q", tc.line, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}

	help, err := c.Do("help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Available commands:", "echo [word...]  Repeat the words.\n", "config reload", "version", "quit"} {
		if !strings.Contains(help, want) {
			t.Errorf("help lacks %q:\n%s", want, help)
		}
	}
	if strings.Contains(help, control.CompleteCommand) {
		t.Errorf("help lists the hidden %s", control.CompleteCommand)
	}
}

func TestLargeReply(t *testing.T) {
	big := strings.Repeat("x", 3<<20) + "\nend\n"
	reg := control.NewRegistry()
	must(t, reg.Register(control.Command{Name: "big", Run: func(*control.Ctx, []string) (string, error) { return big, nil }}))
	_, path := startUnix(t, control.Config{Registry: reg})
	c := dial(t, path)
	for range 2 { // the stream stays in step after a large frame
		got, err := c.Do("big")
		if err != nil || got != big {
			t.Fatalf("big: %d bytes, %v; want %d", len(got), err, len(big))
		}
	}
}

func TestOverLongRequest(t *testing.T) {
	_, path := startUnix(t, control.Config{})
	r := dialRaw(t, "unix", path)
	r.line(t) // greeting
	if _, err := r.Write([]byte(strings.Repeat("a", control.MaxRequestLine+10) + "\nversion\n")); err != nil {
		t.Fatal(err)
	}
	word, body := r.reply(t)
	if word != "ERR" || !strings.Contains(body, "request line longer than") {
		t.Errorf("reply %s %q, want ERR about the line", word, body)
	}
	if b, err := r.br.ReadByte(); err != io.EOF {
		t.Errorf("connection still open after an over-long line: %q, %v", b, err)
	}

	// The client refuses to send one at all.
	c := dial(t, path)
	if _, err := c.Do(strings.Repeat("a", control.MaxRequestLine)); !errors.Is(err, control.ErrLineTooLong) {
		t.Errorf("Client.Do: err = %v, want ErrLineTooLong", err)
	}
	if _, err := c.Do("pid\nshutdown"); !errors.Is(err, control.ErrSyntax) {
		t.Errorf("Client.Do with a newline: err = %v, want ErrSyntax", err)
	}
	if _, err := c.Do("pid"); err != nil {
		t.Errorf("client unusable after refusing locally: %v", err)
	}
}

func TestPipelinedRequests(t *testing.T) {
	_, path := startUnix(t, control.Config{Version: func() string { return "v" }})
	r := dialRaw(t, "unix", path)
	r.line(t)
	r.Write([]byte("version\r\nnosuch\n\npid\n"))
	want := [][2]string{{"OK", "v"}, {"ERR", `Unknown command "nosuch"; type 'help' for a list.`}, {"OK", ""}, {"OK", strconv.Itoa(os.Getpid())}}
	for i, w := range want {
		if word, body := r.reply(t); word != w[0] || body != w[1] {
			t.Errorf("reply %d = %s %q, want %s %q", i, word, body, w[0], w[1])
		}
	}
}

func TestQuit(t *testing.T) {
	_, path := startUnix(t, control.Config{})
	c := dial(t, path)
	if out, err := c.Do("quit"); err != nil || out != "" {
		t.Fatalf("quit = %q, %v", out, err)
	}
	if _, err := c.Do("pid"); err == nil {
		t.Error("connection open after quit")
	}
}

func TestIdleTimeout(t *testing.T) {
	_, path := startUnix(t, control.Config{IdleTimeout: 50 * time.Millisecond})
	r := dialRaw(t, "unix", path)
	if g := r.line(t); g != "EC-CONTROL 1" {
		t.Fatalf("greeting %q", g)
	}
	// Send nothing: the server hangs up (the raw conn's own deadline is 20 s, so an
	// EOF here can only come from the server).
	if b, err := r.br.ReadByte(); err != io.EOF {
		t.Fatalf("read = %q, %v; want EOF from the idle timeout", b, err)
	}
}

func TestAuditLog(t *testing.T) {
	var audit strings.Builder
	reg := control.NewRegistry()
	must(t, reg.Register(control.Command{Name: "config set", Mutating: true,
		Run: func(*control.Ctx, []string) (string, error) { return "Blackhole = 1", nil }}))
	must(t, reg.Register(control.Command{Name: "shutdown", Mutating: true,
		Run: func(*control.Ctx, []string) (string, error) { return "", errors.New(`refused "now"`) }}))
	must(t, reg.Register(control.Command{Name: "look", Run: func(*control.Ctx, []string) (string, error) { return "", nil }}))
	fixed := time.Date(2026, 3, 1, 10, 47, 35, 0, time.FixedZone("X", 3600))
	_, path := startUnix(t, control.Config{Registry: reg, Audit: &audit, Now: func() time.Time { return fixed }})
	c := dial(t, path)
	c.Do("config set Blackhole 1")
	c.Do("look")
	c.Do("shutdown")
	c.Do("quit") // closes the connection and waits for nothing: the audit is written before the reply
	lines := strings.Split(strings.TrimSuffix(audit.String(), "\n"), "\n")
	peer := "uid=" + strconv.Itoa(os.Getuid()) + " pid=" + strconv.Itoa(os.Getpid())
	if len(lines) != 2 {
		t.Fatalf("audit has %d lines, want 2 (mutating commands only):\n%s", len(lines), audit.String())
	}
	wantPrefix := `2026-03-01T09:47:35Z peer="` + peer + `" user="`
	want := []string{`" command="config set Blackhole 1" result=ok`, `" command="shutdown" result=error error="refused \"now\""`}
	for i, line := range lines {
		if !strings.HasPrefix(line, wantPrefix) || !strings.HasSuffix(line, want[i]) {
			t.Errorf("audit line %d = %s\nwant %s<user>%s", i, line, wantPrefix, want[i])
		}
	}
}

func TestPanickingHandler(t *testing.T) {
	logs := &logBuffer{}
	var audit strings.Builder
	reg := control.NewRegistry()
	must(t, reg.Register(control.Command{Name: "boom", Mutating: true,
		Run: func(*control.Ctx, []string) (string, error) { panic("kaboom") }}))
	must(t, reg.Register(control.Command{Name: "boom blocking", Blocking: true,
		Run: func(*control.Ctx, []string) (string, error) { panic("kaboom too") }}))
	_, path := startUnix(t, control.Config{Registry: reg, Logf: logs.Logf, Audit: &audit})
	c := dial(t, path)
	for _, line := range []string{"boom", "boom blocking"} {
		_, err := c.Do(line)
		var re *control.ReplyError
		if !errors.As(err, &re) || !strings.Contains(re.Message, "panicked") {
			t.Errorf("%s: err = %v, want a ReplyError about the panic", line, err)
		}
	}
	if !logs.contains("panic in command \"boom\"") || !logs.contains("kaboom too") {
		t.Errorf("panics not logged: %q", logs.lines)
	}
	if !strings.Contains(audit.String(), `command="boom" result=error`) {
		t.Errorf("panicking mutating command not audited as failed: %q", audit.String())
	}
	if _, err := c.Do("pid"); err != nil {
		t.Errorf("server unusable after a panic: %v", err)
	}
}

// loopExecutor stands in for the daemon's: it runs every function on one goroutine, as
// sched.Dispatch would on the master loop, and waits for it.
type loopExecutor struct {
	work   chan func()
	onLoop atomic.Bool   // true while the loop goroutine runs a function
	calls  chan struct{} // one value per Run, so tests can see a command go through
}

func newLoopExecutor(t *testing.T) *loopExecutor {
	e := &loopExecutor{work: make(chan func()), calls: make(chan struct{}, 100)}
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case fn := <-e.work:
				e.onLoop.Store(true)
				fn()
				e.onLoop.Store(false)
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop) })
	return e
}

func (e *loopExecutor) Run(fn func()) {
	e.calls <- struct{}{}
	done := make(chan struct{})
	e.work <- func() { defer close(done); fn() }
	<-done
}

func TestBlockingVersusExecutor(t *testing.T) {
	exec := newLoopExecutor(t)
	stall, stalled := make(chan struct{}), make(chan struct{})
	reg := control.NewRegistry()
	must(t, reg.Register(control.Command{Name: "where", Run: func(*control.Ctx, []string) (string, error) {
		return strconv.FormatBool(exec.onLoop.Load()), nil
	}}))
	must(t, reg.Register(control.Command{Name: "where blocking", Blocking: true, Run: func(*control.Ctx, []string) (string, error) {
		return strconv.FormatBool(exec.onLoop.Load()), nil
	}}))
	must(t, reg.Register(control.Command{Name: "stall", Run: func(*control.Ctx, []string) (string, error) {
		close(stalled)
		<-stall
		return "", nil
	}}))
	_, path := startUnix(t, control.Config{Registry: reg, Executor: exec})
	// Cleanups run last-in first-out: the held command is released before the
	// server's Close waits for it, even when the test fails early.
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(stall) }) }
	t.Cleanup(release)

	c1, c2 := dial(t, path), dial(t, path)
	if got, _ := c1.Do("where"); got != "true" {
		t.Errorf("a plain command ran off the executor (onLoop=%s)", got)
	}
	// Hold the loop with one command; a Blocking one must still be answered.
	stallDone := make(chan error)
	go func() { _, err := c1.Do("stall"); stallDone <- err }()
	<-stalled
	for len(exec.calls) > 0 { // forget "where" and "stall"
		<-exec.calls
	}
	blockingDone := make(chan error, 1)
	go func() { _, err := c2.Do("where blocking"); blockingDone <- err }()
	select {
	case err := <-blockingDone:
		if err != nil {
			t.Errorf("blocking command while the loop is held: %v", err)
		}
	case <-exec.calls:
		t.Fatal("a Blocking command went through the executor (and waits behind the held loop)")
	}
	release()
	if err := <-stallDone; err != nil {
		t.Fatal(err)
	}
	if got, _ := c2.Do("where blocking"); got != "false" {
		t.Errorf("blocking command ran on the loop (onLoop=%s)", got)
	}
}

func TestModuleRouting(t *testing.T) {
	exec := newLoopExecutor(t)
	var audit strings.Builder
	mods := &stubModules{commands: map[string]control.Command{
		"ec_logger": {Name: "ec_logger", Usage: "ec_logger[:instance] reopen logs", Help: "Logger commands.",
			Run: func(ctx *control.Ctx, args []string) (string, error) {
				return strings.Join(args, "|") + " loop=" + strconv.FormatBool(exec.onLoop.Load()), nil
			},
			Complete: func(args []string) []string { return []string{"reopen", "rotate", "status"} }},
		"slow": {Name: "slow", Blocking: true, Run: func(ctx *control.Ctx, args []string) (string, error) {
			return "loop=" + strconv.FormatBool(exec.onLoop.Load()), nil
		}},
	}}
	_, path := startUnix(t, control.Config{Modules: mods, Executor: exec, Audit: &audit})
	c := dial(t, path)
	cases := []struct{ line, want, wantErr string }{
		{line: "ec_logger:ec_logger1 reopen logs", want: "ec_logger|ec_logger1|reopen|logs loop=true"},
		{line: "ec_logger reopen", want: "ec_logger||reopen loop=true"},
		{line: "slow x", want: "loop=false"},
		{line: "help ec_logger", want: "usage: ec_logger[:instance] reopen logs\nLogger commands.\n"},
		{line: "ds_core flush", wantErr: `Unknown command "ds_core"; type 'help' for a list.`},
	}
	for _, tc := range cases {
		got, err := c.Do(tc.line)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%q: err = %v, want %q", tc.line, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%q = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
	// Module commands are audited even though nothing marked them Mutating.
	for _, want := range []string{`command="ec_logger:ec_logger1 reopen logs" result=ok`, `command="slow x" result=ok`} {
		if !strings.Contains(audit.String(), want) {
			t.Errorf("audit lacks %s:\n%s", want, audit.String())
		}
	}
	if strings.Contains(audit.String(), "ds_core") || strings.Contains(audit.String(), `"help`) {
		t.Errorf("audit holds unknown or read-only commands:\n%s", audit.String())
	}
}

func TestCompletion(t *testing.T) {
	reg := control.NewRegistry()
	noop := func(*control.Ctx, []string) (string, error) { return "", nil }
	for _, name := range []string{"config reload", "config set", "config show", "threads", "threads stats", "shutdown"} {
		must(t, reg.Register(control.Command{Name: name, Run: noop}))
	}
	must(t, reg.Register(control.Command{Name: "memory", Run: noop,
		Complete: func(args []string) []string { return []string{"string", "scriptlet:lua", "session"} }}))
	must(t, reg.Register(control.Command{Name: "secret", Hidden: true, Run: noop}))
	mods := &stubModules{commands: map[string]control.Command{
		"ec_logger": {Run: noop, Complete: func([]string) []string { return []string{"reopen"} }},
		"esmtp":     {Run: noop},
	}}
	_, path := startUnix(t, control.Config{Registry: reg, Modules: mods})
	c := dial(t, path)
	cases := []struct {
		words []string
		want  []string
	}{
		{[]string{""}, []string{"config", "ec_logger", "esmtp", "help", "memory", "pid", "quit", "shutdown", "threads", "version"}},
		{[]string{"e"}, []string{"ec_logger", "esmtp"}},
		{[]string{"CON"}, []string{"config"}},
		{[]string{"config", ""}, []string{"reload", "set", "show"}},
		{[]string{"config", "s"}, []string{"set", "show"}},
		{[]string{"config", "set", ""}, nil},
		{[]string{"threads", ""}, []string{"stats"}},
		{[]string{"memory", "s"}, []string{"scriptlet:lua", "session", "string"}},
		{[]string{"help", "conf"}, []string{"config"}},
		{[]string{"help", "config", "re"}, []string{"reload"}},
		{[]string{"ec_logger", ""}, []string{"reopen"}},
		{[]string{"ec_logger:one", "r"}, []string{"reopen"}},
		{[]string{"esmtp", ""}, nil},
		{[]string{"sec"}, nil},
		{[]string{"nosuch", ""}, nil},
	}
	for _, tc := range cases {
		got, err := c.Complete(tc.words)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Complete(%q) = %q, %v; want %q", tc.words, got, err, tc.want)
		}
	}
}

func TestRegistry(t *testing.T) {
	reg := control.NewRegistry()
	noop := func(*control.Ctx, []string) (string, error) { return "", nil }
	must(t, reg.Register(control.Command{Name: "module list", Run: noop}))
	bad := []struct {
		c    control.Command
		want error
	}{
		{control.Command{Name: "module list", Run: noop}, control.ErrDuplicate},
		{control.Command{Name: "", Run: noop}, control.ErrBadCommand},
		{control.Command{Name: "Upper", Run: noop}, control.ErrBadCommand},
		{control.Command{Name: "two  spaces", Run: noop}, control.ErrBadCommand},
		{control.Command{Name: " lead", Run: noop}, control.ErrBadCommand},
		{control.Command{Name: "tab\there", Run: noop}, control.ErrBadCommand},
		{control.Command{Name: "norun"}, control.ErrBadCommand},
	}
	for _, b := range bad {
		if err := reg.Register(b.c); !errors.Is(err, b.want) {
			t.Errorf("Register(%q): err = %v, want %v", b.c.Name, err, b.want)
		}
	}
	if _, n, ok := reg.Lookup([]string{"module", "list", "x"}); !ok || n != 2 {
		t.Errorf("Lookup(module list x) = %d, %v", n, ok)
	}
	if !reg.Unregister("module list") || reg.Unregister("module list") {
		t.Error("Unregister did not report presence")
	}
	if _, _, ok := reg.Lookup([]string{"module", "list"}); ok {
		t.Error("unregistered command still found")
	}
	// A registry that already has a built-in's name cannot make a server.
	must(t, reg.Register(control.Command{Name: "version", Run: noop}))
	if _, err := control.NewServer(control.Config{Registry: reg}); !errors.Is(err, control.ErrDuplicate) {
		t.Errorf("NewServer with a clashing registry: err = %v, want ErrDuplicate", err)
	}
}

func TestDialNotControl(t *testing.T) {
	path := filepath.Join(shortDir(t), "other.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("220 mail.example.com ESMTP\r\n"))
			c.Close()
		}
	}()
	if _, err := control.Dial(path); !errors.Is(err, control.ErrProtocol) {
		t.Errorf("Dial to a non-control socket: err = %v, want ErrProtocol", err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestClientCloseInterruptsDo(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	reg := control.NewRegistry()
	must(t, reg.Register(control.Command{Name: "hold", Blocking: true, Run: func(*control.Ctx, []string) (string, error) {
		close(entered)
		<-release
		return "", nil
	}}))
	_, path := startUnix(t, control.Config{Registry: reg})
	t.Cleanup(func() { close(release) }) // before the server's Close waits for "hold"
	c := dial(t, path)
	done := make(chan error, 1)
	go func() { _, err := c.Do("hold"); done <- err }()
	<-entered
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Error("Do waiting for a reply returned no error after Close")
	}
	if _, err := c.Do("pid"); !errors.Is(err, control.ErrClosed) {
		t.Errorf("Do after Close: err = %v, want ErrClosed", err)
	}
}
