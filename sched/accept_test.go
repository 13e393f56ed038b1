package sched

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecelerity-go/ecelerity/internal/fdexhaust"
)

// TestAcceptPeerAddress: Accept reports the peer's address as the peer sees
// its own (getsockname), for IPv4, IPv6 and named, abstract and unnamed
// Unix-domain clients.
func TestAcceptPeerAddress(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name   string
		family int
		listen unix.Sockaddr
		bind   unix.Sockaddr // the client's own address; nil: the kernel picks
	}{
		{"ipv4", unix.AF_INET, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}, nil},
		{"ipv6", unix.AF_INET6, &unix.SockaddrInet6{Addr: [16]byte{15: 1}}, nil},
		{"unix unnamed", unix.AF_UNIX, &unix.SockaddrUnix{Name: filepath.Join(dir, "l1")}, nil},
		{"unix named", unix.AF_UNIX, &unix.SockaddrUnix{Name: filepath.Join(dir, "l2")}, &unix.SockaddrUnix{Name: filepath.Join(dir, "c2")}},
		{"unix abstract", unix.AF_UNIX, &unix.SockaddrUnix{Name: filepath.Join(dir, "l3")}, &unix.SockaddrUnix{Name: "@ecelerity-accept-test"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lfd, err := unix.Socket(tc.family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(lfd)
			if err := unix.Bind(lfd, tc.listen); err != nil {
				if tc.family == unix.AF_INET6 && errors.Is(err, unix.EADDRNOTAVAIL) {
					// A kernel or network namespace with IPv6 turned off has
					// no ::1 to bind; the other families still run.
					t.Skip("no IPv6 loopback")
				}
				t.Fatal(err)
			}
			if err := unix.Listen(lfd, 8); err != nil {
				t.Fatal(err)
			}
			laddr, err := unix.Getsockname(lfd)
			if err != nil {
				t.Fatal(err)
			}
			cfd, err := unix.Socket(tc.family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(cfd)
			if tc.bind != nil {
				if err := unix.Bind(cfd, tc.bind); err != nil {
					t.Fatal(err)
				}
			}
			if err := unix.Connect(cfd, laddr); err != nil {
				t.Fatal(err)
			}
			want, err := unix.Getsockname(cfd)
			if err != nil {
				t.Fatal(err)
			}
			var nfd int
			var got unix.Sockaddr
			deadline := time.Now().Add(5 * time.Second)
			for {
				nfd, got, err = Accept(lfd)
				if !errors.Is(err, ErrWouldBlock) || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(nfd)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("peer address %#v, the peer says %#v", got, want)
			}
			if fl, err := unix.FcntlInt(uintptr(nfd), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
				t.Errorf("accepted socket is blocking (flags %#x, %v)", fl, err)
			}
		})
	}
}

// TestAcceptorPausesOutOfDescriptors: with the process out of descriptors,
// a connection waits in the listening socket, which stays readable. An
// Acceptor that tried again at once would run without end; it must rest,
// then take the connection once a descriptor is free.
func TestAcceptorPausesOutOfDescriptors(t *testing.T) {
	l := startLoop(t, Options{})
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(lfd, 8); err != nil {
		t.Fatal(err)
	}
	laddr, err := unix.Getsockname(lfd)
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan int, 1)
	onLoop(t, l, func(time.Time) {
		if _, err := l.AddListener(lfd, Acceptor(func(_ *Loop, fd int, _ unix.Sockaddr) {
			unix.Close(fd)
			accepted <- fd
		}), nil); err != nil {
			t.Fatal(err)
		}
	})

	fds := fdexhaust.Lower(t)
	fds.Fill()
	cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(cfd)
	if err := unix.Connect(cfd, laddr); err != nil {
		t.Fatal(err)
	}
	before := l.Stats().Callbacks
	time.Sleep(500 * time.Millisecond)
	// Resting AcceptBackoff between tries makes about 5 calls in that time;
	// trying again at once makes tens of thousands.
	if n := l.Stats().Callbacks - before; n > 50 {
		t.Errorf("%d callbacks in half a second without descriptors: the acceptor spins", n)
	}
	select {
	case <-accepted:
		t.Fatal("a connection was accepted without a free descriptor")
	default:
	}
	fds.Release()
	wait(t, accepted, "the connection once descriptors are free")
}
