package sched

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ListenConfig tunes Listen. The zero value is usable.
type ListenConfig struct {
	// Backlog is the listen(2) backlog; zero means 500.
	Backlog int
	// ReusePort sets SO_REUSEPORT, so that several sockets (one per loop of a
	// Group) can listen on one port and the kernel spreads connections.
	ReusePort bool
}

const defaultBacklog = 500

// Listen opens a non-blocking, close-on-exec listening socket and returns its
// descriptor. network is "tcp", "tcp4", "tcp6" or "unix"; a TCP address must use
// a numeric host (no name lookup happens here) and "tcp" with an empty host
// listens on IPv4's any address. For "unix" the path must not exist. Any
// goroutine may call it.
func Listen(network, addr string, cfg ListenConfig) (int, error) {
	sa, family, err := sockaddr(network, addr)
	if err != nil {
		return -1, fmt.Errorf("sched: listen %s %s: %w", network, addr, err)
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("sched: listen %s %s: %w", network, addr, os.NewSyscallError("socket", err))
	}
	if err := setupListener(fd, family, sa, cfg); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("sched: listen %s %s: %w", network, addr, err)
	}
	return fd, nil
}

func setupListener(fd, family int, sa unix.Sockaddr, cfg ListenConfig) error {
	if family != unix.AF_UNIX {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
		if cfg.ReusePort {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
				return os.NewSyscallError("setsockopt", err)
			}
		}
	}
	if family == unix.AF_INET6 {
		// tcp6 means IPv6 only; "tcp" never picks AF_INET6 for a dual stack.
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			return os.NewSyscallError("setsockopt", err)
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return os.NewSyscallError("bind", err)
	}
	backlog := cfg.Backlog
	if backlog <= 0 {
		backlog = defaultBacklog
	}
	return os.NewSyscallError("listen", unix.Listen(fd, backlog))
}

// sockaddr turns a network and numeric address into a socket address.
func sockaddr(network, addr string) (unix.Sockaddr, int, error) {
	switch network {
	case "unix":
		if addr == "" {
			return nil, 0, errors.New("empty socket path")
		}
		return &unix.SockaddrUnix{Name: addr}, unix.AF_UNIX, nil
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, 0, ErrNetwork
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, err
	}
	port, err := net.LookupPort("tcp", portStr)
	if err != nil {
		return nil, 0, err
	}
	var ip net.IP
	if host != "" {
		if ip = net.ParseIP(host); ip == nil {
			return nil, 0, fmt.Errorf("host %q is not a numeric address", host)
		}
	}
	ip4 := ip.To4()
	switch {
	case network == "tcp6" || (network == "tcp" && ip != nil && ip4 == nil):
		if ip4 != nil && network == "tcp6" {
			return nil, 0, fmt.Errorf("%s is not an IPv6 address", host)
		}
		sa := &unix.SockaddrInet6{Port: port}
		copy(sa.Addr[:], ip.To16())
		return sa, unix.AF_INET6, nil
	default:
		if ip != nil && ip4 == nil {
			return nil, 0, fmt.Errorf("%s is not an IPv4 address", host)
		}
		sa := &unix.SockaddrInet4{Port: port}
		copy(sa.Addr[:], ip4)
		return sa, unix.AF_INET, nil
	}
}

// Accept takes one pending connection from the listening descriptor fd and
// returns it non-blocking and close-on-exec, with the peer's address. With no
// connection pending it returns ErrWouldBlock. Loop goroutine (or any goroutine
// owning fd).
func Accept(fd int) (int, unix.Sockaddr, error) {
	for {
		nfd, sa, err := accept4(fd)
		switch err {
		case nil:
			return nfd, sa, nil
		case unix.EINTR, unix.ECONNABORTED:
			// A signal, or a peer that gave up while queued: try the next one.
		case unix.EAGAIN:
			return -1, nil, ErrWouldBlock
		default:
			return -1, nil, fmt.Errorf("sched: accept: %w", os.NewSyscallError("accept4", err))
		}
	}
}

// accept4 is unix.Accept4 without its extra system call: x/sys turns an
// IPv4 or IPv6 peer address into a Sockaddr only after a getsockopt
// (SO_PROTOCOL) that tells an L2TP socket apart, which a TCP listener never
// is. The peer address is decoded here for the families a listener serves.
func accept4(fd int) (int, unix.Sockaddr, error) {
	var rsa unix.RawSockaddrAny
	l := uint32(unix.SizeofSockaddrAny)
	nfd, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&l)),
		uintptr(unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC), 0, 0)
	if errno != 0 {
		return -1, nil, errno
	}
	switch rsa.Addr.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		sa := &unix.SockaddrInet4{Addr: p.Addr}
		b := (*[2]byte)(unsafe.Pointer(&p.Port))
		sa.Port = int(b[0])<<8 | int(b[1])
		return int(nfd), sa, nil
	case unix.AF_INET6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		sa := &unix.SockaddrInet6{Addr: p.Addr, ZoneId: p.Scope_id}
		b := (*[2]byte)(unsafe.Pointer(&p.Port))
		sa.Port = int(b[0])<<8 | int(b[1])
		return int(nfd), sa, nil
	case unix.AF_UNIX:
		// As x/sys decodes it: a leading NUL (an abstract name, or none at
		// all) reads as '@', and the name ends at the first NUL.
		p := (*unix.RawSockaddrUnix)(unsafe.Pointer(&rsa))
		path := (*[len(p.Path)]byte)(unsafe.Pointer(&p.Path))[:]
		if path[0] == 0 {
			path[0] = '@'
		}
		for i, c := range path {
			if c == 0 {
				path = path[:i]
				break
			}
		}
		return int(nfd), &unix.SockaddrUnix{Name: string(path)}, nil
	}
	// Anything else: let x/sys decode it.
	sa, err := unix.Getpeername(int(nfd))
	if err != nil {
		unix.Close(int(nfd))
		return -1, nil, err
	}
	return int(nfd), sa, nil
}

// Addr returns the local address of a socket (the port picked for port 0).
func Addr(fd int) (net.Addr, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, fmt.Errorf("sched: address of fd %d: %w", fd, os.NewSyscallError("getsockname", err))
	}
	return netAddr(sa), nil
}

func netAddr(sa unix.Sockaddr) net.Addr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(sa.Addr[:]).To16(), Port: sa.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: append(net.IP(nil), sa.Addr[:]...), Port: sa.Port}
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: sa.Name, Net: "unix"}
	}
	return nil
}

// AcceptFunc receives a connection accepted on loop l; fd is non-blocking and
// belongs to the callee, who typically adds it to l.
type AcceptFunc func(l *Loop, fd int, peer unix.Sockaddr)

// acceptBatch bounds the connections one callback accepts, so that a flood of
// connections cannot keep the loop from its other descriptors; level-triggered
// epoll calls again for the rest.
const acceptBatch = 64

// AcceptBackoff is how long a listener rests after accept failed because
// the process ran out of descriptors or memory (EMFILE, ENFILE, ENOBUFS,
// ENOMEM): the connection stays queued in the kernel and the listening
// socket stays readable, so accepting again at once would spin the loop.
// Acceptor rests this long; a listener with its own accept callback should
// too.
const AcceptBackoff = 100 * time.Millisecond

// Acceptor returns the callback of a listener event (see AddListener): it
// accepts pending connections and passes each to onConn on the loop, and when
// the loop shuts down (fired == 0) it closes the listening descriptor.
func Acceptor(onConn AcceptFunc) Callback {
	return func(ev *Event, fired Mask, now time.Time) Mask {
		l := ev.Loop()
		if fired == 0 {
			unix.Close(ev.FD())
			return 0
		}
		for range acceptBatch {
			nfd, sa, err := Accept(ev.FD())
			if err != nil {
				if errors.Is(err, ErrWouldBlock) {
					return Read
				}
				// Out of descriptors or memory: the pending connection stays
				// queued in the kernel, so rest and try again.
				dup := l.Suspend(ev)
				l.After(AcceptBackoff, func(*Timer, time.Time) { l.Resume(dup, Read) }, nil)
				return 0
			}
			onConn(l, nfd, sa)
		}
		return Read
	}
}
