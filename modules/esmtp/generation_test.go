package esmtp

import (
	"strings"
	"testing"
)

// sessionsByGen maps generation ids to their session counts.
func sessionsByGen(m *Module) map[uint64]int64 {
	out := map[uint64]int64{}
	for _, g := range m.Sessions() {
		out[g.Generation] = g.Sessions
	}
	return out
}

func currentGen(s *server) uint64 {
	g := s.mgr.Current()
	defer g.Release()
	return g.ID()
}

// TestReloadDuringPipelinedSession: a reload commits while a session is in
// the middle of a pipelined transaction. The transaction finishes on its old
// generation (the old Max_Message_Size still applies to it), the listening
// socket is not rebound, and the session's next MAIL moves it to the new
// generation without dropping it.
func TestReloadDuringPipelinedSession(t *testing.T) {
	s := startServer(t, conf("Max_Message_Size = 1000"), nil)
	addr := s.addr()
	old := currentGen(s)
	c := s.dial()
	c.expect("220 ")
	c.send("EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n")
	for _, w := range []string{"250 ", "250 ", "250 ", "354 "} {
		c.expect(w)
	}
	s.reload(conf("Max_Message_Size = 10"))
	next := currentGen(s)
	if next == old {
		t.Fatal("reload made no new generation")
	}
	if s.addr() != addr {
		t.Fatalf("reload rebound the listener: %s -> %s", addr, s.addr())
	}
	if got := sessionsByGen(s.module()); got[old] != 1 || got[next] != 0 {
		t.Fatalf("sessions per generation %v: want the session on %d", got, old)
	}
	c.send(strings.Repeat("x", 100) + "\r\n.\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n")
	c.expect("250 2.0.0") // 102 bytes: fine under the old generation's 1000
	c.expect("250 ")
	c.expect("250 ")
	c.expect("354 ")
	c.send(strings.Repeat("x", 100) + "\r\n.\r\n")
	c.expect("552 5.3.4") // now under the new generation's 10
	if got := sessionsByGen(s.module()); got[next] != 1 {
		t.Fatalf("sessions per generation %v: want the session moved to %d", got, next)
	}
	// A new connection to the same port joins the new generation too.
	c2 := dialAddr(t, addr)
	c2.expect("220 ")
	c.cmd("QUIT", "221 ")
	c2.cmd("QUIT", "221 ")
	// The old generation goes once nothing holds it.
	waitFor(t, "the old generation to be destroyed", func() bool {
		_, ok := sessionsByGen(s.module())[old]
		return !ok
	})
}

// TestReloadRemovingListenAddress: a session whose Listen address the new
// generation dropped is told Reconfig_Message at its next MAIL and closed; a
// session on an address that stays moves on.
func TestReloadRemovingListenAddress(t *testing.T) {
	two := strings.Replace(baseConf, `Listen "127.0.0.1:0" { }`, `Listen "127.0.0.1:0" { }
  Listen "[::1]:0" { }
  Reconfig_Message = "4.3.2 going away now"`, 1)
	s := startServer(t, two, nil)
	addrs := s.module().Addrs()
	if len(addrs) != 2 {
		t.Fatalf("listening on %v, want two addresses", addrs)
	}
	var v4, v6 string
	for _, a := range addrs {
		if a.Addr().Is4() {
			v4 = a.String()
		} else {
			v6 = a.String()
		}
	}
	c6 := dialAddr(t, v6)
	c6.expect("220 ")
	c6.send("EHLO x\r\n")
	if lines := c6.reply(); lines[0] != "250-mx.test says EHLO to ::1" {
		t.Fatalf("EHLO over IPv6: %q", lines)
	}
	c4 := dialAddr(t, v4)
	c4.expect("220 ")
	one := strings.Replace(two, `Listen "[::1]:0" { }`, "", 1)
	s.reload(one)
	c6.cmd("MAIL FROM:<a@b.example>", "421 4.3.2 going away now")
	if !c6.closed() {
		t.Fatal("session on a removed address kept")
	}
	c4.cmd("MAIL FROM:<a@b.example>", "250 ")
	c4.cmd("RSET", "250 ")
	waitFor(t, "the removed address to close", func() bool { return len(s.module().Addrs()) == 1 })
}

func TestReloadBadListenAddressKeepsOld(t *testing.T) {
	s := startServer(t, baseConf, nil)
	addr := s.addr()
	// Two listeners on one port: the second bind fails and the reload is
	// rejected whole.
	bad := strings.Replace(baseConf, `Listen "127.0.0.1:0" { }`, `Listen "127.0.0.1:0" { }
  Listen "`+addr+`" { }`, 1)
	if err := s.tryReload(bad); err == nil {
		t.Fatal("a reload binding a busy port succeeded")
	}
	c := dialAddr(t, addr)
	c.expect("220 ")
	c.cmd("QUIT", "221 ")
}

func TestPeerSettings(t *testing.T) {
	text := strings.Replace(baseConf, `Listen "127.0.0.1:0" { }`, `Listen "127.0.0.1:0" {
    Peer "127.0.0.0/8" { Max_Message_Size = 100 }
    Peer "127.0.0.1" { Max_Message_Size = 50 }
  }
  Peer "10.0.0.0/8" { Max_Message_Size = 1 }`, 1)
	s := startServer(t, text, nil)
	c := s.dial()
	c.expect("220 ")
	c.send("EHLO x\r\n")
	if lines := c.reply(); !strings.Contains(fmtLines(lines), "SIZE 50") {
		t.Fatalf("EHLO %q: the most specific Peer should apply", lines)
	}
}

// TestListenerOptionFallsBackToGlobal: a listener option set only at the top
// level of the file applies (Peer -> Listen -> ESMTP_Listener -> Global), and
// the listener's own setting still beats it.
func TestListenerOptionFallsBackToGlobal(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		want       string
	}{
		{"global only", "Max_Message_Size = 10\n" + baseConf, "552 5.3.4"},
		{"listener beats global", "Max_Message_Size = 10\n" + conf("Max_Message_Size = 1000"), "250 2.0.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.conf, nil)
			c := s.dial()
			c.expect("220 ")
			c.send("EHLO x\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@example.com>\r\nDATA\r\n")
			for _, w := range []string{"250 ", "250 ", "250 ", "354 "} {
				c.expect(w)
			}
			c.send(strings.Repeat("x", 100) + "\r\n.\r\n")
			c.expect(tc.want)
			c.cmd("QUIT", "221 ")
		})
	}
}
