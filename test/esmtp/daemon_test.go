package esmtp

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests drive what the listener gains from living in the daemon: the console
// (spool commands, generations), the metrics, SIGHUP reloads and Lua scriptlets.

// smtpConn is a raw SMTP client for tests that need a session to stay open across
// steps the test takes in between.
type smtpConn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

// dialSMTP connects to addr and reads the greeting.
func dialSMTP(t *testing.T, addr string) *smtpConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	s := &smtpConn{t: t, c: c, br: bufio.NewReader(c)}
	t.Cleanup(func() { c.Close() })
	if r := s.reply(); !strings.HasPrefix(r, "220 ") {
		t.Fatalf("greeting %q", r)
	}
	return s
}

// reply reads one reply and returns its last line.
func (s *smtpConn) reply() string {
	s.t.Helper()
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			s.t.Fatalf("reading a reply: %v", err)
		}
		if len(line) < 4 || line[3] != '-' {
			return strings.TrimRight(line, "\r\n")
		}
	}
}

// send writes text (one command or several, pipelined) and checks that the
// replies, in order, start with want.
func (s *smtpConn) send(text string, want ...string) []string {
	s.t.Helper()
	if _, err := io.WriteString(s.c, text); err != nil {
		s.t.Fatal(err)
	}
	var got []string
	for _, w := range want {
		r := s.reply()
		got = append(got, r)
		if !strings.HasPrefix(r, w) {
			s.t.Fatalf("after %q: reply %q, want %q (replies so far %q)", text, r, w, got)
		}
	}
	return got
}

// quit ends the session politely and waits for the server to close it.
func (s *smtpConn) quit() {
	s.t.Helper()
	s.send("QUIT\r\n", "221 ")
	if _, err := s.br.ReadByte(); err != io.EOF {
		s.t.Errorf("after QUIT the connection is still open (%v)", err)
	}
	s.c.Close()
}

// sendMessages sends n messages on one session and returns their spool IDs.
func sendMessages(t *testing.T, addr string, n int) []string {
	t.Helper()
	s := dialSMTP(t, addr)
	s.send("EHLO client.example\r\n", "250 ")
	var ids []string
	for i := range n {
		s.send("MAIL FROM:<a@client.example>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n", "250 ", "250 ", "354 ")
		r := s.send(fmt.Sprintf("Subject: %d\r\n\r\nmessage %d\r\n.\r\n", i, i), "250 2.0.0 OK ")
		ids = append(ids, strings.TrimPrefix(r[0], "250 2.0.0 OK "))
	}
	s.quit()
	return ids
}

// scrape returns the metrics page of the daemon, whose ready line names it.
func scrape(t *testing.T, d *daemon) string {
	t.Helper()
	m := regexp.MustCompile(`metrics (http://\S+/metrics)`).FindStringSubmatch(d.ready)
	if m == nil {
		t.Fatalf("no metrics address in the ready line: %s", d.ready)
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSpoolCommandsCountWhatWasSent: after N messages over SMTP, `spool count` (the
// top-level form) and `ESMTP_Listener spool count` both say N, `spool list` lists
// the IDs the 250s gave, `spool drop` removes one, and `summary` and the metrics
// count N received and the relaying refusal as rejected.
func TestSpoolCommandsCountWhatWasSent(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, confWith("")+"Metrics_Address = \"127.0.0.1:0\"\n")
	const n = 5
	ids := sendMessages(t, d.addr(), n)
	wantLines(t, runClient(t, "relay", d.addr()), "refused x@elsewhere.example 550 5.7.1 relaying denied")

	for _, cmd := range [][]string{{"spool", "count"}, {"ESMTP_Listener", "spool", "count"}} {
		if out := d.ok(cmd...); strings.TrimSpace(out) != fmt.Sprint(n) {
			t.Errorf("%q = %q, want %d", cmd, out, n)
		}
	}
	list := d.ok("spool", "list")
	if got := strings.Count(list, "\n"); got != n {
		t.Errorf("spool list has %d lines, want %d:\n%s", got, n, list)
	}
	for _, id := range ids {
		if !strings.Contains(list, id+" ") {
			t.Errorf("spool list lacks %s:\n%s", id, list)
		}
	}
	summary := d.ok("summary")
	wantLines(t, summary, fmt.Sprintf("Messages Received: %d", n), "Messages Rejected: 1")
	metrics := scrape(t, d)
	wantLines(t, metrics, fmt.Sprintf(`ecelerity_messages_total{outcome="received"} %d`, n),
		`ecelerity_messages_total{outcome="rejected"} 1`,
		`ecelerity_listener_sessions{listener="ESMTP_Listener"} 0`)

	if out := d.ok("spool", "drop", ids[0]); !strings.Contains(out, "Dropped "+ids[0]) {
		t.Errorf("spool drop = %q", out)
	}
	if out := d.ok("spool", "count"); strings.TrimSpace(out) != fmt.Sprint(n-1) {
		t.Errorf("after a drop, spool count = %q, want %d", out, n-1)
	}
	if n := countSpool(t, dir); n != len(ids)-1 {
		t.Errorf("the spool directory holds %d messages after the drop, want %d", n, len(ids)-1)
	}
	// Bad uses are errors with a non-zero exit, not silence.
	for _, bad := range [][]string{{"spool", "drop", ids[0]}, {"spool", "drop"}, {"spool"}, {"spool", "flush"}} {
		if out, errs, code := d.console(bad...); code == 0 {
			t.Errorf("%q succeeded: %q %q", bad, out, errs)
		}
	}
}

// TestSessionsInGenerationsAndMetrics: an open session shows in `generations` on
// the generation it holds, and in the sessions gauges.
func TestSessionsInGenerationsAndMetrics(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, confWith("")+"Metrics_Address = \"127.0.0.1:0\"\n")
	s := dialSMTP(t, d.addr())
	s.send("EHLO client.example\r\n", "250 ")
	gens := d.ok("generations")
	if !regexp.MustCompile(`(?m)^\d+\*\s+\S+\s+\d+\s+\d+\s+1\s+ESMTP_Listener`).MatchString(gens) {
		t.Errorf("generations does not show the session on the current generation:\n%s", gens)
	}
	metrics := scrape(t, d)
	wantLines(t, metrics, `ecelerity_listener_sessions{listener="ESMTP_Listener"} 1`)
	if !regexp.MustCompile(`ecelerity_listener_generation_sessions\{generation="\d+",listener="ESMTP_Listener"\} 1`).MatchString(metrics) {
		t.Errorf("metrics lack the session on its generation:\n%s", grepLines(metrics, "sessions"))
	}
	s.quit()
}

// TestReloadDuringSession: a SIGHUP while a session is in the middle of a
// transaction does not drop it; the transaction finishes on the generation it
// began on (the new Domain is still refused in it), and the next MAIL, pipelined
// with its RCPT and DATA, runs on the new generation, which serves the new Domain.
func TestReloadDuringSession(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, confWith(""))
	s := dialSMTP(t, d.addr())
	s.send("EHLO client.example\r\n", "250 ")
	s.send("MAIL FROM:<a@client.example>\r\nRCPT TO:<u@example.com>\r\n", "250 ", "250 ")
	s.send("RCPT TO:<u@new.example>\r\n", "550 5.7.1 relaying denied")

	from := d.NLines()
	writeConf(t, dir, confWith("")+"Domain \"new.example\" { }\n")
	d.signal(syscall.SIGHUP)
	if _, ok := d.WaitLine(from, "Reconfigured: generation"); !ok {
		t.Fatalf("no reload after SIGHUP; stderr:\n%s", d.Stderr())
	}
	gens := d.ok("generations")
	if !regexp.MustCompile(`(?m)^\d+\s+\S+\s+\d+\s+\d+\s+1\s+ESMTP_Listener`).MatchString(gens) {
		t.Errorf("the old generation does not hold the session:\n%s", gens)
	}

	// The open transaction is the old generation's.
	s.send("RCPT TO:<v@new.example>\r\n", "550 5.7.1 relaying denied")
	s.send("DATA\r\n", "354 ")
	s.send("Subject: before\r\n\r\nbegun before the reload\r\n.\r\n", "250 2.0.0 OK ")
	// The next one is the new generation's, pipelined.
	s.send("MAIL FROM:<a@client.example>\r\nRCPT TO:<u@new.example>\r\nDATA\r\n", "250 ", "250 ", "354 ")
	s.send("Subject: after\r\n\r\nafter the reload\r\n.\r\n", "250 2.0.0 OK ")
	gens = d.ok("generations")
	if !regexp.MustCompile(`(?m)^\d+\*\s+\S+\s+\d+\s+\d+\s+1\s+ESMTP_Listener`).MatchString(gens) {
		t.Errorf("the session did not move to the current generation:\n%s", gens)
	}
	s.quit()
	if n := countSpool(t, dir); n != 2 {
		t.Errorf("spool holds %d messages, want 2", n)
	}
}

// policyLua is the README's scriptlet: it refuses recipients in one domain.
const policyLua = `require("msys.core")
local mod = {}
function mod:validate_rcptto(msg, rcpt, ac, vctx)
  if vctx:get(msys.core.VCTX_MESS, "rcptto_domain") == "blocked.example" then
    vctx:set_code(550, "5.7.1 domain blocked by policy")
    return msys.core.VALIDATE_DONE
  end
  return msys.core.VALIDATE_CONT
end
msys.registerModule("policy", mod)
`

// TestLuaPolicyRejectsByDomain: a scriptlet stanza in the daemon's configuration
// refuses a served domain's recipients; other recipients pass, and the refusal is
// in the rejectlog with the scriptlet as the module.
func TestLuaPolicyRejectsByDomain(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.lua"), []byte(policyLua), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, dir, confWith("")+`Domain "blocked.example" { }
scriptlet "scriptlet" { script "policy" { source = "policy" } }
`)
	s := dialSMTP(t, d.addr())
	s.send("EHLO client.example\r\n", "250 ")
	s.send("MAIL FROM:<a@client.example>\r\nRCPT TO:<x@blocked.example>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n",
		"250 ", "550 5.7.1 domain blocked by policy", "250 ", "354 ")
	s.send("Subject: p\r\n\r\npolicy\r\n.\r\n", "250 2.0.0 OK ")
	s.quit()
	d.stop()
	rl, err := os.ReadFile(filepath.Join(dir, "rejectlog"))
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, string(rl), `P="awaiting rcptto" E=550 M=scriptlet`, "domain blocked by policy")
	ml, _ := os.ReadFile(filepath.Join(dir, "mainlog"))
	if strings.Contains(string(ml), "blocked.example") || !strings.Contains(string(ml), "@R@u@example.com@") {
		t.Errorf("mainlog should have the accepted recipient only:\n%s", ml)
	}
}

// grepLines returns the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
