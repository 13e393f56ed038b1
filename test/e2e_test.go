package test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestConsoleBatch(t *testing.T) {
	e := newEnv(t)
	e.write(e.config(""))
	d := e.start("-c", e.conf, "-p", e.pid)
	cases := []struct{ command, want string }{
		{"version", `^\S+\n`},
		{"config get ThreadPool IO Concurrency", `Concurrency = 7`},
		{"config set TimestampFormat = x", `TimestampFormat = x`},
		{"config eval TimestampFormat", `TimestampFormat = x`},
		{"memory", `^`},
		{"threads stats", `(?m)^IO thread pool: concurrency 7$`},
		{"module list", `(?m)^Module: sample$`},
		{"generations", `(?m)^\d+\*`},
		{"summary", `(?m)^Summary Statistics$`},
	}
	for _, c := range cases {
		if out := e.ok(c.command); !regexp.MustCompile(c.want).MatchString(out) {
			t.Errorf("%s:\n%s\nwant match for %s", c.command, out, c.want)
		}
	}
	// Commands on stdin, one per line; a failing one makes the exit status 1.
	out, errs, code := e.console("version\nthreads nosuch queue\npid\n", e.socket)
	if code != 1 || !strings.Contains(errs, "no such pool") || !strings.Contains(out, fmt.Sprint(d.Cmd.Process.Pid)) {
		t.Errorf("stdin batch: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	// The sample module is compiled in: using its option loads it, and its commands route.
	e.write(e.config(`Sample_Greeting = "good day"`))
	e.ok("config reload")
	if out := e.ok("sample greet x.example"); out != "good day\n" {
		t.Errorf("sample greet = %q", out)
	}
}

func TestReloadGoodAndBroken(t *testing.T) {
	cases := []struct {
		name   string
		reload func(e *env, d *daemon) // triggers a reload and waits for its outcome line
	}{
		{"SIGHUP", func(e *env, d *daemon) {
			from := d.NLines()
			d.signal(unix.SIGHUP)
			if _, ok := d.WaitLine(from, "Reconfigure"); !ok {
				t.Fatalf("no reload outcome line after SIGHUP:\n%s", d.Stderr())
			}
		}},
		{"console", func(e *env, d *daemon) {
			e.console("", e.socket, "config reload")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.t = t
			e.write(e.config(""))
			d := e.start("-c", e.conf)
			e.write(strings.Replace(e.config(""), "Concurrency = 7", "Concurrency = 11", 1))
			tc.reload(e, d)
			if out := e.ok("config eval ThreadPool IO Concurrency"); !strings.Contains(out, "= 11") {
				t.Errorf("after a good reload: %q", out)
			}
			e.write(e.config("ThreadPool \"IO\" { Concurrency = 3 }\nNot_An_Option = 1"))
			from := d.NLines()
			tc.reload(e, d)
			line, ok := d.WaitLine(from, "Reconfigure failed")
			if !ok || !strings.Contains(line, e.conf+":9:1") {
				t.Errorf("failed reload log line %q, want it to carry %s:9:1\n%s", line, e.conf, d.Stderr())
			}
			if out := e.ok("config eval ThreadPool IO Concurrency"); !strings.Contains(out, "= 11") {
				t.Errorf("after a broken reload the old value is gone: %q", out)
			}
			if tc.name == "console" {
				_, errs, code := e.console("", e.socket, "config reload")
				if code != 1 || !strings.Contains(errs, "Reconfigure failed") || !strings.Contains(errs, ":9:1") {
					t.Errorf("console reload of a broken file: exit %d, %q", code, errs)
				}
			}
		})
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t)
	e.write("ThreadPool \"IO\" {\n  Concurrency = -4\n}\nNo_Such = 1\n")
	out, _, code := runDaemon(t, e, "--check", "-c", e.conf)
	if code == 0 || !strings.Contains(out, e.conf+":2:") || !strings.Contains(out, e.conf+":4:1") {
		t.Errorf("--check on a broken file: exit %d\n%s", code, out)
	}
	e.write(e.config(""))
	if out, _, code := runDaemon(t, e, "--check", "-c", e.conf); code != 0 || !strings.Contains(out, "configuration OK") {
		t.Errorf("--check on a good file: exit %d\n%s", code, out)
	}
	if exists(e.socket) {
		t.Errorf("--check started a listener")
	}
}

// runDaemon runs the daemon to completion with args (no -d) and returns its stdout,
// stderr and exit code.
func runDaemon(t *testing.T, e *env, args ...string) (string, string, int) {
	t.Helper()
	cmd := execCommand(e, args...)
	var errb strings.Builder
	cmd.Stderr = &errb
	out, err := cmd.Output()
	return string(out), errb.String(), exitCode(err)
}

func TestGracefulShutdownUnderLoad(t *testing.T) {
	e := newEnv(t)
	e.write(e.config(""))
	d := e.start("-c", e.conf, "-p", e.pid)
	const clients = 8
	var wg sync.WaitGroup
	started := make(chan struct{}, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each client runs commands until the daemon goes away.
			in := strings.Repeat("version\nthreads stats\nconfig eval TimestampFormat\nsummary\n", 200)
			started <- struct{}{}
			e.console(in, e.socket)
		}()
	}
	for range clients {
		<-started
	}
	d.signal(unix.SIGTERM)
	if code := d.wait(); code != 0 {
		t.Errorf("exit status %d after SIGTERM under load; stderr:\n%s", code, d.Stderr())
	}
	wg.Wait()
	if exists(e.pid) || exists(e.socket) {
		t.Errorf("pidfile (%v) or socket (%v) left after shutdown", exists(e.pid), exists(e.socket))
	}
	if _, ok := d.WaitLine(0, "shutdown complete"); !ok {
		t.Errorf("no shutdown line:\n%s", d.Stderr())
	}
}

func TestSocketPermissionsAndTCPLogin(t *testing.T) {
	e := newEnv(t)
	secret := filepath.Join(e.dir, "secret")
	if err := os.WriteFile(secret, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	e.write(e.config(fmt.Sprintf("Control_Listener { Listen %q { Enable_Authentication = true  Secret_File = %q } }", addr, secret)))
	e.start("-c", e.conf)
	st, err := os.Stat(e.socket)
	if err != nil || st.Mode().Perm() != 0o600 || st.Mode()&os.ModeSocket == 0 {
		t.Fatalf("control socket: %v %v", st.Mode(), err)
	}
	// No secret, a wrong one, then the right one.
	wrong := filepath.Join(e.dir, "wrong")
	os.WriteFile(wrong, []byte("nope\n"), 0o600)
	for _, sf := range []string{"", wrong} {
		args := []string{addr, "version"}
		if sf != "" {
			args = append([]string{"-secret-file", sf}, args...)
		}
		if out, errs, code := e.console("", args...); code == 0 || out != "" {
			t.Errorf("TCP without the right secret (%q): exit %d, %q %q", sf, code, out, errs)
		}
	}
	if out, errs, code := e.console("", "-secret-file", secret, "ops@"+addr, "version"); code != 0 || out == "" {
		t.Errorf("TCP with the secret: exit %d, %q %q", code, out, errs)
	}
}

func TestSecondDaemonRefused(t *testing.T) {
	e := newEnv(t)
	e.write(e.config(""))
	e.start("-c", e.conf, "-p", e.pid)
	cases := []struct{ name, pidfile, want string }{
		{"same pidfile", e.pid, "pidfile"},
		{"same socket", filepath.Join(e.dir, "other.pid"), "already answers on " + e.socket},
	}
	for _, c := range cases {
		d := e.spawn("-c", e.conf, "-p", c.pidfile)
		if code := d.wait(); code != 3 || !strings.Contains(d.Stderr(), c.want) {
			t.Errorf("%s: second daemon exit %d, stderr:\n%s\nwant it to say %q", c.name, code, d.Stderr(), c.want)
		}
	}
	if out := e.ok("version"); out == "" {
		t.Errorf("first daemon stopped answering")
	}
}

func TestStaleSocketAndPidfileReplaced(t *testing.T) {
	e := newEnv(t)
	e.write(e.config(""))
	d := e.start("-c", e.conf, "-p", e.pid)
	d.signal(unix.SIGKILL)
	d.wait()
	if !exists(e.pid) || !exists(e.socket) {
		t.Fatalf("kill -9 should leave the pidfile and socket behind")
	}
	d2 := e.start("-c", e.conf, "-p", e.pid)
	if _, ok := d2.WaitLine(0, "stale pidfile"); !ok {
		t.Errorf("no stale-pidfile note:\n%s", d2.Stderr())
	}
	if out := e.ok("pid"); strings.TrimSpace(out) != fmt.Sprint(d2.Cmd.Process.Pid) {
		t.Errorf("pid = %q, want the new daemon's %d", out, d2.Cmd.Process.Pid)
	}
}

func TestDefaultConfigRunsOnAFreshMachine(t *testing.T) {
	e := newEnv(t)
	d := e.start() // no -c: the embedded default, control on the default socket
	line, _ := d.WaitLine(0, "ready")
	want := filepath.Join(e.xdg, "ecelerity", "control.sock")
	if !strings.Contains(line, "listening on control "+want) {
		t.Errorf("ready line %q does not say it listens on %s", line, want)
	}
	// Mail on loopback (a free port here, 2525 without ECELERITY_ESMTP_LISTEN),
	// spooled beside the socket, for localhost only.
	spool := filepath.Join(e.xdg, "ecelerity", "spool")
	m := regexp.MustCompile(`, mail (127\.0\.0\.1:\d+)`).FindStringSubmatch(line)
	if m == nil || !strings.Contains(line, "spool "+spool) {
		t.Fatalf("ready line %q does not say where it listens for mail and spools", line)
	}
	sendMail(t, m[1], "you@localhost", "250 ")
	sendMail(t, m[1], "you@elsewhere.example", "550 5.7.1 relaying denied")
	if out, errs, code := e.console("", "", "spool count"); code != 0 || out != "1\n" {
		t.Errorf("spool count: exit %d %q %q; want 1", code, out, errs)
	}
	// The console's default address is the daemon's.
	if out, errs, code := e.console("", "", "version"); code != 0 || out == "" {
		t.Errorf("ec_console with no address: exit %d %q %q", code, out, errs)
	}
	// The control listener's close lets the running command's reply out first.
	if out, errs, code := e.console("", "", "shutdown"); code != 0 || strings.TrimSpace(out) != "Shutting down." {
		t.Errorf("ec_console shutdown: exit %d %q %q; want \"Shutting down.\"", code, out, errs)
	}
	if code := d.wait(); code != 0 || exists(want) {
		t.Errorf("after console shutdown: exit %d, socket left %v", code, exists(want))
	}
}

// sendMail sends one message to rcpt at addr and checks that the RCPT's reply
// starts with want.
func sendMail(t *testing.T, addr, rcpt, want string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	reply := func() string {
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("reading a reply: %v", err)
			}
			if len(line) < 4 || line[3] != '-' {
				return strings.TrimRight(line, "\r\n")
			}
		}
	}
	reply()
	steps := [][2]string{{"EHLO client.example\r\n", "250"}, {"MAIL FROM:<me@client.example>\r\n", "250"}, {"RCPT TO:<" + rcpt + ">\r\n", want}}
	if want == "250 " {
		steps = append(steps, [2]string{"DATA\r\n", "354"}, [2]string{"Subject: hi\r\n\r\nhello\r\n.\r\n", "250"})
	}
	steps = append(steps, [2]string{"QUIT\r\n", "221"})
	for _, st := range steps {
		fmt.Fprint(c, st[0])
		if r := reply(); !strings.HasPrefix(r, st[1]) {
			t.Fatalf("after %q: %q, want %s", st[0], r, st[1])
		}
	}
}
