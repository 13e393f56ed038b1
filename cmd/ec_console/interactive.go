package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ecelerity-go/ecelerity/control"
	"github.com/peterh/liner"
)

// bannerRule frames the banner, 46 '#' as Momentum's console draws it.
var bannerRule = strings.Repeat("#", 46)

// session is one interactive console. Everything runs on the main goroutine, liner's
// completion callback included.
type session struct {
	addr       control.Address
	secretFile string
	client     *control.Client // nil after the connection broke, until the next command
	stdout     io.Writer
	stderr     io.Writer
}

// interactive runs the prompt loop until quit or end of input.
func interactive(c *control.Client, addr control.Address, secretFile string, stdout, stderr io.Writer) int {
	s := &session{addr: addr, secretFile: secretFile, client: c, stdout: stdout, stderr: stderr}
	version, err := c.Do("version")
	if err != nil {
		version = "unknown (" + err.Error() + ")"
	}
	version, _, _ = strings.Cut(version, "\n")
	fmt.Fprintf(stdout, "%s\n# ecelerity version: %s\n# connected to %s\n# 'help' lists the commands, 'quit' leaves.\n%s\n",
		bannerRule, version, addr, bannerRule)

	ln := liner.NewLiner()
	defer ln.Close()
	ln.SetCtrlCAborts(true)
	ln.SetTabCompletionStyle(liner.TabPrints)
	ln.SetWordCompleter(s.complete)
	history := historyPath()
	if history != "" {
		if f, err := os.Open(history); err == nil {
			ln.ReadHistory(f)
			f.Close()
		}
	}

	for {
		prompt := time.Now().Format("15:04:05") + " " + addr.String() + "> "
		line, err := ln.Prompt(prompt)
		if errors.Is(err, liner.ErrPromptAborted) {
			continue
		}
		if err != nil { // io.EOF (^D) or a terminal error
			fmt.Fprintln(stdout)
			return exitOK
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		ln.AppendHistory(line)
		if history != "" {
			if err := saveHistory(ln, history); err != nil {
				fmt.Fprintf(stderr, "ec_console: saving history: %v\n", err)
				history = "" // say it once
			}
		}
		if line == "quit" {
			return exitOK
		}
		s.do(line)
	}
}

// do runs one command, reconnecting first if the previous one lost the connection
// (the daemon restarted, say).
func (s *session) do(line string) {
	if s.client == nil {
		c, err := connect(s.addr, s.secretFile)
		if err != nil {
			fmt.Fprintf(s.stderr, "ec_console: %s\n", unreachable(s.addr, err))
			return
		}
		s.client = c
	}
	out, err := s.client.Do(line)
	var re *control.ReplyError
	switch {
	case err == nil:
		printReply(s.stdout, out)
	case errors.As(err, &re):
		printReply(s.stderr, re.Message)
	default:
		fmt.Fprintf(s.stderr, "ec_console: %v (will reconnect on the next command)\n", err)
		s.client.Close()
		s.client = nil
	}
}

// complete is liner's word completer: it asks the server for the candidates of the
// word under the cursor given the words before it.
func (s *session) complete(line string, pos int) (head string, completions []string, tail string) {
	before := line[:pos]
	start := strings.LastIndexAny(before, " \t") + 1
	head, partial, tail := before[:start], before[start:], line[pos:]
	if s.client == nil {
		return head, nil, tail
	}
	words, err := control.SplitWords(head)
	if err != nil {
		return head, nil, tail
	}
	cands, err := s.client.Complete(append(words, partial))
	if err != nil {
		return head, nil, tail
	}
	if len(cands) == 1 {
		cands[0] += " "
	}
	return head, cands, tail
}

// historyPath returns where the history is kept, creating its directory: under
// $XDG_STATE_HOME when set, else in the home directory; "" when neither is known.
func historyPath() string {
	if dir := os.Getenv("XDG_STATE_HOME"); dir != "" {
		dir = filepath.Join(dir, "ecelerity")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return ""
		}
		return filepath.Join(dir, "ec_console_history")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".ec_console_history")
}

// saveHistory writes the history (liner keeps at most liner.HistoryLimit lines) to a
// temporary file and renames it into place, so that two consoles leaving at once never
// leave a torn file. It is written after every command so that a killed console loses
// nothing.
func saveHistory(ln *liner.State, path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ec_console_history")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if _, err := ln.WriteHistory(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
