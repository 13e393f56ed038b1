package control

import (
	"net"
	"os"
	"os/user"
	"strconv"

	"golang.org/x/sys/unix"
)

// unixPeer names the process at the other end of a unix connection from its kernel
// credentials (SO_PEERCRED), which the peer cannot forge: "uid=1000 pid=42", and the
// user name of that uid (the number when it has no name).
func unixPeer(c *net.UnixConn) (peer, userName string) {
	raw, err := c.SyscallConn()
	if err != nil {
		return "unix", ""
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return "unix", ""
	}
	uid := strconv.FormatUint(uint64(cred.Uid), 10)
	peer = "uid=" + uid + " pid=" + strconv.Itoa(int(cred.Pid))
	if u, err := user.LookupId(uid); err == nil {
		return peer, u.Username
	}
	return peer, uid
}

// sameFile reports whether path is still the file identified by dev and ino, so that
// Close removes its own socket and never one that replaced it.
func sameFile(path string, dev, ino uint64) bool {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return false
	}
	return st.Dev == dev && st.Ino == ino
}

// fileID returns the device and inode of path.
func fileID(path string) (dev, ino uint64, err error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return 0, 0, os.NewSyscallError("lstat", err)
	}
	return st.Dev, st.Ino, nil
}
