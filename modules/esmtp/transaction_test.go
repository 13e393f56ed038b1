package esmtp

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// BenchmarkTransaction is one mail transaction on a kept session, the way
// Postfix's smtp-source -d sends it: MAIL, RCPT, DATA, the body and the final
// dot, each answered before the next goes out. The spool has Force_Fsync off
// (it writes on the loop), as in the tmpfs cells of bench/smtp, or on (the
// durable group commit of the disk cells). The client is
// a plain socket that allocates nothing per transaction, so allocs/op is the
// listener's (and the loop's) own. bench/smtp runs the same exchange against
// smtp-sink and go-smtp with real clients; this one is for what changes in
// the listener's code, without the noise of a second process.
func BenchmarkTransaction(b *testing.B) {
	cases := []struct {
		name  string
		size  int
		fsync bool
	}{
		{"1KiB", 1 << 10, false},
		{"100KiB", 100 << 10, false},
		// The durable spool: the commit goes to the SPOOLIN pool and comes
		// back; ns/op is mostly the disk's flush.
		{"1KiB-fsync", 1 << 10, true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			size := tc.size
			s := startServer(b, fmt.Sprintf("Force_Fsync = %v\n", tc.fsync)+conf("Max_Message_Size = 0"), nil)
			c := dialBench(b, s.addr())
			c.expect('2') // greeting
			c.roundTrip([]byte("EHLO client.example\r\n"), '2')

			mail := []byte("MAIL FROM:<sender@client.example>\r\n")
			rcpt := []byte("RCPT TO:<user@example.com>\r\n")
			data := []byte("DATA\r\n")
			body := benchBody(size)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c.roundTrip(mail, '2')
				c.roundTrip(rcpt, '2')
				c.roundTrip(data, '3')
				c.roundTrip(body, '2')
			}
			b.StopTimer()
			if got := s.module().Spool().Count(); got < b.N {
				b.Fatalf("spool holds %d messages after %d transactions", got, b.N)
			}
		})
	}
}

// benchBody is a message of about size bytes, headers and 78-character lines,
// ending with the final dot.
func benchBody(size int) []byte {
	var buf bytes.Buffer
	buf.WriteString("From: <sender@client.example>\r\nTo: <user@example.com>\r\n")
	buf.WriteString("Subject: benchmark\r\nMessage-Id: <1@client.example>\r\n\r\n")
	line := strings.Repeat("x", 78) + "\r\n"
	for buf.Len()+len(line) <= size {
		buf.WriteString(line)
	}
	buf.WriteString(".\r\n")
	return buf.Bytes()
}

// benchClient is an SMTP client for benchmarks: it sends prepared bytes and
// reads one single-line reply into a fixed buffer, allocating nothing.
type benchClient struct {
	tb   testing.TB
	conn net.Conn
	buf  [512]byte
}

func dialBench(tb testing.TB, addr string) *benchClient {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return &benchClient{tb: tb, conn: conn}
}

// roundTrip sends p and expects a reply whose code starts with class.
func (c *benchClient) roundTrip(p []byte, class byte) {
	if _, err := c.conn.Write(p); err != nil {
		c.tb.Fatalf("write: %v", err)
	}
	c.expect(class)
}

// expect reads replies until one ends with its last line (a code followed by
// a space), and checks the class of that last line's code.
func (c *benchClient) expect(class byte) {
	n := 0
	for {
		m, err := c.conn.Read(c.buf[n:])
		if err != nil {
			c.tb.Fatalf("read reply: %v (have %q)", err, c.buf[:n])
		}
		n += m
		if n < 2 || c.buf[n-2] != '\r' || c.buf[n-1] != '\n' {
			if n == len(c.buf) {
				c.tb.Fatalf("reply longer than %d bytes: %q", n, c.buf[:n])
			}
			continue
		}
		last := bytes.LastIndexByte(c.buf[:n-2], '\n') + 1
		if n-last < 4 || c.buf[last+3] != ' ' {
			continue // a multi-line reply, not finished
		}
		if c.buf[last] != class {
			c.tb.Fatalf("reply %q, want class %c", c.buf[:n], class)
		}
		return
	}
}

// TestTransactionAllocations counts the listener's allocations per mail
// transaction on a kept session, which the Go runtime pays for in malloc and
// GC time at every message. What is left is what a message is made of: the
// two addresses, the transaction's Message (with the spool envelope and the
// first recipient inside it), the spool's Message, the id, the header
// section kept for the policy phases and the index entry's recipient list.
// The durable spool adds the event a suspended session leaves behind and the
// completion of its commit. Scratch that lives from message to message (read
// and body buffers, their boxes, record headers, the writer's batch slices,
// the loop's hand-over queue) must not show up here.
func TestTransactionAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own account; .ci/run runs this test without it")
	}
	for _, tc := range []struct {
		name  string
		fsync bool
		want  float64
	}{
		{"inline", false, 7},
		{"durable", true, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, fmt.Sprintf("Force_Fsync = %v\n", tc.fsync)+baseConf, nil)
			c := dialBench(t, s.addr())
			c.expect('2')
			c.roundTrip([]byte("EHLO client.example\r\n"), '2')
			mail := []byte("MAIL FROM:<sender@client.example>\r\n")
			rcpt := []byte("RCPT TO:<user@example.com>\r\n")
			data := []byte("DATA\r\n")
			body := benchBody(1 << 10)
			tx := func() {
				c.roundTrip(mail, '2')
				c.roundTrip(rcpt, '2')
				c.roundTrip(data, '3')
				c.roundTrip(body, '2')
			}
			for range 20 {
				tx() // pools, maps and slices reach their working sizes
			}
			if n := testing.AllocsPerRun(200, tx); n > tc.want {
				t.Errorf("%.1f allocations per transaction, want at most %v", n, tc.want)
			}
		})
	}
}
