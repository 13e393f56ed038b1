package smtpproto

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseCommand checks that no input panics, that every error wraps a
// sentinel, and that an accepted path respects the RFC 5321 limits and
// parses back to itself.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"EHLO a.example", "MAIL FROM:<a@b.example> SIZE=10 BODY=8BITMIME", "RCPT TO:<Postmaster>",
		"MAIL FROM:<>", `RCPT TO:<"x\"y"@[1.2.3.4]>`, "MAIL FROM:<@a,@b:c@d>", "DATA", "QUIT",
		"STARTTLS", "VRFY x", "HELP", "NOOP", "mail from:a@b", "RCPT TO:<a@b\x00>",
	} {
		f.Add([]byte(s))
	}
	sentinels := []error{ErrUnknownCommand, ErrSyntax, ErrBadPath, ErrBadParam, ErrTooLong, ErrBadChar}
	f.Fuzz(func(t *testing.T, line []byte) {
		cmd, err := ParseCommand(line)
		if err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("ParseCommand(%q): error %v wraps no sentinel", line, err)
		}
		if cmd.Verb == VerbUnknown {
			t.Fatalf("ParseCommand(%q): unknown verb without error", line)
		}
		if cmd.Verb != MAIL && cmd.Verb != RCPT {
			return
		}
		p := cmd.Path
		if len(p.Local()) > MaxLocalPart || len(p.Domain()) > MaxDomain || len(p.Addr) > MaxPath {
			t.Fatalf("ParseCommand(%q): path %q over the limits", line, p.Addr)
		}
		if strings.ContainsAny(p.Addr, "\x00\r\n") {
			t.Fatalf("ParseCommand(%q): path %q holds a control character", line, p.Addr)
		}
		again, err := ParseCommand([]byte(cmd.Verb.String() + map[Verb]string{MAIL: " FROM:<", RCPT: " TO:<"}[cmd.Verb] + p.Addr + ">"))
		if err != nil || again.Path.Addr != p.Addr {
			t.Fatalf("path %q from %q does not parse back: %+v %v", p.Addr, line, again, err)
		}
	})
}
