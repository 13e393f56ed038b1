// Command ec_console is the operator's console for ecelerity. It speaks the control
// protocol (package control) and nothing else, so it knows no server internals: even
// command completion comes from the server.
//
// Usage:
//
//	ec_console [-secret-file FILE] [ADDRESS [COMMAND...]]
//
// ADDRESS is a control socket path, a bare socket name (taken to be in the default
// socket directory), host:port, [v6]:port or user@host:port; without it the console
// uses the daemon's default socket (see control.DefaultAddress).
//
// With stdin on a terminal and no COMMAND the console is interactive: a banner, a
// prompt "HH:MM:SS ADDRESS> ", line editing, tab completion and a history kept in
// $XDG_STATE_HOME/ecelerity/ec_console_history (or ~/.ec_console_history), bounded to
// the last 1000 lines. `quit` or end of input leaves.
//
// Otherwise it runs in batch: the COMMAND words (one argument is sent as the command
// line as it is, so `ec_console ADDR "config reload"` works; several are quoted word by
// word), or else one command per line from stdin (blank lines and lines starting with
// '#' are skipped, `quit` stops). Output goes to stdout, errors to stderr; the exit
// status is 0 when every command succeeded, 1 when one failed, 2 when the server could
// not be reached or the arguments are wrong.
//
// TCP servers require a login. The secret is read from the file named by -secret-file
// or by $EC_CONSOLE_SECRET_FILE (for scripts; it should be readable by its owner only),
// else asked for on the terminal (/dev/tty) with echo off. The user name is the one
// written in the address, else the current user's.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"strings"

	"github.com/ecelerity-go/ecelerity/control"
	"golang.org/x/sys/unix"
)

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1 // a command failed
	exitUnreachable = 2 // no server, a refused login, or bad usage
)

// secretFileEnv names the environment variable that names a secret file.
const secretFileEnv = "EC_CONSOLE_SECRET_FILE"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is the console without the process around it; it returns the exit status.
func run(args []string, stdin *os.File, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("ec_console", flag.ContinueOnError)
	flags.SetOutput(stderr)
	secretFile := flags.String("secret-file", os.Getenv(secretFileEnv),
		"read the TCP login secret from `FILE` (default $"+secretFileEnv+"; else ask on the terminal)")
	flags.Usage = func() {
		fmt.Fprintf(stderr, "usage: ec_console [-secret-file FILE] [ADDRESS [COMMAND...]]\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUnreachable
	}
	args = flags.Args()

	var address string
	if len(args) > 0 {
		address, args = args[0], args[1:]
	}
	addr, err := control.ParseAddress(address)
	if err != nil {
		fmt.Fprintf(stderr, "ec_console: %v\n", err)
		return exitUnreachable
	}
	client, err := connect(addr, *secretFile)
	if err != nil {
		fmt.Fprintf(stderr, "ec_console: %s\n", unreachable(addr, err))
		return exitUnreachable
	}
	defer client.Close()

	switch {
	case len(args) == 1:
		return batch(client, []string{args[0]}, stdout, stderr)
	case len(args) > 1:
		line, err := control.JoinWords(args)
		if err != nil {
			fmt.Fprintf(stderr, "ec_console: %v\n", err)
			return exitUnreachable
		}
		return batch(client, []string{line}, stdout, stderr)
	case isTerminal(stdin):
		return interactive(client, addr, *secretFile, stdout, stderr)
	default:
		return batchReader(client, stdin, stdout, stderr)
	}
}

// connect dials addr, reading the secret only if the server asks for a login.
func connect(addr control.Address, secretFile string) (*control.Client, error) {
	return control.DialAddress(addr, control.DialOptions{
		Secret: func() ([]byte, error) {
			if secretFile != "" {
				return readSecretFile(secretFile)
			}
			return askSecret(fmt.Sprintf("Secret for %s: ", addr))
		},
	})
}

// unreachable says which address was tried and why it failed, with a hint for the
// usual cause.
func unreachable(addr control.Address, err error) string {
	cause := err
	var op *net.OpError
	if errors.As(err, &op) { // it names the address again; keep only the reason
		cause = op.Err
	}
	msg := fmt.Sprintf("cannot connect to %s: %v", addr, cause)
	switch {
	case errors.Is(err, control.ErrNotAuthorized):
		return fmt.Sprintf("login to %s refused: %v", addr, err)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, unix.ECONNREFUSED):
		return msg + " (is ecelerity running, and is this its control address?)"
	case errors.Is(err, fs.ErrPermission):
		return msg + " (the socket is not open to this user)"
	}
	return msg
}

// readSecretFile reads a login secret, dropping a trailing newline.
func readSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return []byte(strings.TrimRight(string(b), "\r\n")), nil
}

// printReply writes a command's output, ending it with a newline if it has none.
func printReply(w io.Writer, out string) {
	if out == "" {
		return
	}
	io.WriteString(w, out)
	if !strings.HasSuffix(out, "\n") {
		io.WriteString(w, "\n")
	}
}
