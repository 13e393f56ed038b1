package esmtp

import (
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests stop the daemon with SIGTERM while SMTP clients are connected: the
// listener drains first (issue 7: stop accepting, finish or time out sessions,
// drain pools), so an idle client never holds the shutdown up to its timeout.

// checkCleanExit waits for the daemon to exit and checks that it exited 0 with its
// pidfile and control socket removed, and that no session waited for the drain's
// deadline (the daemon logs the sessions it cut off) nor the teardown for the
// shutdown timeout.
func checkCleanExit(t *testing.T, d *daemon, pidfile string) {
	t.Helper()
	if code := d.exitCode(); code != 0 {
		t.Errorf("the daemon exited %d after SIGTERM, want 0; stderr:\n%s", code, d.Stderr())
	}
	for _, bad := range []string{"cut off at the shutdown deadline", "deadline exceeded", "shutdown abandoned"} {
		if strings.Contains(d.Stderr(), bad) {
			t.Errorf("the shutdown waited for its deadline (%q); stderr:\n%s", bad, d.Stderr())
		}
	}
	if _, ok := d.WaitLine(0, "shutdown complete"); !ok {
		t.Errorf("no \"shutdown complete\"; stderr:\n%s", d.Stderr())
	}
	for _, p := range []string{pidfile, filepath.Join(d.dir, "ctl.sock")} {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s is still there after the shutdown (%v)", filepath.Base(p), err)
		}
	}
}

// TestSIGTERMWithIdleClient: an idle client connected (after EHLO) and another
// that has only read the greeting get 421 4.3.2 and EOF when SIGTERM arrives; the
// mail port refuses connections from then on; the daemon exits 0 without waiting
// for its shutdown timeout, and removes its pidfile and control socket.
func TestSIGTERMWithIdleClient(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "ecelerity.pid")
	d := startDaemon(t, dir, confWith(""), "-p", pidfile)
	idle := dialSMTP(t, d.addr())
	idle.send("EHLO client.example\r\n", "250 ")
	greeted := dialSMTP(t, d.addr())

	d.signal(syscall.SIGTERM)
	for name, c := range map[string]*smtpConn{"idle": idle, "greeted": greeted} {
		if r := c.reply(); r != "421 4.3.2 Service shutting down" {
			t.Errorf("%s client: %q, want the shutdown 421", name, r)
		}
		if _, err := c.br.ReadByte(); err != io.EOF {
			t.Errorf("%s client: the connection is still open after the 421 (%v)", name, err)
		}
	}
	// The clients were told after the socket closed.
	if c, err := net.DialTimeout("tcp", d.addr(), 5*time.Second); err == nil {
		c.Close()
		t.Error("the mail port still accepts during the shutdown")
	}
	checkCleanExit(t, d, pidfile)
}

// TestSIGTERMDuringData: a client in the middle of DATA when SIGTERM arrives
// finishes its message and gets its 250 (the spool still runs), then a 421 for
// its next command; the daemon exits 0 and the message is in the spool and the
// mainlog afterwards.
func TestSIGTERMDuringData(t *testing.T) {
	dir := t.TempDir()
	pidfile := filepath.Join(dir, "ecelerity.pid")
	d := startDaemon(t, dir, confWith(""), "-p", pidfile)
	s := dialSMTP(t, d.addr())
	s.send("EHLO client.example\r\n", "250 ")
	s.send("MAIL FROM:<a@client.example>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n", "250 ", "250 ", "354 ")
	s.send("Subject: shutdown\r\n\r\nbegun before SIGTERM\r\n")
	// An idle witness: its 421 says the drain has begun.
	witness := dialSMTP(t, d.addr())

	d.signal(syscall.SIGTERM)
	if r := witness.reply(); !strings.HasPrefix(r, "421 4.3.2 ") {
		t.Fatalf("the idle client got %q, want the shutdown 421", r)
	}
	r := s.send("finished after SIGTERM\r\n.\r\nMAIL FROM:<a@client.example>\r\n", "250 2.0.0 OK ", "421 4.3.2 Service shutting down")
	id := strings.TrimPrefix(r[0], "250 2.0.0 OK ")
	if _, err := s.br.ReadByte(); err != io.EOF {
		t.Errorf("the connection is still open after the 421 (%v)", err)
	}
	checkCleanExit(t, d, pidfile)

	if n := countSpool(t, dir); n != 1 {
		t.Errorf("the spool holds %d messages after the shutdown, want 1", n)
	}
	body, ok := spooled(t, dir)[id]
	if !ok {
		t.Fatalf("message %s is not in the spool", id)
	}
	if !strings.Contains(body, "begun before SIGTERM\r\nfinished after SIGTERM\r\n") {
		t.Errorf("spooled message %s lacks its body:\n%q", id, body)
	}
	ml, err := os.ReadFile(filepath.Join(dir, "mainlog"))
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, string(ml), id)
}

// TestCheckBadListen: `ecelerity --check` rejects a Listen address the listener
// could never bind (port out of range) with its file:line:col and a non-zero
// exit, and accepts the same file with a good port; nothing is started.
func TestCheckBadListen(t *testing.T) {
	for _, tc := range []struct {
		listen string
		ok     bool
	}{
		{"127.0.0.1:0", true},
		{"127.0.0.1:99999", false},
	} {
		t.Run(tc.listen, func(t *testing.T) {
			dir := t.TempDir()
			path := writeConf(t, dir, strings.Replace(confWith(""), "127.0.0.1:0", tc.listen, 1))
			cmd := exec.Command(bins.Daemon, "--check", "-c", path)
			cmd.Env = environ(dir)
			out, err := cmd.CombinedOutput()
			if tc.ok {
				if err != nil || !strings.Contains(string(out), "configuration OK") {
					t.Fatalf("--check of a good file: %v\n%s", err, out)
				}
				return
			}
			if err == nil {
				t.Fatalf("--check accepted Listen %q:\n%s", tc.listen, out)
			}
			// baseConf takes 6 lines; the Listen is the 7th of e2eConf.
			want := path + `:13:3: ESMTP_Listener: Listen "127.0.0.1:99999"`
			if !strings.Contains(string(out), want) {
				t.Errorf("--check output lacks %q:\n%s", want, out)
			}
			if _, err := os.Stat(filepath.Join(dir, "spool")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("--check made the spool (%v): it must start nothing", err)
			}
		})
	}
}
