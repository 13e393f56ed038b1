package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ecelerity-go/ecelerity/control"
)

// batch runs the given command lines in order and returns the exit status. A failed
// command is reported and the next one runs; a broken connection stops the batch.
func batch(c *control.Client, lines []string, stdout, stderr io.Writer) int {
	status := exitOK
	for _, line := range lines {
		out, err := c.Do(line)
		var re *control.ReplyError
		switch {
		case err == nil:
			printReply(stdout, out)
		case errors.As(err, &re):
			printReply(stderr, re.Message)
			status = exitFailed
		default:
			fmt.Fprintf(stderr, "ec_console: %s: %v\n", line, err)
			return exitUnreachable
		}
	}
	return status
}

// batchReader runs one command per line of r; see the command's doc for the rules.
func batchReader(c *control.Client, r io.Reader, stdout, stderr io.Writer) int {
	status := exitOK
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), control.MaxRequestLine)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if line == "quit" {
			break
		}
		switch s := batch(c, []string{line}, stdout, stderr); s {
		case exitUnreachable:
			return s
		case exitFailed:
			status = s
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "ec_console: reading commands: %v\n", err)
		return exitUnreachable
	}
	return status
}
