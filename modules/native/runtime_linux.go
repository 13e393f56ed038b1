package native

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// loadDirPrefix starts the name of every per-load directory, so that the
// start-up clean-up removes only what a loader made, whatever else an
// operator keeps in the runtime directory.
const loadDirPrefix = "load-"

// runtimeDir is where loaded libraries are copied: one directory per load,
// so that a rebuilt library never overwrites a copy that is mapped.
type runtimeDir struct {
	path string
}

// openRuntimeDir creates path if needed, refuses it when it is mounted
// noexec, and removes the per-load directories a previous process left.
func openRuntimeDir(path string) (*runtimeDir, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: no runtime directory configured", ErrBadParams)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("%w: runtime directory %s: %w", ErrSystem, path, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("%w: runtime directory: %w", ErrSystem, err)
	}
	d := &runtimeDir{path: abs}
	if err := d.checkExec(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(abs)
	if err != nil {
		return nil, fmt.Errorf("%w: runtime directory: %w", ErrSystem, err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), loadDirPrefix) {
			if err := os.RemoveAll(filepath.Join(abs, e.Name())); err != nil {
				return nil, fmt.Errorf("%w: cleaning the runtime directory: %w", ErrSystem, err)
			}
		}
	}
	return d, nil
}

// checkExec fails with ErrNoExec when the directory's file system is mounted
// noexec: dlopen would fail there with an obscure "failed to map segment".
// Checked at start-up and before every load, since a remount can happen at
// any time.
func (d *runtimeDir) checkExec() error {
	var st unix.Statfs_t
	if err := unix.Statfs(d.path, &st); err != nil {
		return fmt.Errorf("%w: runtime directory %s: %w", ErrSystem, d.path, os.NewSyscallError("statfs", err))
	}
	if st.Flags&unix.ST_NOEXEC != 0 {
		return fmt.Errorf("%w: %s; set the native runtime directory to an exec-mounted file system", ErrNoExec, d.path)
	}
	return nil
}

// place writes data as a new copy of the library named base in a directory
// of its own and returns the copy's path and that directory.
func (d *runtimeDir) place(base string, data []byte) (file, dir string, err error) {
	if err := d.checkExec(); err != nil {
		return "", "", err
	}
	dir, err = os.MkdirTemp(d.path, loadDirPrefix+strings.TrimSuffix(base, ".so")+"-*")
	if err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrSystem, err)
	}
	file = filepath.Join(dir, base)
	// O_EXCL: the directory is new, so anything already there is not ours.
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o700)
	if err == nil {
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", "", fmt.Errorf("%w: copying the library: %w", ErrSystem, err)
	}
	return file, dir, nil
}

// fingerprint identifies one content of a library file. Device, inode, size
// and mtime are what a stat says; the hash is what catches a file rewritten
// in place with the same size and a restored mtime, or a new file that got a
// freed inode back.
type fingerprint struct {
	dev, ino uint64
	size     int64
	mtime    int64 // nanoseconds
	sum      [sha256.Size]byte
}

// readLibrary reads the library at path and fingerprints it. A file that
// changes while it is read (a build writing it) is an error rather than a
// torn copy.
func readLibrary(path string) ([]byte, fingerprint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fingerprint{}, fmt.Errorf("%w: %w", ErrSystem, err)
	}
	defer f.Close()
	before, err := fstat(f)
	if err != nil {
		return nil, fingerprint{}, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fingerprint{}, fmt.Errorf("%w: reading %s: %w", ErrSystem, path, err)
	}
	after, err := fstat(f)
	if err != nil {
		return nil, fingerprint{}, err
	}
	if before != after || int64(len(data)) != after.size {
		return nil, fingerprint{}, fmt.Errorf("%w: %s changed while it was read; retry when the build is done", ErrSystem, path)
	}
	after.sum = sha256.Sum256(data)
	return data, after, nil
}

// fstat returns the stat half of a fingerprint.
func fstat(f *os.File) (fingerprint, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fingerprint{}, fmt.Errorf("%w: %s: %w", ErrSystem, f.Name(), os.NewSyscallError("fstat", err))
	}
	return fingerprint{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim.Nano()}, nil
}

// removeDir deletes a per-load directory that never held a loaded library.
func removeDir(dir string) { _ = os.RemoveAll(dir) }
