package sched

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Every connection of a group is served, start to end, by the loop that accepted
// it, and Shutdown drains every loop.
func TestGroupOwnership(t *testing.T) {
	g, err := NewGroup(2, Options{})
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- g.Run() }()
	var mu sync.Mutex
	owners := map[*Loop]int{}
	var wrongLoop atomic.Int32
	addr, err := g.Listen("tcp4", "127.0.0.1:0", ListenConfig{}, func(l *Loop, fd int, _ unix.Sockaddr) {
		if !l.OnLoop() {
			wrongLoop.Add(1)
		}
		mu.Lock()
		owners[l]++
		mu.Unlock()
		ops := NewFDConn(fd)
		var r ReadState
		l.Add(fd, Read, func(ev *Event, _ Mask, _ time.Time) Mask {
			if ev.Loop() != l || !l.OnLoop() {
				wrongLoop.Add(1)
			}
			for {
				line, need, err := r.ReadUntil(ops, []byte("\n"))
				if err != nil {
					ops.Close()
					return 0
				}
				if need != 0 {
					return need
				}
				ops.Write(line)
			}
		}, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	const conns = 40
	for i := range conns {
		c, err := net.Dial("tcp", addr.String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "line %d\n", i)
		got, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || got != fmt.Sprintf("line %d\n", i) {
			t.Errorf("conn %d: echo %q, %v", i, got, err)
		}
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := wait(t, runErr, "Group.Run"); err != nil {
		t.Errorf("Run: %v", err)
	}
	total := 0
	for _, n := range owners {
		total += n
	}
	if total != conns || wrongLoop.Load() != 0 {
		t.Errorf("accepted %d of %d, %d calls on a foreign loop", total, conns, wrongLoop.Load())
	}
	t.Logf("connections per loop: %v", owners)
	if _, err := net.Dial("tcp", addr.String()); err == nil {
		t.Error("listener still open after Shutdown")
	}
}

func TestListen(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "ctl.sock")
	cases := []struct {
		network, addr string
		ok            bool
	}{
		{"tcp", "127.0.0.1:0", true},
		{"tcp4", ":0", true},
		{"tcp6", "[::1]:0", true},
		{"unix", sock, true},
		{"udp", "127.0.0.1:0", false},
		{"tcp", "localhost:25", false}, // names are not looked up
		{"tcp4", "[::1]:0", false},
		{"tcp6", "127.0.0.1:0", false},
		{"tcp", "127.0.0.1", false},
		{"tcp", "127.0.0.1:http-not-a-port", false},
		{"unix", "", false},
	}
	for _, c := range cases {
		t.Run(c.network+" "+c.addr, func(t *testing.T) {
			fd, err := Listen(c.network, c.addr, ListenConfig{})
			if !c.ok {
				if err == nil {
					unix.Close(fd)
					t.Fatal("Listen succeeded")
				}
				return
			}
			if err != nil {
				if c.network == "tcp6" && errors.Is(err, unix.EADDRNOTAVAIL) {
					t.Skip("no IPv6 loopback")
				}
				t.Fatal(err)
			}
			defer unix.Close(fd)
			fl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
			fdfl, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
			if fl&unix.O_NONBLOCK == 0 || fdfl&unix.FD_CLOEXEC == 0 {
				t.Errorf("listener flags %#x fd flags %#x: want non-blocking and close-on-exec", fl, fdfl)
			}
			if _, _, err := Accept(fd); !errors.Is(err, ErrWouldBlock) {
				t.Errorf("Accept with nothing pending = %v, want ErrWouldBlock", err)
			}
		})
	}
	if _, err := Listen("udp", ":0", ListenConfig{}); !errors.Is(err, ErrNetwork) {
		t.Errorf("udp: %v, want ErrNetwork", err)
	}
}
