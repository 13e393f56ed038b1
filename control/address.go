package control

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// SocketName is the file name of the default control socket in DefaultDir.
const SocketName = "control.sock"

// Address is a parsed console address: a unix socket path, or a TCP host:port with an
// optional user for the login.
type Address struct {
	// Network is "unix" or "tcp".
	Network string
	// Path is the absolute socket path of a unix address.
	Path string
	// HostPort is the dialable host:port of a tcp address ("[::1]:2025" for IPv6).
	HostPort string
	// User is the login name written before '@', empty when none was given.
	User string
}

// String returns the address as an operator writes it: the path, or [user@]host:port.
// The console shows it in its prompt.
func (a Address) String() string {
	if a.Network == "unix" {
		return a.Path
	}
	if a.User != "" {
		return a.User + "@" + a.HostPort
	}
	return a.HostPort
}

// ParseAddress reads a console address:
//
//   - "" is DefaultAddress;
//   - a string holding '/' is a socket path, made absolute against the working directory;
//   - "host:port", "[v6]:port" and "user@host:port" are TCP, with a numeric port;
//   - any other bare name (no '/', ':' or '@', e.g. "2025") is a socket of that name in
//     DefaultDir, as Momentum takes bare names to be under /tmp.
//
// Parsing "" creates the default directory (see DefaultDir); nothing else touches the
// file system. It may be called from any goroutine.
func ParseAddress(s string) (Address, error) {
	switch {
	case s == "":
		path, err := DefaultAddress()
		if err != nil {
			return Address{}, err
		}
		return Address{Network: "unix", Path: path}, nil
	case strings.Contains(s, "/"):
		path, err := filepath.Abs(s)
		if err != nil {
			return Address{}, fmt.Errorf("%w %q: %w", ErrBadAddress, s, err)
		}
		return Address{Network: "unix", Path: path}, nil
	case !strings.ContainsAny(s, ":@"):
		if s == "." || s == ".." || strings.ContainsAny(s, "\x00 \t\r\n") {
			return Address{}, fmt.Errorf("%w %q: not a socket name", ErrBadAddress, s)
		}
		dir, err := DefaultDir()
		if err != nil {
			return Address{}, err
		}
		return Address{Network: "unix", Path: filepath.Join(dir, s)}, nil
	}
	addr := Address{Network: "tcp"}
	hostPort := s
	if at := strings.LastIndexByte(s, '@'); at >= 0 {
		addr.User, hostPort = s[:at], s[at+1:]
		if addr.User == "" || strings.ContainsAny(addr.User, " \t\r\n\"") {
			return Address{}, fmt.Errorf("%w %q: bad user name", ErrBadAddress, s)
		}
	}
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return Address{}, fmt.Errorf("%w %q: %w", ErrBadAddress, s, err)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return Address{}, fmt.Errorf("%w %q: port must be a number from 1 to 65535", ErrBadAddress, s)
	}
	if host == "" || strings.ContainsAny(host, " \t\r\n/@") {
		return Address{}, fmt.Errorf("%w %q: missing or bad host", ErrBadAddress, s)
	}
	addr.HostPort = net.JoinHostPort(host, port)
	return addr, nil
}

// DefaultDir returns the directory of the default control socket, creating it with
// mode 0700 if needed: $XDG_RUNTIME_DIR/ecelerity when XDG_RUNTIME_DIR is set, else
// ecelerity-<uid> in os.TempDir(). An existing directory must belong to the current
// user and be closed to others, or ErrInsecureDir is returned: in a shared /tmp another
// user could have made it first. It may be called from any goroutine.
func DefaultDir() (string, error) {
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		return ensurePrivateDir(filepath.Join(dir, "ecelerity"))
	}
	return ensurePrivateDir(filepath.Join(os.TempDir(), "ecelerity-"+strconv.Itoa(os.Getuid())))
}

// DefaultAddress returns the path of the default control socket, SocketName in
// DefaultDir, which it creates.
func DefaultAddress() (string, error) {
	dir, err := DefaultDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, SocketName), nil
}
