package test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecelerity-go/ecelerity/test/internal/daemontest"
)

// env is one test's temporary world: a directory for the socket, pidfile, logs and
// configuration, and an XDG_RUNTIME_DIR of its own so that default paths never meet
// the developer's.
type env struct {
	t      *testing.T
	dir    string
	conf   string
	socket string
	pid    string
	panic  string
	xdg    string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, conf: filepath.Join(dir, "ecelerity.conf"), socket: filepath.Join(dir, "ctl.sock"),
		pid: filepath.Join(dir, "ecelerity.pid"), panic: filepath.Join(dir, "paniclog"), xdg: filepath.Join(dir, "xdg")}
	if err := os.Mkdir(e.xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	return e
}

// config returns the base configuration plus extra.
func (e *env) config(extra string) string {
	return fmt.Sprintf(`Control_Listener {
  Listen %q { File_Mode = 0600 }
}
Logging {
  Paniclog = %q
}
ThreadPool "IO" { Concurrency = 7 }
%s
`, e.socket, e.panic, extra)
}

func (e *env) write(text string) {
	e.t.Helper()
	if err := os.WriteFile(e.conf, []byte(text), 0o600); err != nil {
		e.t.Fatal(err)
	}
}

// environ is the daemon's and the console's environment. The embedded default
// configuration's mail listener takes a free port (ECELERITY_ESMTP_LISTEN), so that
// tests on it run side by side and beside a developer's daemon on port 2525.
func (e *env) environ() []string {
	return append(os.Environ(), "XDG_RUNTIME_DIR="+e.xdg, "NOTIFY_SOCKET=", "ECELERITY_ESMTP_LISTEN=127.0.0.1:0")
}

// daemon is a running ecelerity process started with -d, its stderr collected.
type daemon struct {
	*daemontest.Process
	t *testing.T
}

// start runs the daemon with args and waits for its ready line (or its exit).
func (e *env) start(args ...string) *daemon {
	e.t.Helper()
	d := e.spawn(args...)
	if _, ok := d.WaitLine(0, "ready"); !ok {
		e.t.Fatalf("daemon did not become ready; stderr:\n%s", d.Stderr())
	}
	return d
}

// spawn runs the daemon with args without waiting.
func (e *env) spawn(args ...string) *daemon {
	e.t.Helper()
	cmd := exec.Command(bins.Daemon, append([]string{"-d"}, args...)...)
	cmd.Env = e.environ()
	return &daemon{Process: daemontest.Start(e.t, cmd), t: e.t}
}

func (d *daemon) signal(sig unix.Signal) {
	d.t.Helper()
	if err := d.Cmd.Process.Signal(sig); err != nil {
		d.t.Fatal(err)
	}
}

// wait waits for the daemon to exit and returns its exit code.
func (d *daemon) wait() int {
	d.t.Helper()
	select {
	case <-d.Done():
	case <-time.After(30 * time.Second):
		d.t.Fatalf("daemon did not exit; stderr:\n%s", d.Stderr())
	}
	var ee *exec.ExitError
	if err := d.Err(); errors.As(err, &ee) {
		return ee.ExitCode()
	} else if err != nil {
		d.t.Fatal(err)
	}
	return 0
}

// console runs ec_console with args (stdin from the given text) and returns its
// stdout, stderr and exit code.
func (e *env) console(stdin string, args ...string) (string, string, int) {
	e.t.Helper()
	return daemontest.Console(e.t, bins.Console, e.environ(), stdin, args...)
}

// ok runs one console command on the env's socket and fails on an error.
func (e *env) ok(command string) string {
	e.t.Helper()
	out, errs, code := e.console("", e.socket, command)
	if code != 0 {
		e.t.Fatalf("ec_console %q: exit %d\n%s%s", command, code, out, errs)
	}
	return out
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
