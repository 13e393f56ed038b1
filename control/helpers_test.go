package control_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/control"
)

// shortDir returns a fresh directory with a short path: a unix socket path must fit in
// 108 bytes, and t.TempDir's include the test name.
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// logBuffer collects Logf output.
type logBuffer struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuffer) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (l *logBuffer) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// startUnix starts a server on a socket in a fresh directory and returns it with the
// socket path; the server is closed at the end of the test.
func startUnix(t testing.TB, cfg control.Config) (*control.Server, string) {
	t.Helper()
	if cfg.Logf == nil {
		cfg.Logf = (&logBuffer{}).Logf
	}
	s, err := control.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(shortDir(t), "control.sock")
	if err := s.ListenUnix(path, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func dial(t testing.TB, address string) *control.Client {
	t.Helper()
	c, err := control.Dial(address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawConn is a protocol-level connection for tests that must send what Client would
// refuse to.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, network, address string) *rawConn {
	t.Helper()
	c, err := net.Dial(network, address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	// A guard against a hung test, not a timing assertion.
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{Conn: c, br: bufio.NewReader(c)}
}

func (r *rawConn) line(t testing.TB) string {
	t.Helper()
	s, err := r.br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading a line: %v (got %q)", err, s)
	}
	return strings.TrimSuffix(s, "\n")
}

// reply reads one reply frame.
func (r *rawConn) reply(t testing.TB) (string, string) {
	t.Helper()
	header := r.line(t)
	word, count, _ := strings.Cut(header, " ")
	n := 0
	for _, c := range count {
		n = n*10 + int(c-'0')
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r.br, buf); err != nil {
		t.Fatalf("reading %d body bytes: %v", n, err)
	}
	return word, string(buf)
}

// stubModules routes `name[:instance] args...` for the names it holds.
type stubModules struct {
	commands map[string]control.Command
}

func (m *stubModules) Route(module, instance string, args []string) (control.Command, bool) {
	c, ok := m.commands[module]
	if !ok {
		return control.Command{}, false
	}
	run := c.Run
	c.Run = func(ctx *control.Ctx, a []string) (string, error) {
		out, err := run(ctx, append([]string{module, instance}, a...))
		return out, err
	}
	return c, true
}

func (m *stubModules) Names() []string {
	var out []string
	for n := range m.commands {
		out = append(out, n)
	}
	return out
}

func writeFile(path, content string, mode os.FileMode) error {
	return os.WriteFile(path, []byte(content), mode)
}
