package control

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// ensurePrivateDir creates dir with mode 0700 unless it exists, and checks that it is a
// directory (not a symlink to one) owned by the current user with no group or other
// permissions.
func ensurePrivateDir(dir string) (string, error) {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("control: creating socket directory: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return "", fmt.Errorf("control: socket directory %s: %w", dir, os.NewSyscallError("lstat", err))
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return "", fmt.Errorf("%w: %s is not a directory", ErrInsecureDir, dir)
	case int(st.Uid) != os.Getuid():
		return "", fmt.Errorf("%w: %s belongs to uid %d", ErrInsecureDir, dir, st.Uid)
	case st.Mode&0o077 != 0:
		return "", fmt.Errorf("%w: %s has mode %#o, want 0700", ErrInsecureDir, dir, st.Mode&0o777)
	}
	return dir, nil
}
