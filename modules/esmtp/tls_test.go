package esmtp

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate and key for 127.0.0.1 and
// returns their paths.
func writeCert(t *testing.T) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"mx.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

func TestSTARTTLS(t *testing.T) {
	cert, key := writeCert(t)
	s := startServer(t, conf(`TLS_Certificate = "`+cert+`"
  TLS_Key = "`+key+`"`), nil)
	c := s.dial()
	c.expect("220 ")
	c.send("EHLO x\r\n")
	if lines := c.reply(); lines[len(lines)-1] != "250 STARTTLS" {
		t.Fatalf("EHLO %q does not offer STARTTLS", lines)
	}
	// A command pipelined after STARTTLS must not survive into the session.
	c.send("STARTTLS\r\nMAIL FROM:<injected@b.example>\r\n")
	c.expect("220 2.0.0")
	tc := tls.Client(c.conn, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.conn, c.br = tc, bufio.NewReader(tc)
	// The transaction state was reset: a RCPT needs a MAIL.
	c.cmd("RCPT TO:<u@example.com>", "503 ")
	c.send("EHLO x\r\n")
	if lines := c.reply(); strings.Contains(fmtLines(lines), "STARTTLS") {
		t.Fatalf("EHLO over TLS %q offers STARTTLS again", lines)
	}
	c.cmd("STARTTLS", "503 5.5.1")
	c.cmd("MAIL FROM:<a@b.example>", "250 ")
	c.cmd("RCPT TO:<u@example.com>", "250 ")
	c.cmd("DATA", "354 ")
	c.send(strings.Repeat("line of text over TLS\r\n", 5000) + ".\r\n")
	id := idOf(t, c.expect("250 2.0.0"))
	if _, _, body := s.spooled(t, id); len(body) != 5000*23 {
		t.Fatalf("spooled %d bytes over TLS", len(body))
	}
	c.cmd("QUIT", "221 ")
}

func TestTLSOptionsGoTogether(t *testing.T) {
	s := startServer(t, baseConf, nil)
	if err := s.tryReload(conf(`TLS_Certificate = "/nonexistent.pem"`)); err == nil {
		t.Fatal("TLS_Certificate without TLS_Key accepted")
	}
}

func TestControl(t *testing.T) {
	s := startServer(t, baseConf, nil)
	c := s.dial()
	c.expect("220 ")
	var ids []string
	for range 2 {
		c.cmd("MAIL FROM:<a@b.example>", "250 ")
		c.cmd("RCPT TO:<u@example.com>", "250 ")
		c.cmd("DATA", "354 ")
		c.send("x\r\n.\r\n")
		ids = append(ids, idOf(t, c.expect("250 ")))
	}
	ctl := func(args ...string) (string, error) {
		return s.mgr.Control(append([]string{"esmtp_listener"}, args...))
	}
	if out, err := ctl("spool", "count"); err != nil || out != "2\n" {
		t.Fatalf("spool count = %q, %v", out, err)
	}
	out, err := ctl("spool", "list")
	if err != nil || !strings.Contains(out, ids[0]+" 3 ") || !strings.Contains(out, "a@b.example u@example.com") {
		t.Fatalf("spool list = %q, %v", out, err)
	}
	if out, err := ctl("spool", "drop", ids[0]); err != nil || !strings.Contains(out, "Dropped") {
		t.Fatalf("spool drop = %q, %v", out, err)
	}
	if _, err := ctl("spool", "drop", ids[0]); err == nil {
		t.Fatal("dropping a dropped message succeeded")
	}
	if out, _ := ctl("spool", "count"); out != "1\n" {
		t.Fatalf("spool count after drop = %q", out)
	}
	if out, err := ctl("sessions"); err != nil || !strings.Contains(out, ": 1 sessions (127.0.0.1:0)") {
		t.Fatalf("sessions = %q, %v", out, err)
	}
	if _, err := ctl("bogus"); err == nil {
		t.Fatal("unknown command accepted")
	}
}
