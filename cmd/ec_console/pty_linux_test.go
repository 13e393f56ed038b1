package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/control"
	"golang.org/x/sys/unix"
)

// terminal is a console process running on a pseudo-terminal, with everything it has
// written collected for inspection.
type terminal struct {
	t      *testing.T
	master *os.File
	cmd    *exec.Cmd
	exited chan error

	mu      sync.Mutex
	out     strings.Builder // guarded by mu; "\r" removed, as the tty adds one per newline
	changed chan struct{}   // signalled (without blocking) whenever out grows
}

// startTerminal runs ec_console with args on a fresh pty, as its controlling terminal.
func startTerminal(t *testing.T, env []string, args ...string) *terminal {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", os.NewSyscallError("open /dev/ptmx", err))
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(os.NewSyscallError("ioctl TIOCSPTLCK", err))
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(os.NewSyscallError("ioctl TIOCGPTN", err))
	}
	// liner falls back to plain reading on a terminal without a width.
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 200}); err != nil {
		t.Fatal(os.NewSyscallError("ioctl TIOCSWINSZ", err))
	}
	master := os.NewFile(uintptr(fd), "/dev/ptmx")
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		master.Close()
		t.Fatal(err)
	}
	defer slave.Close() // the child has its own copies

	cmd := exec.Command(consoleBin, args...)
	cmd.Env = append(os.Environ(), append([]string{"TERM=xterm"}, env...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// A session of its own with the pty as controlling terminal, as a login shell
	// would give it (/dev/tty then works). exec.Cmd takes the syscall package's type,
	// which unix.SysProcAttr names.
	cmd.SysProcAttr = &unix.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		master.Close()
		t.Fatal(err)
	}
	term := &terminal{t: t, master: master, cmd: cmd, exited: make(chan error, 1), changed: make(chan struct{}, 1)}
	go term.pump()
	go func() { term.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-term.exited
		master.Close()
	})
	return term
}

// pump copies the console's output into out until the pty closes.
func (term *terminal) pump() {
	buf := make([]byte, 4096)
	for {
		n, err := term.master.Read(buf)
		if n > 0 {
			term.mu.Lock()
			term.out.WriteString(strings.ReplaceAll(string(buf[:n]), "\r", ""))
			term.mu.Unlock()
			select {
			case term.changed <- struct{}{}:
			default:
			}
		}
		if err != nil {
			return
		}
	}
}

// mark returns the current length of the output, for expect to look after.
func (term *terminal) mark() int {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.Len()
}

// expect waits until the output after mark matches re and returns the match.
func (term *terminal) expect(from int, re string) string {
	term.t.Helper()
	pattern := regexp.MustCompile(re)
	// A guard against a hung console, not a timing assertion.
	guard := time.After(20 * time.Second)
	for {
		term.mu.Lock()
		out := term.out.String()[from:]
		term.mu.Unlock()
		if m := pattern.FindString(out); m != "" {
			return m
		}
		select {
		case <-term.changed:
		case <-guard:
			term.t.Fatalf("no %q in the console's output:\n%q", re, out)
		}
	}
}

// output returns everything the console wrote so far.
func (term *terminal) output() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

func (term *terminal) send(keys string) {
	term.t.Helper()
	if _, err := term.master.WriteString(keys); err != nil {
		term.t.Fatal(err)
	}
}

// wait waits for the console to exit and checks its status.
func (term *terminal) wait(wantCode int) {
	term.t.Helper()
	select {
	case <-term.exited:
		term.exited <- nil // for the cleanup
	case <-time.After(20 * time.Second):
		term.t.Fatal("console did not exit")
	}
	if code := term.cmd.ProcessState.ExitCode(); code != wantCode {
		term.t.Errorf("exit status %d, want %d", code, wantCode)
	}
}

func TestInteractive(t *testing.T) {
	sock := startServer(t)
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_STATE_HOME="}
	prompt := `\d\d:\d\d:\d\d ` + regexp.QuoteMeta(sock) + `> `

	// First run: banner, prompt, completion, commands; history is written.
	term := startTerminal(t, env, sock)
	banner := strings.Repeat("#", 46) + "\n# ecelerity version: 4.2.0-test\n"
	term.expect(0, regexp.QuoteMeta(banner))
	term.expect(0, `\n`+strings.Repeat("#", 46)+`\n`)
	term.expect(0, prompt)

	m := term.mark()
	term.send("ver\t") // only the server knows "version"
	term.expect(m, `version `)
	m = term.mark()
	term.send("\r")
	term.expect(m, `\n4\.2\.0-test\n`+prompt)

	m = term.mark()
	term.send("conf\t")
	term.expect(m, `config `)
	term.send("rel\t\r") // sub-command completed too
	term.expect(m, `Reconfigured\.\n`+prompt)

	m = term.mark()
	term.send("fail\r")
	term.expect(m, `Reconfigure failed: bad file\n`+prompt)
	term.send("echo hello\r")
	term.expect(m, `\nhello\n`+prompt)
	term.send("quit\r")
	term.wait(0)

	history, err := os.ReadFile(filepath.Join(home, ".ec_console_history"))
	if err != nil {
		t.Fatal(err)
	}
	want := "version\nconfig reload\nfail\necho hello\nquit\n"
	if string(history) != want {
		t.Errorf("history file = %q, want %q", history, want)
	}

	// Second run: the history is back (two steps up is "echo hello"); ^D leaves.
	term = startTerminal(t, env, sock)
	term.expect(0, prompt)
	m = term.mark()
	term.send("\x1b[A\x1b[A\r")
	term.expect(m, `\nhello\n`+prompt)
	term.send("\x04")
	term.wait(0)
}

func TestInteractiveHistoryUnderXDGState(t *testing.T) {
	sock := startServer(t)
	state := t.TempDir()
	term := startTerminal(t, []string{"HOME=" + t.TempDir(), "XDG_STATE_HOME=" + state}, sock)
	term.expect(0, `> `)
	term.send("echo x\rquit\r")
	term.wait(0)
	history, err := os.ReadFile(filepath.Join(state, "ecelerity", "ec_console_history"))
	if err != nil || string(history) != "echo x\nquit\n" {
		t.Errorf("history = %q, %v", history, err)
	}
}

func TestSecretAskedWithoutEcho(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := control.NewServer(control.Config{Version: func() string { return "4.2.0-test" }, Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr, err := s.ListenTCP("127.0.0.1:0", secretFile)
	if err != nil {
		t.Fatal(err)
	}
	target := "ops@" + addr.String()
	term := startTerminal(t, []string{"HOME=" + dir, "EC_CONSOLE_SECRET_FILE="}, target)
	term.expect(0, regexp.QuoteMeta("Secret for "+target+": "))
	m := term.mark()
	term.send("s3cret\r")
	term.expect(m, `# ecelerity version: 4\.2\.0-test`)
	term.expect(m, regexp.QuoteMeta(target)+`> `)
	if out := term.output(); strings.Contains(out, "s3cret") {
		t.Errorf("the secret was echoed:\n%q", out)
	}
	term.send("quit\r")
	term.wait(0)
}
