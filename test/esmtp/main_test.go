package esmtp

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// esmtpdPath is the binary TestMain builds.
var esmtpdPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "esmtp-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	esmtpdPath = filepath.Join(dir, "esmtpd")
	build := exec.Command("go", "build", "-o", esmtpdPath, "./esmtpd")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build esmtpd:", err)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is a running esmtpd.
type daemon struct {
	t     *testing.T
	dir   string
	cmd   *exec.Cmd
	addrs []string
	out   *bufio.Scanner
	done  chan struct{} // closed once the process has exited
}

// writeConf writes the configuration text, with SPOOL and DIR replaced by
// the test's spool and temporary directory.
func writeConf(t *testing.T, dir, text string) string {
	t.Helper()
	text = strings.ReplaceAll(text, "SPOOL", filepath.Join(dir, "spool"))
	text = strings.ReplaceAll(text, "DIR", dir)
	path := filepath.Join(dir, "ecelerity.conf")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startDaemon runs esmtpd on conf in dir and waits until it is ready.
func startDaemon(t *testing.T, dir, conf string) *daemon {
	t.Helper()
	path := writeConf(t, dir, conf)
	cmd := exec.Command(esmtpdPath, "-c", path, "-mainlog", filepath.Join(dir, "mainlog"), "-rejectlog", filepath.Join(dir, "rejectlog"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemon{t: t, dir: dir, cmd: cmd, out: bufio.NewScanner(stdout), done: make(chan struct{})}
	t.Cleanup(func() { d.stop() })
	ready := make(chan error, 1)
	go func() {
		for d.out.Scan() {
			line := d.out.Text()
			if a, ok := strings.CutPrefix(line, "listening "); ok {
				d.addrs = append(d.addrs, a)
			}
			if line == "ready" {
				ready <- nil
				break
			}
		}
		if err := d.out.Err(); err != nil {
			ready <- err
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
		close(d.done)
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-d.done:
		t.Fatal("esmtpd exited before it was ready")
	case <-time.After(60 * time.Second):
		t.Fatal("esmtpd not ready after a minute")
	}
	if len(d.addrs) == 0 {
		t.Fatal("esmtpd listens nowhere")
	}
	return d
}

func (d *daemon) addr() string { return d.addrs[0] }

// kill sends SIGKILL and waits for the process to go.
func (d *daemon) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.done
}

// stop terminates the daemon gracefully, if it still runs.
func (d *daemon) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		d.cmd.Process.Kill()
		<-d.done
	}
}

// signal sends sig to the daemon.
func (d *daemon) signal(sig syscall.Signal) { d.cmd.Process.Signal(sig) }
