package sched

import (
	"bytes"
	"errors"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// scriptOps is an in-memory operator set: each Read returns the next chunk, an
// empty chunk means "would block" and the end of the script means EOF.
type scriptOps struct {
	chunks []string
	reads  int
	out    bytes.Buffer
	room   int // bytes Write accepts before it would block; < 0: unlimited
}

func (s *scriptOps) Read(p []byte) (int, Mask, error) {
	s.reads++
	if len(s.chunks) == 0 {
		return 0, 0, io.EOF
	}
	c := s.chunks[0]
	if c == "" {
		s.chunks = s.chunks[1:]
		return 0, Read, nil
	}
	n := copy(p, c)
	if n < len(c) {
		s.chunks[0] = c[n:]
	} else {
		s.chunks = s.chunks[1:]
	}
	return n, 0, nil
}

func (s *scriptOps) Write(p []byte) (int, Mask, error) {
	if s.room < 0 {
		s.out.Write(p)
		return len(p), 0, nil
	}
	n := min(len(p), s.room)
	s.out.Write(p[:n])
	s.room -= n
	if n < len(p) {
		return n, Write, nil
	}
	return n, 0, nil
}

func (s *scriptOps) Close() error { return nil }

// drainLines reads lines until the script ends, recording lines, needs and
// errors as strings.
func drainLines(r *ReadState, ops Ops, delim string) []string {
	var got []string
	for range 100 {
		line, need, err := r.ReadUntil(ops, []byte(delim))
		switch {
		case err == io.EOF:
			return append(got, "EOF")
		case errors.Is(err, ErrLineTooLong):
			got = append(got, "TOO LONG")
		case err != nil:
			return append(got, "error: "+err.Error())
		case need != 0:
			got = append(got, "need "+need.String())
		default:
			got = append(got, string(line))
		}
	}
	return append(got, "runaway")
}

func TestReadUntil(t *testing.T) {
	cases := []struct {
		name   string
		max    int
		delim  string
		chunks []string
		want   []string
	}{
		{"one line", 0, "\r\n", []string{"HELO x\r\n"}, []string{"HELO x\r\n", "EOF"}},
		{"two lines in one read", 0, "\r\n", []string{"a\r\nb\r\n"}, []string{"a\r\n", "b\r\n", "EOF"}},
		{"delimiter split across reads", 0, "\r\n", []string{"ab\r", "", "\ncd", "\r", "\n"},
			[]string{"need read", "ab\r\n", "cd\r\n", "EOF"}},
		{"long delimiter split three ways", 0, "\r\n.\r\n", []string{"body\r", "\n.", "", "\r\nnext\r\n.\r\n"},
			[]string{"need read", "body\r\n.\r\n", "next\r\n.\r\n", "EOF"}},
		{"partial line kept across would-block", 0, "\n", []string{"par", "", "tial\n"}, []string{"need read", "partial\n", "EOF"}},
		{"too long then recovers", 8, "\n", []string{"0123456789abcdef\nok\n"}, []string{"TOO LONG", "ok\n", "EOF"}},
		{"too long across reads, delimiter split at the cut", 8, "\r\n", []string{"0123456", "", "789\r", "\nok\r\n"},
			[]string{"need read", "TOO LONG", "ok\r\n", "EOF"}},
		{"exactly max", 4, "\n", []string{"abc\n"}, []string{"abc\n", "EOF"}},
		{"one over max", 4, "\n", []string{"abcd\nx\n"}, []string{"TOO LONG", "x\n", "EOF"}},
		{"end of input inside a line", 0, "\n", []string{"no newline"}, []string{"EOF"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &ReadState{Max: c.max}
			ops := &scriptOps{chunks: slices.Clone(c.chunks)}
			got := drainLines(r, ops, c.delim)
			if !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
			if c.max > 0 && cap(r.buf) > c.max {
				t.Errorf("buffer grew to %d bytes, beyond Max %d", cap(r.buf), c.max)
			}
		})
	}
}

// An endless line never costs more than Max bytes.
func TestReadUntilBounded(t *testing.T) {
	chunk := string(bytes.Repeat([]byte("x"), 1000))
	chunks := make([]string, 1000) // 1 MB without a delimiter
	for i := range chunks {
		chunks[i] = chunk
	}
	r := &ReadState{Max: 4096}
	ops := &scriptOps{chunks: append(chunks, "\nnext\n")}
	got := drainLines(r, ops, "\n")
	if want := []string{"TOO LONG", "next\n", "EOF"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if cap(r.buf) > 4096 {
		t.Errorf("buffer grew to %d bytes", cap(r.buf))
	}
}

func TestReadN(t *testing.T) {
	r := &ReadState{Max: 64}
	ops := &scriptOps{chunks: []string{"BDAT 5\r\nhel", "", "lo", "QUIT\r\n", "ab"}}
	line, _, err := r.ReadUntil(ops, []byte("\r\n"))
	if err != nil || string(line) != "BDAT 5\r\n" {
		t.Fatalf("ReadUntil = %q, %v", line, err)
	}
	if _, need, _ := r.ReadN(ops, 5); need != Read {
		t.Fatalf("ReadN with 3 of 5 bytes: need = %v, want read", need)
	}
	block, need, err := r.ReadN(ops, 5)
	if string(block) != "hello" || need != 0 || err != nil {
		t.Fatalf("ReadN = %q, %v, %v; want hello", block, need, err)
	}
	if line, _, _ := r.ReadUntil(ops, []byte("\r\n")); string(line) != "QUIT\r\n" {
		t.Errorf("line after the block = %q", line)
	}
	if _, _, err := r.ReadN(ops, 65); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ReadN beyond Max: %v, want ErrTooLarge", err)
	}
	if _, _, err := r.ReadN(ops, 4); err != io.ErrUnexpectedEOF {
		t.Errorf("ReadN at end of input with 2 of 4 bytes: %v, want io.ErrUnexpectedEOF", err)
	}
	if block, _, err := (&ReadState{}).ReadN(&scriptOps{}, 0); err != nil || len(block) != 0 {
		t.Errorf("ReadN(0) = %q, %v", block, err)
	}
}

func TestReadStateDiscard(t *testing.T) {
	r := &ReadState{}
	ops := &scriptOps{chunks: []string{"STARTTLS\r\nINJECTED\r\n"}}
	r.ReadUntil(ops, []byte("\r\n"))
	if r.Buffered() != len("INJECTED\r\n") {
		t.Fatalf("Buffered() = %d", r.Buffered())
	}
	r.Discard()
	if r.Buffered() != 0 {
		t.Errorf("Buffered() = %d after Discard", r.Buffered())
	}
}

func TestWriteStateScripted(t *testing.T) {
	ops := &scriptOps{room: 3}
	var w WriteState
	need, err := w.Write(ops, []byte("hello"))
	if need != Write || err != nil || w.Pending() != 2 {
		t.Fatalf("Write = %v, %v, pending %d; want write, nil, 2", need, err, w.Pending())
	}
	need, _ = w.Write(ops, []byte(" world")) // queued behind the rest
	if need != Write || w.Pending() != 8 {
		t.Fatalf("second Write: need %v pending %d; want write, 8", need, w.Pending())
	}
	ops.room = 100
	if need, err := w.Flush(ops); need != 0 || err != nil {
		t.Fatalf("Flush = %v, %v", need, err)
	}
	if ops.out.String() != "hello world" || w.Pending() != 0 {
		t.Errorf("wrote %q, pending %d", ops.out.String(), w.Pending())
	}
}

// Write-all over a socket whose send buffer is as small as the kernel allows:
// many partial writes, carried across callbacks by a WriteState.
func TestWriteStatePartialTinySndbuf(t *testing.T) {
	l := startLoop(t, Options{})
	a, b := socketpair(t)
	if err := unix.SetsockoptInt(a, unix.SOL_SOCKET, unix.SO_SNDBUF, 1); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 1<<20)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	received := make(chan []byte, 1)
	go func() {
		var got []byte
		buf := make([]byte, 4096)
		for len(got) < len(payload) {
			n, err := unix.Read(b, buf)
			if err == unix.EAGAIN {
				unix.Poll([]unix.PollFd{{Fd: int32(b), Events: unix.POLLIN}}, -1)
				continue
			}
			if err != nil || n == 0 {
				break
			}
			got = append(got, buf[:n]...)
		}
		received <- got
	}()
	callbacks := make(chan int, 1)
	onLoop(t, l, func(time.Time) {
		ops := NewFDConn(a)
		var w WriteState
		need, err := w.Write(ops, payload)
		if err != nil || need != Write {
			t.Fatalf("first Write = %v, %v: the socket took 1 MB at once", need, err)
		}
		n := 0
		l.Add(a, need, func(ev *Event, fired Mask, _ time.Time) Mask {
			n++
			need, err := w.Flush(ops)
			if err != nil {
				t.Errorf("Flush: %v", err)
				return 0
			}
			if need == 0 {
				callbacks <- n
			}
			return need
		}, nil)
	})
	n := wait(t, callbacks, "the write to finish")
	if got := wait(t, received, "the reader"); !bytes.Equal(got, payload) {
		t.Fatalf("peer received %d bytes, not the payload", len(got))
	}
	if n < 2 {
		t.Errorf("finished in %d callbacks; the test wants partial writes", n)
	}
}

// A peer that resets the connection: the read reports ECONNRESET.
func TestPeerReset(t *testing.T) {
	l := startLoop(t, Options{})
	lfd, err := Listen("tcp4", "127.0.0.1:0", ListenConfig{})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := Addr(lfd)
	readErr := make(chan error, 1)
	onLoop(t, l, func(time.Time) {
		l.AddListener(lfd, Acceptor(func(l *Loop, fd int, _ unix.Sockaddr) {
			ops := NewFDConn(fd)
			l.Add(fd, Read, func(ev *Event, _ Mask, _ time.Time) Mask {
				var buf [64]byte
				for {
					n, need, err := ops.Read(buf[:])
					if err != nil {
						readErr <- err
						ops.Close()
						return 0
					}
					if n == 0 {
						return need
					}
				}
			}, nil)
		}), nil)
	})
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("hello"))
	c.(*net.TCPConn).SetLinger(0) // close sends RST
	c.Close()
	if err := wait(t, readErr, "the read error"); !errors.Is(err, unix.ECONNRESET) {
		t.Errorf("read error = %v, want ECONNRESET", err)
	}
}

// Half-close: the peer shuts its writing side; reads see EOF while writes still
// reach the peer.
func TestHalfClose(t *testing.T) {
	l := startLoop(t, Options{})
	a, b := socketpair(t)
	unix.Write(b, []byte("QUIT\n"))
	unix.Shutdown(b, unix.SHUT_WR)
	steps := make(chan string, 4)
	onLoop(t, l, func(time.Time) {
		ops := NewFDConn(a)
		var r ReadState
		var w WriteState
		l.Add(a, Read, func(ev *Event, _ Mask, _ time.Time) Mask {
			for {
				line, need, err := r.ReadUntil(ops, []byte("\n"))
				switch {
				case err == io.EOF:
					steps <- "EOF"
					need, err := w.Write(ops, []byte("221 bye\n"))
					if err != nil || need != 0 {
						steps <- "write failed"
					}
					ops.CloseWrite()
					return 0
				case err != nil:
					steps <- err.Error()
					return 0
				case need != 0:
					return need
				default:
					steps <- string(line)
				}
			}
		}, nil)
	})
	for _, want := range []string{"QUIT\n", "EOF"} {
		if got := wait(t, steps, want); got != want {
			t.Fatalf("step %q, want %q", got, want)
		}
	}
	var buf [64]byte
	unix.Poll([]unix.PollFd{{Fd: int32(b), Events: unix.POLLIN}}, 5000)
	n, _ := unix.Read(b, buf[:])
	if string(buf[:n]) != "221 bye\n" {
		t.Errorf("peer read %q after its half-close", buf[:n])
	}
	if n, err := unix.Read(b, buf[:]); n != 0 || err != nil {
		t.Errorf("peer read after CloseWrite = %d, %v; want end of file", n, err)
	}
}

func TestFDConnClose(t *testing.T) {
	a, _ := socketpair(t)
	fd, err := unix.Dup(a)
	if err != nil {
		t.Fatal(err)
	}
	c := NewFDConn(fd)
	if err := c.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := c.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close = %v, want ErrClosed", err)
	}
	if n, need, err := c.Read(nil); n != 0 || need != 0 || err != nil {
		t.Errorf("Read(nil) = %d, %v, %v", n, need, err)
	}
}
