package smtpproto

import (
	"errors"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		verb   Verb
		arg    string
		addr   string
		local  string
		domain string
		size   int64
		body   Body
		err    error
	}{
		{name: "ehlo", line: "EHLO client.example\r\n", verb: EHLO, arg: "client.example", size: -1},
		{name: "helo lower case", line: "helo x", verb: HELO, arg: "x", size: -1},
		{name: "ehlo address literal", line: "EHLO [127.0.0.1]", verb: EHLO, arg: "[127.0.0.1]", size: -1},
		{name: "ehlo without domain", line: "EHLO", err: ErrSyntax},
		{name: "ehlo blank domain", line: "EHLO   ", err: ErrSyntax},
		{name: "mail", line: "MAIL FROM:<a@b.example>", verb: MAIL, addr: "a@b.example", local: "a", domain: "b.example", size: -1},
		{name: "mail null path", line: "MAIL FROM:<>", verb: MAIL, size: -1},
		{name: "mail space after colon", line: "mail from: <a@b.example>", verb: MAIL, addr: "a@b.example", local: "a", domain: "b.example", size: -1},
		{name: "mail bare address", line: "MAIL FROM:a@b.example", verb: MAIL, addr: "a@b.example", local: "a", domain: "b.example", size: -1},
		{name: "mail size and body", line: "MAIL FROM:<a@b.example> SIZE=1024 BODY=8BITMIME", verb: MAIL, addr: "a@b.example", local: "a", domain: "b.example", size: 1024, body: Body8BitMIME},
		{name: "mail body 7bit", line: "MAIL FROM:<a@b.example> body=7bit", verb: MAIL, addr: "a@b.example", local: "a", domain: "b.example", size: -1, body: Body7Bit},
		{name: "mail size not a number", line: "MAIL FROM:<a@b.example> SIZE=x", err: ErrBadParam},
		{name: "mail size twice", line: "MAIL FROM:<a@b.example> SIZE=1 SIZE=2", err: ErrBadParam},
		{name: "mail size without value", line: "MAIL FROM:<a@b.example> SIZE", err: ErrBadParam},
		{name: "mail unknown param", line: "MAIL FROM:<a@b.example> RET=FULL", err: ErrBadParam},
		{name: "mail bad body", line: "MAIL FROM:<a@b.example> BODY=BINARYMIME", err: ErrBadParam},
		{name: "mail source route", line: "MAIL FROM:<@relay.example,@r2.example:a@b.example>", verb: MAIL, addr: "a@b.example", local: "a", domain: "b.example", size: -1},
		{name: "mail quoted local", line: `MAIL FROM:<"a b>c"@b.example>`, verb: MAIL, addr: `"a b>c"@b.example`, local: `"a b>c"`, domain: "b.example", size: -1},
		{name: "mail without from", line: "MAIL <a@b.example>", err: ErrSyntax},
		{name: "mail missing bracket", line: "MAIL FROM:<a@b.example", err: ErrBadPath},
		{name: "mail no domain", line: "MAIL FROM:<a>", err: ErrBadPath},
		{name: "mail bad domain", line: "MAIL FROM:<a@-b.example>", err: ErrBadPath},
		{name: "mail double dot", line: "MAIL FROM:<a..b@b.example>", err: ErrBadPath},
		{name: "mail text after bracket", line: "MAIL FROM:<a@b.example>x", err: ErrBadPath},
		{name: "mail local too long", line: "MAIL FROM:<" + strings.Repeat("a", 65) + "@b.example>", err: ErrTooLong},
		{name: "mail path too long", line: "MAIL FROM:<a@" + strings.Repeat("b.", 130) + "example>", err: ErrTooLong},
		{name: "rcpt", line: "RCPT TO:<u@d.example>", verb: RCPT, addr: "u@d.example", local: "u", domain: "d.example", size: -1},
		{name: "rcpt postmaster", line: "RCPT TO:<Postmaster>", verb: RCPT, addr: "Postmaster", local: "Postmaster", size: -1},
		{name: "rcpt null path", line: "RCPT TO:<>", err: ErrBadPath},
		{name: "rcpt param", line: "RCPT TO:<u@d.example> NOTIFY=NEVER", err: ErrBadParam},
		{name: "rcpt address literal", line: "RCPT TO:<u@[192.0.2.1]>", verb: RCPT, addr: "u@[192.0.2.1]", local: "u", domain: "[192.0.2.1]", size: -1},
		{name: "data", line: "DATA", verb: DATA, size: -1},
		{name: "data with argument", line: "DATA x", err: ErrSyntax},
		{name: "rset", line: "RSET", verb: RSET, size: -1},
		{name: "quit trailing space", line: "QUIT ", verb: QUIT, size: -1},
		{name: "noop argument", line: "NOOP hello", verb: NOOP, arg: "hello", size: -1},
		{name: "vrfy", line: "VRFY root", verb: VRFY, arg: "root", size: -1},
		{name: "vrfy without argument", line: "VRFY", err: ErrSyntax},
		{name: "help", line: "HELP", verb: HELP, size: -1},
		{name: "starttls", line: "StartTLS", verb: STARTTLS, size: -1},
		{name: "expn", line: "EXPN list", verb: EXPN, arg: "list", size: -1},
		{name: "unknown", line: "BDAT 10", err: ErrUnknownCommand},
		{name: "empty", line: "", err: ErrUnknownCommand},
		{name: "nul byte", line: "EHLO a\x00b", err: ErrBadChar},
		{name: "bare cr inside", line: "NOOP a\rb", err: ErrBadChar},
		{name: "delete char", line: "NOOP \x7f", err: ErrBadChar},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd, err := ParseCommand([]byte(tc.line))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("ParseCommand(%q) error = %v, want %v", tc.line, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCommand(%q): %v", tc.line, err)
			}
			if cmd.Verb != tc.verb || cmd.Arg != tc.arg || cmd.Path.Addr != tc.addr || cmd.Size != tc.size || cmd.Body != tc.body {
				t.Fatalf("ParseCommand(%q) = %+v", tc.line, cmd)
			}
			if cmd.Path.Local() != tc.local || cmd.Path.Domain() != tc.domain {
				t.Fatalf("ParseCommand(%q): local %q domain %q, want %q %q", tc.line, cmd.Path.Local(), cmd.Path.Domain(), tc.local, tc.domain)
			}
		})
	}
}

func TestNullPath(t *testing.T) {
	cmd, err := ParseCommand([]byte("MAIL FROM:<>"))
	if err != nil || !cmd.Path.IsNull() || cmd.Path.Local() != "" || cmd.Path.Domain() != "" {
		t.Fatalf("null path: %+v %v", cmd, err)
	}
}

func TestAppendReply(t *testing.T) {
	tests := []struct {
		name     string
		code     int
		enhanced string
		text     string
		want     string
	}{
		{"single", 250, "2.0.0", "ok", "250 2.0.0 ok\r\n"},
		{"no enhanced", 220, "", "host ESMTP", "220 host ESMTP\r\n"},
		{"multi-line", 250, "", "host says EHLO\nPIPELINING\nSIZE", "250-host says EHLO\r\n250-PIPELINING\r\n250 SIZE\r\n"},
		{"crlf in text", 214, "2.0.0", "a\r\nb", "214-2.0.0 a\r\n214 2.0.0 b\r\n"},
		{"empty text", 250, "2.0.0", "", "250 2.0.0\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(AppendReply(nil, tc.code, tc.enhanced, tc.text)); got != tc.want {
				t.Fatalf("AppendReply = %q, want %q", got, tc.want)
			}
		})
	}
	r := Reply{Code: 550, Enhanced: "5.7.1", Text: "relaying denied"}
	if got := string(r.Append(nil, false)); got != "550 relaying denied\r\n" {
		t.Fatalf("Reply.Append without enhanced = %q", got)
	}
}

func TestClass(t *testing.T) {
	for code, want := range map[int]byte{250: '2', 354: '2', 421: '4', 550: '5'} {
		if got := Class(code); got != want {
			t.Errorf("Class(%d) = %c, want %c", code, got, want)
		}
	}
}

func BenchmarkParseCommand(b *testing.B) {
	line := []byte("MAIL FROM:<sender@example.com> SIZE=1024 BODY=8BITMIME")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCommand(line); err != nil {
			b.Fatal(err)
		}
	}
}
