package control_test

import (
	"bufio"
	"net"
	"path/filepath"
	"testing"

	"github.com/ecelerity-go/ecelerity/control"
)

// BenchmarkVersionRoundTrip measures what the console waits for one `version`: a
// request line out, a framed reply back, through the whole server path (word split,
// registry lookup, executor, reply write). BenchmarkRawSocketRoundTrip below is the
// peer: the same exchange over a bare unix socket with no protocol code, the floor
// that the kernel and the Go runtime set.
func BenchmarkVersionRoundTrip(b *testing.B) {
	version := func() string { return "4.2.0" }
	run := func(b *testing.B, c *control.Client) {
		b.ReportAllocs()
		for b.Loop() {
			if out, err := c.Do("version"); err != nil || out != "4.2.0" {
				b.Fatalf("version = %q, %v", out, err)
			}
		}
	}
	b.Run("unix", func(b *testing.B) {
		_, path := startUnix(b, control.Config{Version: version})
		run(b, dial(b, path))
	})
	b.Run("unix/loop-executor", func(b *testing.B) {
		// Every command handed to another goroutine and waited for, as the daemon's
		// master-loop executor does.
		work := make(chan func())
		defer close(work)
		go func() {
			for fn := range work {
				fn()
			}
		}()
		exec := control.ExecutorFunc(func(fn func()) {
			done := make(chan struct{})
			work <- func() { fn(); close(done) }
			<-done
		})
		_, path := startUnix(b, control.Config{Version: version, Executor: exec})
		run(b, dial(b, path))
	})
	b.Run("tcp-authenticated", func(b *testing.B) {
		s, err := control.NewServer(control.Config{Version: version})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		file := filepath.Join(b.TempDir(), "secret")
		must(b, writeFile(file, "s3cret", 0o600))
		addr, err := s.ListenTCP("127.0.0.1:0", file)
		if err != nil {
			b.Fatal(err)
		}
		c, err := control.DialWith("ops@"+addr.String(), control.DialOptions{Secret: secretFunc("s3cret")})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		run(b, c)
	})
}

// BenchmarkRawSocketRoundTrip is the peer of BenchmarkVersionRoundTrip: one line out,
// one reply of the same bytes back, over a unix socket with buffered IO and nothing
// else.
func BenchmarkRawSocketRoundTrip(b *testing.B) {
	path := filepath.Join(shortDir(b), "raw.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		reply := []byte("OK 5\n4.2.0")
		for {
			if _, err := br.ReadSlice('\n'); err != nil {
				return
			}
			if _, err := c.Write(reply); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	req := []byte("version\n")
	buf := make([]byte, 5)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(req); err != nil {
			b.Fatal(err)
		}
		if _, err := br.ReadSlice('\n'); err != nil {
			b.Fatal(err)
		}
		if _, err := br.Read(buf); err != nil {
			b.Fatal(err)
		}
	}
}
