// Command ecelerity is the daemon. It parses the command line and hands over to
// package server, which holds everything a test can reach without a process.
//
// Usage:
//
//	ecelerity [-c FILE] [-d] [-p PIDFILE] [-L DIR]... [--check] [-h]
//
//	-c FILE     the configuration file; without it the daemon runs on an embedded
//	            default that listens for the console on its default socket and
//	            for mail on 127.0.0.1:2525, spooling beside that socket
//	-d          stay in the foreground and log to stderr, each line prefixed with the
//	            TimestampFormat
//	-p PIDFILE  hold PIDFILE locked while running; a second daemon with the same
//	            pidfile refuses to start
//	-L DIR      a libexec directory (repeatable): .ecm module manifests, a native
//	            module X.so beside X.ecm, Lua modules in DIR/lua, scriptlet
//	            sources in DIR/scriptlets
//	--check     parse and validate the configuration and every module it loads,
//	            print every error with file:line:col and exit non-zero if any;
//	            nothing is started
//	-h          this help
//
// The daemon never forks: without -d it still runs in the foreground of its service
// manager (systemd Type=notify gets READY=1, RELOADING=1, STOPPING=1) and logs to its
// paniclog file only (to stderr when no paniclog file is configured).
//
// Environment: ECELERITY_ESMTP_LISTEN, when set, is the address the embedded
// default configuration listens for mail on instead of 127.0.0.1:2525 (a port of
// 0 picks a free one; the ready line says which). It does nothing with -c.
//
// Signals: SIGHUP reloads the configuration, SIGTERM and SIGINT shut down
// gracefully (a second one stops at once), SIGPIPE is ignored.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"

	"github.com/ecelerity-go/ecelerity/server"
)

// Exit statuses.
const (
	exitOK       = 0
	exitFailure  = 1 // start-up failed or the shutdown was not clean
	exitUsage    = 2 // bad command line
	exitConflict = 3 // another daemon holds the pidfile or the control socket
)

// envESMTPListen overrides the mail address of the embedded default configuration.
const envESMTPListen = "ECELERITY_ESMTP_LISTEN"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// libexecFlag collects repeated -L values.
type libexecFlag []string

func (l *libexecFlag) String() string     { return fmt.Sprint(*l) }
func (l *libexecFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("ecelerity", flag.ContinueOnError)
	flags.SetOutput(stderr)
	conf := flags.String("c", "", "configuration `FILE` (default: the embedded default configuration)")
	foreground := flags.Bool("d", false, "run in the foreground and log to stderr")
	pidfile := flags.String("p", "", "hold `PIDFILE` locked while running")
	var libexec libexecFlag
	flags.Var(&libexec, "L", "scan `DIR` for .ecm module manifests (repeatable)")
	check := flags.Bool("check", false, "validate the configuration and its modules, print every error, start nothing")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: ecelerity [-c FILE] [-d] [-p PIDFILE] [-L DIR]... [--check] [-h]")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "ecelerity: unexpected argument %q\n", flags.Arg(0))
		flags.Usage()
		return exitUsage
	}
	opts := server.Options{ConfigPath: *conf, Foreground: *foreground, PidFile: *pidfile, Libexec: libexec, Stderr: stderr,
		DefaultESMTPListen: os.Getenv(envESMTPListen)}
	if *check {
		if server.Check(opts, stdout) {
			return exitOK
		}
		return exitFailure
	}

	signal.Ignore(unix.SIGPIPE)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGHUP, unix.SIGTERM, unix.SIGINT)

	s, err := server.New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "ecelerity: %v\n", err)
		return exitFailure
	}
	if err := s.Run(context.Background(), sigs); err != nil {
		fmt.Fprintf(stderr, "ecelerity: %v\n", err)
		if server.IsStartupConflict(err) {
			return exitConflict
		}
		return exitFailure
	}
	return exitOK
}
