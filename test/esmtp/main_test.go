package esmtp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Paths of the binaries TestMain builds: the daemon and its console.
var daemonBin, consoleBin string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "esmtp-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer os.RemoveAll(dir)
	daemonBin, consoleBin = filepath.Join(dir, "ecelerity"), filepath.Join(dir, "ec_console")
	for pkg, out := range map[string]string{"../../cmd/ecelerity": daemonBin, "../../cmd/ec_console": consoleBin} {
		build := exec.Command("go", append(append([]string{"build"}, raceFlags...), "-o", out, pkg)...)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", pkg, err)
			return 2
		}
	}
	return m.Run()
}

// baseConf is what every test's configuration starts with: the console on a
// socket in the test's directory and the three logs there too.
const baseConf = `Control_Listener { Listen "DIR/ctl.sock" { } }
Logging {
  Paniclog = "DIR/paniclog"
  Mainlog = "DIR/mainlog"
  Rejectlog = "DIR/rejectlog"
}
`

// writeConf writes baseConf and text to dir/ecelerity.conf, with SPOOL and DIR
// replaced by the test's spool and directory.
func writeConf(t *testing.T, dir, text string) string {
	t.Helper()
	text = strings.ReplaceAll(baseConf+text, "SPOOL", filepath.Join(dir, "spool"))
	text = strings.ReplaceAll(text, "DIR", dir)
	path := filepath.Join(dir, "ecelerity.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// daemon is a running ecelerity started with -d, its stderr collected.
type daemon struct {
	t     *testing.T
	dir   string
	cmd   *exec.Cmd
	ready string   // the ready line
	addrs []string // the mail addresses the ready line lists

	mu    sync.Mutex // guards lines, grew and eof
	lines []string
	grew  chan struct{} // closed and replaced when a line arrives, or at EOF
	eof   bool
	done  chan struct{} // closed once the process has exited
}

// environ keeps default paths (XDG_RUNTIME_DIR) inside the test's directory and
// the daemon away from a service manager.
func environ(dir string) []string {
	return append(os.Environ(), "XDG_RUNTIME_DIR="+filepath.Join(dir, "xdg"), "NOTIFY_SOCKET=")
}

// startDaemon writes conf in dir, runs the daemon on it (with -d -c and args) and
// waits for its ready line, which lists the mail addresses (a configured port 0 is
// the real one there).
func startDaemon(t *testing.T, dir, conf string, args ...string) *daemon {
	t.Helper()
	path := writeConf(t, dir, conf)
	if err := os.MkdirAll(filepath.Join(dir, "xdg"), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemonBin, append([]string{"-d", "-c", path}, args...)...)
	cmd.Env = environ(dir)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, dir: dir, cmd: cmd, grew: make(chan struct{}), done: make(chan struct{})}
	go d.read(pipe)
	t.Cleanup(func() {
		d.stop()
		// A daemon built with -race reports on stderr as it finds one.
		if out := d.stderr(); strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("the daemon raced:\n%s", out)
		}
	})
	line, ok := d.waitLine(0, " ready (")
	if !ok {
		t.Fatalf("the daemon did not become ready; stderr:\n%s", d.stderr())
	}
	d.ready = line
	_, listening, _ := strings.Cut(line, "listening on ")
	for _, item := range strings.Split(listening, ", ") {
		if a, ok := strings.CutPrefix(item, "mail "); ok {
			d.addrs = append(d.addrs, a)
		}
	}
	if len(d.addrs) == 0 {
		t.Fatalf("the ready line lists no mail address: %s", line)
	}
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
	d.cmd.Wait()
	d.mu.Lock()
	d.eof = true
	close(d.grew)
	d.mu.Unlock()
	close(d.done)
}

// waitLine waits for a stderr line containing s at index from or later.
func (d *daemon) waitLine(from int, s string) (string, bool) {
	deadline := time.After(60 * time.Second)
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

// nlines returns how many stderr lines arrived so far.
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

func (d *daemon) addr() string { return d.addrs[0] }

// kill sends SIGKILL and waits for the process to go.
func (d *daemon) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// exitCode waits for the daemon to exit and returns its exit status.
func (d *daemon) exitCode() int {
	<-d.done
	return d.cmd.ProcessState.ExitCode()
}

// stop terminates the daemon gracefully, if it still runs. Idle SMTP sessions get
// a 421 and do not hold it up; one in the middle of a transaction may finish it.
func (d *daemon) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(40 * time.Second):
		d.t.Errorf("the daemon did not stop within 40s of SIGTERM; stderr:\n%s", d.stderr())
		d.cmd.Process.Kill()
		<-d.done
	}
}

// signal sends sig to the daemon.
func (d *daemon) signal(sig syscall.Signal) { d.cmd.Process.Signal(sig) }

// console runs one ec_console command on the daemon's socket and returns its
// stdout, stderr and exit status.
func (d *daemon) console(args ...string) (string, string, int) {
	d.t.Helper()
	cmd := exec.Command(consoleBin, append([]string{filepath.Join(d.dir, "ctl.sock")}, args...)...)
	cmd.Env = environ(d.dir)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	case err != nil:
		d.t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// ok runs one console command and fails the test unless it succeeds.
func (d *daemon) ok(args ...string) string {
	d.t.Helper()
	out, errs, code := d.console(args...)
	if code != 0 {
		d.t.Fatalf("ec_console %q: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}
