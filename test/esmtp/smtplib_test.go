package esmtp

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/modules/esmtp/spool"
)

// clientPy is a client built on Python's smtplib (and, for pipelining, a raw
// socket): `python3 client.py MODE HOST PORT`. It prints what the test checks.
const clientPy = `
import smtplib, socket, ssl, sys
from email.message import EmailMessage

mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])

def message(body="hello from smtplib\n.leading dot\n"):
    m = EmailMessage()
    m["From"] = "sender@client.example"
    m["To"] = "user@example.com"
    m["Subject"] = "e2e"
    m.set_content(body)
    return m

if mode == "send":
    with smtplib.SMTP(host, port, timeout=30) as s:
        code, _ = s.ehlo("client.example")
        print("ehlo", code, " ".join(sorted(s.esmtp_features)))
        refused = s.send_message(message(), to_addrs=["user@example.com", "other@example.com"])
        print("refused", len(refused))
        print("noop", s.noop()[0])
elif mode == "relay":
    with smtplib.SMTP(host, port, timeout=30) as s:
        try:
            s.sendmail("a@client.example", ["x@elsewhere.example"], "Subject: x\r\n\r\nx\r\n")
        except smtplib.SMTPRecipientsRefused as e:
            for r, (code, text) in e.recipients.items():
                print("refused", r, code, text.decode())
elif mode == "starttls":
    with smtplib.SMTP(host, port, timeout=30) as s:
        s.ehlo("client.example")
        print("offers", s.has_extn("starttls"))
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        code, _ = s.starttls(context=ctx)
        print("starttls", code)
        s.ehlo("client.example")
        print("offers", s.has_extn("starttls"))
        print("refused", len(s.send_message(message("over TLS\n" * 1000))))
elif mode == "size":
    with smtplib.SMTP(host, port, timeout=30) as s:
        s.ehlo("client.example")
        print("max", s.esmtp_features.get("size"))
        try:
            s.send_message(message(("x" * 70 + "\n") * 100))
        except smtplib.SMTPSenderRefused as e:
            print("refused", e.smtp_code, e.smtp_error.decode())
        # Without SIZE= the limit applies to the body itself.
        s.esmtp_features = {}
        s.does_esmtp = False
        try:
            s.sendmail("a@client.example", ["user@example.com"], "Subject: x\r\n\r\n" + ("y" * 70 + "\r\n") * 100)
        except smtplib.SMTPDataError as e:
            print("data", e.smtp_code, e.smtp_error.decode())
elif mode == "pipeline":
    sock = socket.create_connection((host, port), timeout=30)
    f = sock.makefile("rb")
    def reply():
        lines = []
        while True:
            line = f.readline().decode().rstrip("\r\n")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines[-1]
    print(reply()[:3])
    sock.sendall(b"EHLO p.example\r\nMAIL FROM:<a@client.example>\r\nRCPT TO:<u@example.com>\r\n"
                 b"RCPT TO:<u@elsewhere.example>\r\nDATA\r\nSubject: p\r\n\r\npipelined\r\n.\r\nQUIT\r\n")
    for _ in range(7):
        print(reply())
`

// runClient runs client.py with a mode against addr and returns its output.
func runClient(t *testing.T, mode, addr string) string {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is not installed: the issue's real client is Python's smtplib (.ci/run installs python3 when missing)")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "client.py")
	if err := os.WriteFile(script, []byte(clientPy), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := strings.Cut(addr, ":")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "python3", script, mode, host, port).CombinedOutput()
	if err != nil {
		t.Fatalf("client.py %s: %v\n%s", mode, err, out)
	}
	return string(out)
}

const e2eConf = `
Spoolbase = "SPOOL"
Domain "example.com" { }
ESMTP_Listener {
  Banner_Hostname = "mx.e2e"
  EXTRA
  Listen "127.0.0.1:0" { }
}
`

func confWith(extra string) string { return strings.Replace(e2eConf, "EXTRA", extra, 1) }

func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

// countSpool counts the whole messages in the spool of the daemon whose
// directory is dir, reading it from outside as an operator's tool would.
func countSpool(t *testing.T, dir string) int {
	t.Helper()
	return len(spooled(t, dir))
}

// spooled returns the bodies of the whole messages in the spool of the
// daemon whose directory is dir, by id.
func spooled(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := spool.Scan(filepath.Join(dir, "spool"), func(env *spool.Envelope, body []byte) error {
		out[env.ID] = string(body)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSmtplibTransaction(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, confWith(""))
	out := runClient(t, "send", d.addr())
	wantLines(t, out, "ehlo 250 8bitmime enhancedstatuscodes pipelining size", "refused 0", "noop 250")
	if n := countSpool(t, dir); n != 1 {
		t.Fatalf("spool holds %d messages, want 1", n)
	}
	d.stop()
	ml, _ := os.ReadFile(filepath.Join(dir, "mainlog"))
	if got := strings.Count(string(ml), "@R@"); got != 2 {
		t.Fatalf("mainlog has %d R lines, want 2:\n%s", got, ml)
	}
}

func TestSmtplibRelayDenied(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, confWith(""))
	wantLines(t, runClient(t, "relay", d.addr()), "refused x@elsewhere.example 550 5.7.1 relaying denied")
	d.stop()
	rl, _ := os.ReadFile(filepath.Join(dir, "rejectlog"))
	wantLines(t, string(rl), `P="awaiting rcptto" E=550`)
}

func TestSmtplibPipelining(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, confWith(""))
	out := runClient(t, "pipeline", d.addr())
	want := "220\n250 ENHANCEDSTATUSCODES\n250 2.1.0 sender ok\n250 2.1.5 recipient ok\n550 5.7.1 relaying denied\n354 end data with <CR><LF>.<CR><LF>\n250 2.0.0 OK "
	if !strings.HasPrefix(out, want) || !strings.Contains(out, "\n221 2.0.0 mx.e2e closing connection") {
		t.Fatalf("pipelined replies:\n%s\nwant them in order:\n%s", out, want)
	}
}

func TestSmtplibSTARTTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	d := startDaemon(t, dir, confWith(`TLS_Certificate = "`+cert+`"
  TLS_Key = "`+key+`"`))
	wantLines(t, runClient(t, "starttls", d.addr()), "offers True", "starttls 220", "offers False", "refused 0")
	if n := countSpool(t, dir); n != 1 {
		t.Fatalf("spool holds %d messages, want 1", n)
	}
}

func TestSmtplibSizeLimit(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir, confWith("Max_Message_Size = 1000"))
	wantLines(t, runClient(t, "size", d.addr()), "max 1000", "refused 552 5.3.4", "data 552 5.3.4")
	if n := countSpool(t, dir); n != 0 {
		t.Fatalf("spool holds %d messages, want none", n)
	}
}
