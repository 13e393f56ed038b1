package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ecelerity-go/ecelerity/control"
)

// consoleBin is the ec_console binary built for the tests, which run it as a process
// the way an operator or a script does.
var consoleBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ec_console_test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	consoleBin = filepath.Join(dir, "ec_console")
	build := exec.Command("go", "build", "-o", consoleBin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building ec_console:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// shortDir returns a fresh directory with a path short enough for a unix socket.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "ecc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// testRegistry holds the commands the console is tried against.
func testRegistry(t *testing.T) *control.Registry {
	reg := control.NewRegistry()
	for _, c := range []control.Command{
		{Name: "echo", Run: func(_ *control.Ctx, args []string) (string, error) { return strings.Join(args, "|"), nil }},
		{Name: "fail", Run: func(*control.Ctx, []string) (string, error) { return "", errors.New("Reconfigure failed: bad file") }},
		{Name: "config reload", Run: func(*control.Ctx, []string) (string, error) { return "Reconfigured.\n", nil }},
		{Name: "summary", Run: func(*control.Ctx, []string) (string, error) { return "Summary Statistics\n  Uptime: 5\n", nil }},
	} {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// startServer serves testRegistry on a unix socket and returns the socket path.
func startServer(t *testing.T) string {
	t.Helper()
	s, err := control.NewServer(control.Config{Registry: testRegistry(t), Version: func() string { return "4.2.0-test" },
		Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(shortDir(t), "control.sock")
	if err := s.ListenUnix(path, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return path
}

// runConsole runs the console with args and stdin and returns its output and status.
func runConsole(t *testing.T, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(consoleBin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("running ec_console: %v", err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

func TestBatchFromArgs(t *testing.T) {
	sock := startServer(t)
	cases := []struct {
		name           string
		args           []string
		stdout, stderr string
		code           int
	}{
		{"version", []string{"version"}, "4.2.0-test\n", "", 0},
		{"one argument is a whole line", []string{"config reload"}, "Reconfigured.\n", "", 0},
		{"several arguments are quoted", []string{"echo", "a b", `c"d`}, "a b|c\"d\n", "", 0},
		{"multi-line output", []string{"summary"}, "Summary Statistics\n  Uptime: 5\n", "", 0},
		{"failing command", []string{"fail"}, "", "Reconfigure failed: bad file\n", 1},
		{"unknown command", []string{"nosuch"}, "", "Unknown command \"nosuch\"; type 'help' for a list.\n", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Commands on the command line win over stdin, which is ignored.
			stdout, stderr, code := runConsole(t, nil, "echo ignored\n", append([]string{sock}, c.args...)...)
			if stdout != c.stdout || stderr != c.stderr || code != c.code {
				t.Errorf("got stdout %q stderr %q exit %d; want %q %q %d", stdout, stderr, code, c.stdout, c.stderr, c.code)
			}
		})
	}
}

func TestBatchFromStdin(t *testing.T) {
	sock := startServer(t)
	cases := []struct {
		name, stdin, stdout, stderr string
		code                        int
	}{
		{"all good", "version\n\n# a comment\n  echo x y  \n", "4.2.0-test\nx|y\n", "", 0},
		{"a failure does not stop the rest", "fail\necho after\n", "after\n", "Reconfigure failed: bad file\n", 1},
		{"quit stops", "echo one\nquit\necho never\n", "one\n", "", 0},
		{"no final newline", "echo last", "last\n", "", 0},
		{"empty input", "", "", "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := runConsole(t, nil, c.stdin, sock)
			if stdout != c.stdout || stderr != c.stderr || code != c.code {
				t.Errorf("got stdout %q stderr %q exit %d; want %q %q %d", stdout, stderr, code, c.stdout, c.stderr, c.code)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	missing := filepath.Join(shortDir(t), "nobody.sock")
	cases := []struct {
		name, address, want string
	}{
		{"no socket", missing, "ec_console: cannot connect to " + missing + ": connect: no such file or directory"},
		{"bad address", "host:notaport", "ec_console: control: invalid address"},
	}
	for _, c := range cases {
		_, stderr, code := runConsole(t, nil, "", c.address, "version")
		if code != 2 || !strings.HasPrefix(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", c.name, code, stderr, c.want)
		}
	}
	// The default address is the daemon's: with nothing there, that path is named.
	runtime := shortDir(t)
	_, stderr, code := runConsole(t, []string{"XDG_RUNTIME_DIR=" + runtime}, "")
	want := filepath.Join(runtime, "ecelerity", "control.sock")
	if code != 2 || !strings.Contains(stderr, "cannot connect to "+want) {
		t.Errorf("default address: exit %d, stderr %q; want it to name %s", code, stderr, want)
	}
}

func TestTCPSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	serverSecret := filepath.Join(dir, "server")
	if err := os.WriteFile(serverSecret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := control.NewServer(control.Config{Version: func() string { return "4.2.0-test" },
		Logf: func(string, ...any) {}, LoginDelay: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr, err := s.ListenTCP("127.0.0.1:0", serverSecret)
	if err != nil {
		t.Fatal(err)
	}
	good, bad := filepath.Join(dir, "good"), filepath.Join(dir, "bad")
	os.WriteFile(good, []byte("s3cret\n"), 0o600)
	os.WriteFile(bad, []byte("guess\n"), 0o600)
	target := "ops@" + addr.String()

	stdout, stderr, code := runConsole(t, []string{"EC_CONSOLE_SECRET_FILE=" + good}, "", target, "version")
	if stdout != "4.2.0-test\n" || code != 0 {
		t.Errorf("secret from $EC_CONSOLE_SECRET_FILE: %q %q exit %d", stdout, stderr, code)
	}
	stdout, stderr, code = runConsole(t, nil, "", "-secret-file", good, target, "version")
	if stdout != "4.2.0-test\n" || code != 0 {
		t.Errorf("secret from -secret-file: %q %q exit %d", stdout, stderr, code)
	}
	_, stderr, code = runConsole(t, nil, "", "-secret-file", bad, target, "version")
	if code != 2 || !strings.Contains(stderr, "login to "+target+" refused") || !strings.Contains(stderr, "Not Authorized") {
		t.Errorf("wrong secret: stderr %q exit %d", stderr, code)
	}
}
