package daemontest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineWait bounds WaitLine: long enough for a daemon built with -race on a busy
// machine to start, short enough that a daemon that never prints the line fails
// the test instead of hanging it until go test's own timeout.
const lineWait = 60 * time.Second

// Process is a running daemon whose stderr is collected line by line. Its methods
// may be called from any goroutine.
type Process struct {
	// Cmd is the started command; tests read Cmd.Process (its pid, Signal) and,
	// once Done is closed, Cmd.ProcessState.
	Cmd *exec.Cmd

	mu    sync.Mutex // guards lines, grew, eof and err
	lines []string
	grew  chan struct{} // closed and replaced when a line arrives, or at EOF
	eof   bool
	err   error         // Wait's result, set before done closes
	done  chan struct{} // closed once the process has exited and been waited for
}

// Start starts cmd, which must not have its Stderr set, and collects its stderr.
// The test's cleanup kills the process if it still runs then; cleanups the caller
// registers afterwards run before that one (for a graceful stop). Call it from the
// test's goroutine: it fails t with Fatal.
func Start(t testing.TB, cmd *exec.Cmd) *Process {
	t.Helper()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Process{Cmd: cmd, grew: make(chan struct{}), done: make(chan struct{})}
	go p.read(pipe)
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// read collects r's lines until EOF, then waits for the process; it runs on its
// own goroutine, the only one that calls Cmd.Wait.
func (p *Process) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		close(p.grew)
		p.grew = make(chan struct{})
		p.mu.Unlock()
	}
	err := p.Cmd.Wait()
	p.mu.Lock()
	p.err, p.eof = err, true
	close(p.grew)
	p.mu.Unlock()
	close(p.done)
}

// WaitLine waits for a stderr line containing s at index from or later (NLines
// before an action gives the from that skips what came before it) and returns it.
// It reports false if the process exits or a minute passes without one.
func (p *Process) WaitLine(from int, s string) (string, bool) {
	deadline := time.After(lineWait)
	for {
		p.mu.Lock()
		for _, l := range p.lines[min(from, len(p.lines)):] {
			if strings.Contains(l, s) {
				p.mu.Unlock()
				return l, true
			}
		}
		ch, eof := p.grew, p.eof
		p.mu.Unlock()
		if eof {
			return "", false
		}
		select {
		case <-ch:
		case <-deadline:
			return "", false
		}
	}
}

// NLines returns how many stderr lines arrived so far.
func (p *Process) NLines() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// Stderr returns the stderr lines so far, joined by newlines.
func (p *Process) Stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines, "\n")
}

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns Cmd.Wait's result (an *exec.ExitError for a non-zero exit); it is
// nil until Done is closed.
func (p *Process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Console runs the console binary bin with args in the environment env, stdin
// reading from the given text, and returns its stdout, stderr and exit code. Call
// it from the test's goroutine: it fails t with Fatal if the console cannot run.
func Console(t testing.TB, bin string, env []string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), 0
}
