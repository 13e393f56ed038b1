package control

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// staleProbeTimeout bounds the connect that tells a live socket from a stale one. A
// live server accepts at once (the kernel completes unix connects without it), so this
// only matters for a wedged one.
const staleProbeTimeout = 2 * time.Second

// listenUnix binds a unix socket at path with the given mode and returns the listener
// with the socket file's device and inode.
//
// The socket is bound inside a fresh 0700 directory beside path, chmod'ed there, and
// then hard-linked into place, so it is never reachable with wider permissions than
// mode: bind creates the file with 0777 &^ umask, and changing the umask would race
// with every other goroutine creating files. link(2) never replaces an existing name,
// so two servers starting together cannot both win.
func listenUnix(path string, mode fs.FileMode) (*net.UnixListener, uint64, uint64, error) {
	if err := clearStale(path); err != nil {
		return nil, 0, 0, err
	}
	tmpDir, err := os.MkdirTemp(filepath.Dir(path), ".ctl")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("control: listen %s: %w", path, err)
	}
	defer os.RemoveAll(tmpDir)
	tmpPath := filepath.Join(tmpDir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmpPath, Net: "unix"})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("control: listen %s: %w", path, err)
	}
	// The listener must not unlink the temporary name on Close (it is gone by then);
	// Server.Close removes the real one.
	ln.SetUnlinkOnClose(false)
	fail := func(err error) (*net.UnixListener, uint64, uint64, error) {
		ln.Close()
		return nil, 0, 0, err
	}
	if err := unix.Chmod(tmpPath, uint32(mode.Perm())); err != nil {
		return fail(fmt.Errorf("control: listen %s: %w", path, os.NewSyscallError("chmod", err)))
	}
	if err := unix.Link(tmpPath, path); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fail(fmt.Errorf("%w: %s (another server bound it meanwhile)", ErrInUse, path))
		}
		return fail(fmt.Errorf("control: listen %s: %w", path, os.NewSyscallError("link", err)))
	}
	dev, ino, err := fileID(path)
	if err != nil {
		os.Remove(path)
		return fail(fmt.Errorf("control: listen %s: %w", path, err))
	}
	return ln, dev, ino, nil
}

// clearStale makes path free for a new socket: nothing there is fine; a socket nobody
// listens on (connect refused: the server crashed) is removed; a live socket returns
// ErrInUse and anything that is not a socket ErrNotSocket, and both are left alone.
func clearStale(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("control: listen %s: %w", path, os.NewSyscallError("lstat", err))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return fmt.Errorf("%w: %s", ErrNotSocket, path)
	}
	c, err := net.DialTimeout("unix", path, staleProbeTimeout)
	if err == nil {
		c.Close()
		return fmt.Errorf("%w: %s", ErrInUse, path)
	}
	if !errors.Is(err, unix.ECONNREFUSED) {
		// EAGAIN (a full backlog) means a live server too; EACCES someone else's
		// socket. Neither may be removed.
		return fmt.Errorf("%w: %s: %w", ErrInUse, path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("control: removing stale socket: %w", err)
	}
	return nil
}
