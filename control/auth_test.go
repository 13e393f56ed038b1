package control_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/control"
)

// startTCP starts a server on a loopback port with a secret file holding secret.
func startTCP(t *testing.T, cfg control.Config, secret string) (*control.Server, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := control.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	addr, err := s.ListenTCP("127.0.0.1:0", file)
	if err != nil {
		t.Fatal(err)
	}
	return s, addr.String()
}

func secretFunc(s string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(s), nil }
}

func TestTCPRightSecret(t *testing.T) {
	var audit strings.Builder
	reg := control.NewRegistry()
	must(t, reg.Register(control.Command{Name: "shutdown", Mutating: true,
		Run: func(ctx *control.Ctx, _ []string) (string, error) { return "bye " + ctx.User, nil }}))
	_, addr := startTCP(t, control.Config{Registry: reg, Audit: &audit, Version: func() string { return "v1" }}, "s3cret")
	c, err := control.DialWith("ops@"+addr, control.DialOptions{Secret: secretFunc("s3cret")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, err := c.Do("version"); err != nil || got != "v1" {
		t.Errorf("version = %q, %v", got, err)
	}
	if got, err := c.Do("shutdown"); err != nil || got != "bye ops" {
		t.Errorf("shutdown = %q, %v", got, err)
	}
	if !strings.Contains(audit.String(), ` user="ops" command="shutdown" result=ok`) ||
		!strings.Contains(audit.String(), `peer="127.0.0.1:`) {
		t.Errorf("audit line lacks the TCP peer and user: %s", audit.String())
	}
}

func TestTCPUnauthenticatedRefused(t *testing.T) {
	_, addr := startTCP(t, control.Config{}, "s3cret")
	r := dialRaw(t, "tcp", addr)
	greeting := r.line(t)
	if !strings.HasPrefix(greeting, "EC-CONTROL 1 AUTH ") || len(greeting) != len("EC-CONTROL 1 AUTH ")+64 {
		t.Fatalf("greeting %q, want a 64-hex-digit challenge", greeting)
	}
	r.Write([]byte("version\n"))
	if word, body := r.reply(t); word != "ERR" || body != "Not Authorized" {
		t.Errorf("command before login: %s %q, want ERR Not Authorized", word, body)
	}
	if _, err := r.br.ReadByte(); err == nil {
		t.Error("connection still open after an unauthenticated command")
	}

	// A client with no secret cannot log in at all.
	if _, err := control.Dial(addr); !errors.Is(err, control.ErrNotAuthorized) {
		t.Errorf("Dial without a secret: err = %v, want ErrNotAuthorized", err)
	}
	// Each connection gets its own challenge, so an answer cannot be replayed.
	other := dialRaw(t, "tcp", addr).line(t)
	if other == greeting {
		t.Error("two connections got the same challenge")
	}
}

func TestTCPWrongSecretDelayed(t *testing.T) {
	logs := &logBuffer{}
	s, addr := startTCP(t, control.Config{Logf: logs.Logf, LoginDelay: 3 * time.Second}, "s3cret")
	delayed, release := make(chan time.Duration, 1), make(chan struct{})
	control.SetLoginDelay(s, func(_ context.Context, d time.Duration) {
		delayed <- d
		<-release
	})
	result := make(chan error, 1)
	go func() {
		c, err := control.DialWith("mallory@"+addr, control.DialOptions{Secret: secretFunc("guess")})
		if err == nil {
			c.Close()
		}
		result <- err
	}()
	select {
	case d := <-delayed:
		if d != 3*time.Second {
			t.Errorf("refusal delayed by %v, want the configured 3s", d)
		}
	case err := <-result:
		t.Fatalf("wrong secret answered without a delay: %v", err)
	}
	// The delay is running: the client has no answer yet.
	select {
	case err := <-result:
		t.Fatalf("login answered before the delay ended: %v", err)
	default:
	}
	close(release)
	if err := <-result; !errors.Is(err, control.ErrNotAuthorized) || !strings.Contains(err.Error(), "Not Authorized") {
		t.Errorf("wrong secret: err = %v, want ErrNotAuthorized", err)
	}
	if !logs.contains(`failed login from 127.0.0.1:`) || !logs.contains(`"mallory"`) {
		t.Errorf("failed login not logged with peer and user: %q", logs.lines)
	}
}

func TestTCPSecretFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode) // WriteFile's mode is filtered by the umask
		return p
	}
	cases := []struct{ name, file string }{
		{"none", ""},
		{"missing", filepath.Join(dir, "missing")},
		{"empty", write("empty", "\n", 0o600)},
		{"world readable", write("open", "s3cret", 0o644)},
		{"group readable", write("group", "s3cret", 0o640)},
	}
	s, _ := control.NewServer(control.Config{})
	defer s.Close()
	for _, c := range cases {
		if _, err := s.ListenTCP("127.0.0.1:0", c.file); !errors.Is(err, control.ErrSecret) {
			t.Errorf("%s: err = %v, want ErrSecret", c.name, err)
		}
	}
}

func TestTCPLoopbackByDefault(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	must(t, os.WriteFile(file, []byte("x"), 0o600))
	s, _ := control.NewServer(control.Config{})
	defer s.Close()
	for _, address := range []string{":0", "0"} {
		addr, err := s.ListenTCP(address, file)
		if err != nil {
			t.Fatal(err)
		}
		if ip := addr.(*net.TCPAddr).IP; !ip.IsLoopback() {
			t.Errorf("ListenTCP(%q) bound %v, want loopback", address, ip)
		}
	}
	for _, bad := range []string{"localhost:x", "1.2.3.4:99999", "[::1"} {
		if _, err := s.ListenTCP(bad, file); !errors.Is(err, control.ErrBadAddress) {
			t.Errorf("ListenTCP(%q): err = %v, want ErrBadAddress", bad, err)
		}
	}
}
