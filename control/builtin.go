package control

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// CompleteCommand is the hidden command that returns completion candidates; see the
// package comment.
const CompleteCommand = "__complete"

// builtins returns the commands every server has.
func (s *Server) builtins() []Command {
	return []Command{
		{
			Name:     "help",
			Usage:    "help [command]",
			Help:     "List the commands, or show the help of one.",
			Run:      s.runHelp,
			Complete: s.complete,
		},
		{
			Name: "version",
			Help: "Show the server's version.",
			Run:  func(*Ctx, []string) (string, error) { return s.cfg.Version(), nil },
		},
		{
			Name: "pid",
			Help: "Show the server's process id.",
			Run: func(*Ctx, []string) (string, error) {
				return strconv.Itoa(os.Getpid()), nil
			},
		},
		{
			Name: "quit",
			Help: "Close the connection (the console exits).",
			Run:  func(*Ctx, []string) (string, error) { return "", nil },
		},
		{
			Name:   CompleteCommand,
			Usage:  CompleteCommand + " [word...] partial",
			Help:   "List completions of the last word, one per line.",
			Hidden: true,
			Run: func(_ *Ctx, args []string) (string, error) {
				return strings.Join(s.complete(args), "\n"), nil
			},
		},
	}
}

// runHelp lists the visible commands with the first line of their help, or shows one
// command's usage and help. It runs through the Executor, as it may ask Modules.
func (s *Server) runHelp(_ *Ctx, args []string) (string, error) {
	if len(args) == 0 {
		var visible []Command
		width := 0
		for _, c := range s.reg.Commands() {
			if !c.Hidden {
				visible = append(visible, c)
				width = max(width, len(c.Usage))
			}
		}
		var b strings.Builder
		b.WriteString("Available commands:\n")
		for _, c := range visible {
			first, _, _ := strings.Cut(c.Help, "\n")
			fmt.Fprintf(&b, "  %-*s  %s\n", width, c.Usage, first)
		}
		if s.cfg.Modules != nil {
			if names := s.cfg.Modules.Names(); len(names) > 0 {
				names = slices.Sorted(slices.Values(names))
				fmt.Fprintf(&b, "Modules taking commands (module[:instance] command...):\n  %s\n", strings.Join(names, " "))
			}
		}
		return b.String(), nil
	}
	c, n, found := s.reg.Lookup(args)
	if found && n == len(args) && !c.Hidden {
		return fmt.Sprintf("usage: %s\n%s\n", c.Usage, c.Help), nil
	}
	if !found {
		if c, ok := s.route(args); ok {
			return fmt.Sprintf("usage: %s\n%s\n", c.Usage, c.Help), nil
		}
	}
	return "", fmt.Errorf("No help for %q.", strings.Join(args, " "))
}

// complete returns the sorted candidates for the last of words given the ones before
// it: the next word of command names, module names in first position, and what the
// matched command's (or module's) Complete offers. It runs through the Executor.
func (s *Server) complete(words []string) []string {
	if len(words) == 0 {
		words = []string{""}
	}
	prefix, partial := words[:len(words)-1], words[len(words)-1]
	out := s.reg.nameCandidates(prefix, partial)

	var cmd Command
	var found bool
	var rest []string
	if c, n, ok := s.reg.Lookup(prefix); ok {
		cmd, found, rest = c, true, prefix[n:]
	} else if len(prefix) > 0 {
		cmd, found = s.route(prefix)
		rest = prefix[1:]
	} else if s.cfg.Modules != nil {
		for _, name := range s.cfg.Modules.Names() {
			if hasPrefixFold(name, partial) {
				out = append(out, name)
			}
		}
	}
	if found && cmd.Complete != nil && !cmd.Hidden {
		for _, c := range s.safeComplete(cmd, append(slices.Clip(rest), partial)) {
			if hasPrefixFold(c, partial) {
				out = append(out, c)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// safeComplete calls cmd.Complete, turning a panic into no candidates.
func (s *Server) safeComplete(cmd Command, args []string) (out []string) {
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logf("control: panic completing %q: %v", cmd.Name, p)
			out = nil
		}
	}()
	return cmd.Complete(args)
}
