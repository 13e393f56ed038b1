package esmtp

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/test/internal/daemontest"
)

// bins are the daemon and console binaries TestMain builds.
var bins daemontest.Binaries

func TestMain(m *testing.M) {
	os.Exit(daemontest.Main(m, &bins, "../..", raceFlags...))
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
	*daemontest.Process
	t     *testing.T
	dir   string
	ready string   // the ready line
	addrs []string // the mail addresses the ready line lists
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
	cmd := exec.Command(bins.Daemon, append([]string{"-d", "-c", path}, args...)...)
	cmd.Env = environ(dir)
	d := &daemon{Process: daemontest.Start(t, cmd), t: t, dir: dir}
	t.Cleanup(func() {
		d.stop()
		// A daemon built with -race reports on stderr as it finds one.
		if out := d.Stderr(); strings.Contains(out, "WARNING: DATA RACE") {
			t.Errorf("the daemon raced:\n%s", out)
		}
	})
	line, ok := d.WaitLine(0, " ready (")
	if !ok {
		t.Fatalf("the daemon did not become ready; stderr:\n%s", d.Stderr())
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

func (d *daemon) addr() string { return d.addrs[0] }

// kill sends SIGKILL and waits for the process to go.
func (d *daemon) kill() {
	d.Cmd.Process.Signal(syscall.SIGKILL)
	<-d.Done()
}

// exitCode waits for the daemon to exit and returns its exit status.
func (d *daemon) exitCode() int {
	<-d.Done()
	return d.Cmd.ProcessState.ExitCode()
}

// stop terminates the daemon gracefully, if it still runs. Idle SMTP sessions get
// a 421 and do not hold it up; one in the middle of a transaction may finish it.
func (d *daemon) stop() {
	select {
	case <-d.Done():
		return
	default:
	}
	d.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.Done():
	case <-time.After(40 * time.Second):
		d.t.Errorf("the daemon did not stop within 40s of SIGTERM; stderr:\n%s", d.Stderr())
		d.Cmd.Process.Kill()
		<-d.Done()
	}
}

// signal sends sig to the daemon.
func (d *daemon) signal(sig syscall.Signal) { d.Cmd.Process.Signal(sig) }

// console runs one ec_console command on the daemon's socket and returns its
// stdout, stderr and exit status.
func (d *daemon) console(args ...string) (string, string, int) {
	d.t.Helper()
	return daemontest.Console(d.t, bins.Console, environ(d.dir), "", append([]string{filepath.Join(d.dir, "ctl.sock")}, args...)...)
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
