package sched

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// testTLSConfigs returns a server config with a fresh self-signed certificate
// for "localhost" and a client config that trusts it.
func testTLSConfigs(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	client = &tls.Config{RootCAs: pool, ServerName: "localhost"}
	return server, client
}

// lineServer is a connection of a test server: plain lines until "STARTTLS",
// TLS after; every line is echoed with "echo: " in front, "BIG n" answers n
// bytes, "QUIT" closes.
type lineServer struct {
	ops     Ops
	r       ReadState
	w       WriteState
	tlsCfg  *tls.Config
	upgrade bool // STARTTLS done
	errs    chan<- error
}

func (s *lineServer) callback(ev *Event, fired Mask, _ time.Time) Mask {
	if need, err := s.w.Flush(s.ops); err != nil || need != 0 {
		return s.fail(err, need)
	}
	for {
		line, need, err := s.r.ReadUntil(s.ops, []byte("\n"))
		if err != nil {
			return s.fail(err, 0)
		}
		if need != 0 {
			return need
		}
		cmd := strings.TrimSpace(string(line))
		var reply []byte
		switch {
		case cmd == "STARTTLS" && !s.upgrade:
			if need, err := s.w.Write(s.ops, []byte("220 go ahead\n")); err != nil || need != 0 {
				return s.fail(err, need)
			}
			// What the client sent after STARTTLS in the clear must not be
			// taken as protected.
			s.r.Discard()
			s.upgrade = true
			tc := NewTLSServer(ev.FD(), s.tlsCfg)
			s.ops = tc
			return tc.Handshake(ev, Read)
		case cmd == "QUIT":
			s.ops.Close()
			s.errs <- nil
			return 0
		case strings.HasPrefix(cmd, "BIG "):
			var n int
			for _, c := range cmd[4:] {
				n = n*10 + int(c-'0')
			}
			reply = append(bytes.Repeat([]byte("z"), n-1), '\n')
		default:
			reply = []byte("echo: " + cmd + "\n")
		}
		need, err = s.w.Write(s.ops, reply)
		if err != nil {
			return s.fail(err, 0)
		}
		if need != 0 {
			return need
		}
	}
}

func (s *lineServer) fail(err error, need Mask) Mask {
	if err == nil {
		return need
	}
	s.ops.Close()
	s.errs <- err
	return 0
}

// startLineServer listens on loopback; implicitTLS starts every connection with
// the TLS handshake instead of plain text.
func startLineServer(t *testing.T, cfg *tls.Config, implicitTLS bool) (string, <-chan error) {
	t.Helper()
	l := startLoop(t, Options{})
	lfd, err := Listen("tcp", "127.0.0.1:0", ListenConfig{})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := Addr(lfd)
	errs := make(chan error, 16)
	onLoop(t, l, func(time.Time) {
		_, err := l.AddListener(lfd, Acceptor(func(l *Loop, fd int, _ unix.Sockaddr) {
			s := &lineServer{ops: NewFDConn(fd), tlsCfg: cfg, errs: errs}
			ev, err := l.Add(fd, Read, s.callback, s)
			if err != nil {
				errs <- err
				return
			}
			if implicitTLS {
				s.upgrade = true
				tc := NewTLSServer(fd, cfg)
				s.ops = tc
				tc.Handshake(ev, Read)
			}
		}), nil)
		if err != nil {
			t.Fatal(err)
		}
	})
	return addr.String(), errs
}

func roundTrip(t *testing.T, rw *bufio.ReadWriter, line string) string {
	t.Helper()
	rw.WriteString(line + "\n")
	if err := rw.Flush(); err != nil {
		t.Fatalf("write %q: %v", line, err)
	}
	got, err := rw.ReadString('\n')
	if err != nil {
		t.Fatalf("reply to %q: %v", line, err)
	}
	return strings.TrimSuffix(got, "\n")
}

func TestTLSImplicit(t *testing.T) {
	srvCfg, cliCfg := testTLSConfigs(t)
	addr, errs := startLineServer(t, srvCfg, true)
	c, err := tls.Dial("tcp", addr, cliCfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	rw := bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
	for _, line := range []string{"hello", "second line", strings.Repeat("x", 5000)} {
		if got := roundTrip(t, rw, line); got != "echo: "+line {
			t.Errorf("reply %.40q, want echo of %.40q", got, line)
		}
	}
	// A reply far larger than the socket buffer, while the client waits to
	// read it: the server's writes queue ciphertext and resume on Write.
	rw.WriteString("BIG 3000000\n")
	rw.Flush()
	got, err := rw.ReadString('\n')
	if err != nil || len(got) != 3000000 {
		t.Fatalf("big reply: %d bytes, %v", len(got), err)
	}
	rw.WriteString("QUIT\n")
	rw.Flush()
	if err := wait(t, errs, "the server to close"); err != nil {
		t.Errorf("server: %v", err)
	}
	// The server's Close sent close_notify: the client sees a clean EOF.
	if _, err := rw.ReadByte(); err != io.EOF {
		t.Errorf("client read after QUIT = %v, want io.EOF", err)
	}
}

func TestSTARTTLS(t *testing.T) {
	srvCfg, cliCfg := testTLSConfigs(t)
	addr, errs := startLineServer(t, srvCfg, false)
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	rw := bufio.NewReadWriter(bufio.NewReader(raw), bufio.NewWriter(raw))
	if got := roundTrip(t, rw, "plain"); got != "echo: plain" {
		t.Fatalf("plain reply %q", got)
	}
	if got := roundTrip(t, rw, "STARTTLS"); got != "220 go ahead" {
		t.Fatalf("STARTTLS reply %q", got)
	}
	c := tls.Client(raw, cliCfg)
	if err := c.Handshake(); err != nil {
		t.Fatalf("handshake over the upgraded connection: %v", err)
	}
	rw = bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c))
	if got := roundTrip(t, rw, "secret"); got != "echo: secret" {
		t.Errorf("reply under TLS %q", got)
	}
	if st := c.ConnectionState(); !st.HandshakeComplete {
		t.Error("handshake not complete")
	}
	rw.WriteString("QUIT\n")
	rw.Flush()
	if err := wait(t, errs, "the server to close"); err != nil {
		t.Errorf("server: %v", err)
	}
}

// A client that speaks no TLS: the handshake fails, the event is resumed and
// the server's read reports the failure.
func TestTLSHandshakeFailure(t *testing.T) {
	srvCfg, _ := testTLSConfigs(t)
	addr, errs := startLineServer(t, srvCfg, true)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("EHLO this is not a client hello\r\n\r\n\r\n"))
	err = wait(t, errs, "the server's error")
	if err == nil || !strings.Contains(err.Error(), "TLS handshake") {
		t.Errorf("server error = %v, want a TLS handshake error", err)
	}
}

// Close during the handshake interrupts it; the descriptor is closed after the
// event is gone and the loop goes on.
func TestTLSCloseDuringHandshake(t *testing.T) {
	srvCfg, _ := testTLSConfigs(t)
	l := startLoop(t, Options{})
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	fd, b := fds[0], fds[1] // fd is the server's: Close must close it
	defer unix.Close(b)
	var tc *TLSConn
	onLoop(t, l, func(time.Time) {
		ev, err := l.Add(fd, Read, func(*Event, Mask, time.Time) Mask {
			t.Error("callback of a closed connection ran")
			return 0
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tc = NewTLSServer(fd, srvCfg)
		tc.Handshake(ev, Read) // the peer says nothing: the handshake waits
		if err := tc.Close(); err != nil {
			t.Errorf("Close during the handshake = %v", err)
		}
	})
	// The peer sees the descriptor go: EOF once the loop closed it.
	for {
		var buf [16]byte
		unix.Poll([]unix.PollFd{{Fd: int32(b), Events: unix.POLLIN}}, 5000)
		n, err := unix.Read(b, buf[:])
		if n == 0 && err == nil {
			break
		}
		if err != nil && err != unix.EAGAIN {
			t.Fatalf("peer read: %v", err)
		}
	}
	done := false
	for !done {
		onLoop(t, l, func(time.Time) { done = l.Live() == 0 })
	}
	if ok, err := tc.HandshakeErr(); !ok || err == nil {
		t.Errorf("HandshakeErr = %v, %v; want done with an error", ok, err)
	}
	if _, _, err := tc.Read(make([]byte, 1)); err == nil || errors.Is(err, ErrHandshake) {
		t.Errorf("Read after an interrupted handshake = %v", err)
	}
}
