package spool

import (
	"os"

	"golang.org/x/sys/unix"
)

// createAt creates name in the directory dirfd for writing, close-on-exec,
// failing if it exists (so that a message id used twice never overwrites a
// message). A name relative to a held directory descriptor spares the kernel
// the walk of the spool's path on every message.
func createAt(dirfd int, name string, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, mode)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return -1, &os.PathError{Op: "openat", Path: name, Err: err}
		}
		return fd, nil
	}
}

// renameAt renames from to to, both in the directory dirfd, failing if to
// exists (RENAME_NOREPLACE), so that a message id used twice never replaces a
// message. Unlike os.Rename it does not lstat the target first: one system
// call. A file system without RENAME_NOREPLACE gets a plain rename.
func renameAt(dirfd int, from, to string) error {
	err := unix.Renameat2(dirfd, from, dirfd, to, unix.RENAME_NOREPLACE)
	if err == unix.EINVAL {
		err = unix.Renameat(dirfd, from, dirfd, to)
	}
	if err != nil {
		return &os.LinkError{Op: "renameat", Old: from, New: to, Err: err}
	}
	return nil
}

// unlinkAt removes name from the directory dirfd.
func unlinkAt(dirfd int, name string) error {
	if err := unix.Unlinkat(dirfd, name, 0); err != nil {
		return &os.PathError{Op: "unlinkat", Path: name, Err: err}
	}
	return nil
}

// writeAll writes every buffer of bufs to fd, with writev(2): usually one
// system call for all of them.
func writeAll(fd int, bufs ...[]byte) error {
	for {
		if bufs = skipEmpty(bufs); len(bufs) == 0 {
			return nil
		}
		n, err := unix.Writev(fd, bufs)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("writev", err)
		}
		bufs = consume(bufs, n)
	}
}

// pwriteAll writes every buffer of bufs at offset off of fd, in order, with
// pwritev(2), at most IOV_MAX buffers a call.
func pwriteAll(fd int, bufs [][]byte, off int64) error {
	const iovMax = 1024 // IOV_MAX on Linux
	for {
		if bufs = skipEmpty(bufs); len(bufs) == 0 {
			return nil
		}
		n, err := unix.Pwritev(fd, bufs[:min(len(bufs), iovMax)], off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return os.NewSyscallError("pwritev", err)
		}
		off += int64(n)
		bufs = consume(bufs, n)
	}
}

func skipEmpty(bufs [][]byte) [][]byte {
	for len(bufs) > 0 && len(bufs[0]) == 0 {
		bufs = bufs[1:]
	}
	return bufs
}

// consume drops the first n bytes of bufs, which a short vectored write
// wrote, shortening the buffer it stopped in.
func consume(bufs [][]byte, n int) [][]byte {
	for n > 0 {
		if n >= len(bufs[0]) {
			n -= len(bufs[0])
			bufs = bufs[1:]
			continue
		}
		bufs[0] = bufs[0][n:]
		n = 0
	}
	return bufs
}

func fdatasync(fd int) error {
	for {
		err := unix.Fdatasync(fd)
		if err != unix.EINTR {
			return os.NewSyscallError("fdatasync", err)
		}
	}
}

// startWriteback asks the kernel to start writing fd's dirty pages out
// without waiting for them (sync_file_range(2) with SYNC_FILE_RANGE_WRITE).
// It guarantees nothing: it only puts the data of every file of a batch in
// flight together, so that the fdatasync(2) calls that follow (which do
// guarantee durability) wait for writes already under way instead of issuing
// and waiting for them one file after the other. A failure is not reported:
// the fdatasync that follows reports any real one.
func startWriteback(fd int) {
	for unix.SyncFileRange(fd, 0, 0, unix.SYNC_FILE_RANGE_WRITE) == unix.EINTR {
	}
}

func fsync(fd int) error {
	for {
		err := unix.Fsync(fd)
		if err != unix.EINTR {
			return os.NewSyscallError("fsync", err)
		}
	}
}

// syncfs flushes the whole file system holding fd: one call covers every
// file of a batch (and every other dirty file there).
func syncfs(fd int) error {
	for {
		err := unix.Syncfs(fd)
		if err != unix.EINTR {
			return os.NewSyscallError("syncfs", err)
		}
	}
}

func closeFD(fd int) error {
	return os.NewSyscallError("close", unix.Close(fd))
}

// openDir opens a directory for fsync, close-on-exec.
func openDir(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}
