package esmtp

import (
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"
)

func sockaddrAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		addr := netip.AddrFrom16(a.Addr)
		if a.ZoneId != 0 {
			addr = addr.WithZone(strconv.FormatUint(uint64(a.ZoneId), 10))
		}
		return netip.AddrPortFrom(addr, uint16(a.Port))
	}
	return netip.AddrPort{}
}

// localAddr returns the local address of a connected socket.
func localAddr(fd int) netip.AddrPort {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return netip.AddrPort{}
	}
	return sockaddrAddrPort(sa)
}

// closeFD closes a descriptor the listener owns outright (a listening socket,
// a connection refused before it got a session).
func closeFD(fd int) { _ = unix.Close(fd) }

// writeNow makes one non-blocking attempt to send a short reply on a
// connection that is about to be closed; what the socket does not take is
// dropped.
func writeNow(fd int, p []byte) { _, _ = unix.Write(fd, p) }
