package test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"golang.org/x/sys/unix"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
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
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex // guards lines
	lines  []string
	grew   chan struct{} // closed and replaced when a line arrives, or at EOF
	eof    bool
	exited chan struct{}
	err    error // Wait's result, set before exited closes
}

// start runs the daemon with args and waits for its ready line (or its exit).
func (e *env) start(args ...string) *daemon {
	e.t.Helper()
	d := e.spawn(args...)
	if _, ok := d.waitLine("ready"); !ok {
		e.t.Fatalf("daemon did not become ready; stderr:\n%s", d.stderr())
	}
	return d
}

// spawn runs the daemon with args without waiting.
func (e *env) spawn(args ...string) *daemon {
	e.t.Helper()
	cmd := exec.Command(daemonBin, append([]string{"-d"}, args...)...)
	cmd.Env = e.environ()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	d := &daemon{t: e.t, cmd: cmd, grew: make(chan struct{}), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go d.read(pipe)
	e.t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			cmd.Process.Kill()
			<-d.exited
		}
	})
	return d
}

func (d *daemon) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		d.mu.Lock()
		d.lines = append(d.lines, sc.Text())
		close(d.grew)
		d.grew = make(chan struct{})
		d.mu.Unlock()
	}
	err := d.cmd.Wait()
	d.mu.Lock()
	d.err, d.eof = err, true
	close(d.grew)
	d.mu.Unlock()
	close(d.exited)
}

// waitLine waits for a stderr line containing s, from the start of the output.
func (d *daemon) waitLine(s string) (string, bool) {
	return d.waitLineFrom(0, s)
}

// waitLineFrom waits for a line containing s at index from or later.
func (d *daemon) waitLineFrom(from int, s string) (string, bool) {
	deadline := time.After(20 * time.Second)
	for {
		d.mu.Lock()
		for _, l := range d.lines[min(from, len(d.lines)):] {
			if strings.Contains(l, s) {
				d.mu.Unlock()
				return l, true
			}
		}
		ch, eof := d.grew, d.eof
		d.mu.Unlock()
		if eof {
			return "", false
		}
		select {
		case <-ch:
		case <-deadline:
			return "", false
		}
	}
}

func (d *daemon) nlines() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.lines)
}

func (d *daemon) stderr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return strings.Join(d.lines, "\n")
}

func (d *daemon) signal(sig unix.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatal(err)
	}
}

// wait waits for the daemon to exit and returns its exit code.
func (d *daemon) wait() int {
	d.t.Helper()
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		d.t.Fatalf("daemon did not exit; stderr:\n%s", d.stderr())
	}
	var ee *exec.ExitError
	if errors.As(d.err, &ee) {
		return ee.ExitCode()
	}
	if d.err != nil {
		d.t.Fatal(d.err)
	}
	return 0
}

// console runs ec_console with args (stdin from the given text) and returns its
// stdout, stderr and exit code.
func (e *env) console(stdin string, args ...string) (string, string, int) {
	e.t.Helper()
	cmd := exec.Command(consoleBin, args...)
	cmd.Env = e.environ()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return out.String(), errb.String(), code
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
