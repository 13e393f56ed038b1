package esmtp

import (
	"fmt"
	"strings"
	"testing"
)

func TestMalformedInput(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		send  string
		want  []string
	}{
		{"over-long command line", "", strings.Repeat("A", 600) + "\r\nNOOP\r\n", []string{"500 5.5.2 line too long", "250 "}},
		{"over-long line split across writes", "", strings.Repeat("NOOP ", 200) + "\r\nNOOP\r\n", []string{"500 5.5.2", "250 "}},
		{"over-long non-MAIL command", "", "NOOP " + strings.Repeat("x", 520) + "\r\nNOOP\r\n", []string{"500 5.5.2", "250 "}},
		{"nul byte", "", "EHLO a\x00b\r\nNOOP\r\n", []string{"500 5.5.2 bad character", "250 "}},
		{"bare LF command", "", "NOOP\nNOOP\r\n", []string{"500 5.5.2 bare LF", "250 "}},
		{"bare LF accepted", `Bare_LF = "accept"`, "NOOP\nNOOP\r\n", []string{"250 ", "250 "}},
		{"garbage", "", "\x01\x02\x03\r\n\xff\xfe\r\n", []string{"500 ", "500 "}},
		{"empty line", "", "\r\nNOOP\r\n", []string{"500 5.5.1", "250 "}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, conf(tc.extra), nil)
			c := s.dial()
			c.expect("220 ")
			c.send(tc.send)
			for _, w := range tc.want {
				c.expect(w)
			}
		})
	}
}

func TestTooManyErrorsDisconnects(t *testing.T) {
	s := startServer(t, baseConf, nil)
	c := s.dial()
	c.expect("220 ")
	c.send(strings.Repeat("BOGUS\r\n", maxBadCommands))
	for range maxBadCommands {
		c.expect("500 ")
	}
	c.expect("421 4.7.0")
	if !c.closed() {
		t.Fatal("session kept after too many errors")
	}
}

func TestMalformedData(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		body  string
		want  string
	}{
		{"line over 1000 octets", "", "a\r\n" + strings.Repeat("x", 1000) + "\r\nb\r\n.\r\n", "554 5.6.0 message has a line longer"},
		{"line at 1000 octets", "", strings.Repeat("x", 998) + "\r\n.\r\n", "250 2.0.0"},
		{"raised line limit", "Max_Line_Length = 5000", strings.Repeat("x", 3000) + "\r\n.\r\n", "250 2.0.0"},
		{"bare LF in body", "", "a\nb\r\n.\r\n", "554 5.6.0 bare LF"},
		{"bare LF dot is no end", "", "a\r\n.\nb\r\n.\r\n", "554 5.6.0 bare LF"},
		{"bare LF accepted", `Bare_LF = "accept"`, "a\nb\r\n.\n", "250 2.0.0"},
		{"nul bytes in body pass", "", "a\x00b\r\n.\r\n", "250 2.0.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, conf(tc.extra), nil)
			c := s.dial()
			c.expect("220 ")
			c.cmd("MAIL FROM:<a@b.example>", "250 ")
			c.cmd("RCPT TO:<u@example.com>", "250 ")
			c.cmd("DATA", "354 ")
			c.send(tc.body)
			c.expect(tc.want)
			// The session is still usable.
			c.cmd("NOOP", "250 ")
		})
	}
}

func TestManyRecipients(t *testing.T) {
	tests := []struct {
		name     string
		extra    string
		accepted int
	}{
		{"default limit", "", 1000},
		{"unlimited", "Max_Recipients_Per_Message = 0", 10000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, conf(tc.extra), nil)
			c := s.dial()
			c.expect("220 ")
			c.cmd("EHLO x", "250 ")
			c.cmd("MAIL FROM:<a@b.example>", "250 ")
			var b strings.Builder
			for i := range 10000 {
				fmt.Fprintf(&b, "RCPT TO:<u%d@example.com>\r\n", i)
			}
			// The client writes while the server replies: read concurrently.
			go c.send(b.String())
			ok, full := 0, 0
			for range 10000 {
				switch r := c.reply(); {
				case strings.HasPrefix(r[0], "250 "):
					ok++
				case strings.HasPrefix(r[0], "452 4.5.3"):
					full++
				default:
					t.Fatalf("reply %q", r)
				}
			}
			if ok != tc.accepted || ok+full != 10000 {
				t.Fatalf("%d accepted, %d refused; want %d accepted", ok, full, tc.accepted)
			}
			c.cmd("DATA", "354 ")
			c.send("x\r\n.\r\n")
			id := idOf(t, c.expect("250 2.0.0"))
			if _, rcpts, _ := s.spooled(t, id); len(rcpts) != tc.accepted {
				t.Fatalf("spooled %d recipients", len(rcpts))
			}
		})
	}
}

func TestRecipientsPerConnection(t *testing.T) {
	s := startServer(t, conf("Max_Recipients_Per_Connection = 2"), nil)
	c := s.dial()
	c.expect("220 ")
	c.cmd("MAIL FROM:<a@b.example>", "250 ")
	c.cmd("RCPT TO:<u@example.com>", "250 ")
	c.cmd("RCPT TO:<v@example.com>", "250 ")
	c.cmd("RCPT TO:<w@example.com>", "421 4.5.3")
	if !c.closed() {
		t.Fatal("session kept after Max_Recipients_Per_Connection")
	}
}

func TestReceptionsPerConnection(t *testing.T) {
	s := startServer(t, conf("Max_Receptions_Per_Connection = 1"), nil)
	c := s.dial()
	c.expect("220 ")
	c.cmd("MAIL FROM:<a@b.example>", "250 ")
	c.cmd("RCPT TO:<u@example.com>", "250 ")
	c.cmd("DATA", "354 ")
	c.send(".\r\n")
	c.expect("250 ")
	c.cmd("MAIL FROM:<a@b.example>", "421 4.7.0")
}

func TestSessionLimits(t *testing.T) {
	tests := []struct {
		name  string
		extra string
	}{
		{"per listener", `Listen "127.0.0.1:0" { Listener_Sessions = 1 }`},
		{"per peer", `Peer_Sessions = 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := conf(tc.extra)
			if strings.HasPrefix(tc.extra, "Listen") {
				text = strings.Replace(baseConf, `Listen "127.0.0.1:0" { }`, tc.extra, 1)
			}
			s := startServer(t, text, nil)
			c1 := s.dial()
			c1.expect("220 ")
			c2 := s.dial()
			c2.expect("421 4.7.0")
			if !c2.closed() {
				t.Fatal("second session kept")
			}
			c1.cmd("QUIT", "221 ")
			c1.closed()
			// Once the first is gone, a new session is welcome.
			waitFor(t, "the first session to end", func() bool {
				c3 := s.dial()
				line := c3.reply()[0]
				return strings.HasPrefix(line, "220 ")
			})
		})
	}
}

func TestDataBlockTimeout(t *testing.T) {
	s := startServer(t, conf("Data_Block_Timeout = 1"), nil)
	c := s.dial()
	c.expect("220 ")
	c.cmd("MAIL FROM:<a@b.example>", "250 ")
	c.cmd("RCPT TO:<u@example.com>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: never ends\r\n\r\nbody without the final dot\r\n")
	c.expect("421 4.4.2")
	if !c.closed() {
		t.Fatal("session kept after the timeout")
	}
	if n := s.module().Spool().Count(); n != 0 {
		t.Fatalf("a message without its final dot was spooled (%d)", n)
	}
	waitFor(t, "the session to be counted out", func() bool {
		for _, g := range s.module().Sessions() {
			if g.Sessions != 0 {
				return false
			}
		}
		return true
	})
}

func TestIdleTimeout(t *testing.T) {
	s := startServer(t, conf("Idle_Time = 1"), nil)
	c := s.dial()
	c.expect("220 ")
	c.cmd("EHLO x", "250 ")
	c.expect("421 4.4.2")
	if !c.closed() {
		t.Fatal("idle session kept")
	}
}
