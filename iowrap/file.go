package iowrap

import (
	"context"
	"io"
	"io/fs"
	"net/url"
)

// File is an open file of any driver: POSIX read, write, lseek, close and fstat.
// Errors are *fs.PathError values naming the operation and the URL. A File is used
// by one goroutine at a time unless its driver says otherwise; like every call of
// this package it may block, so it belongs in a thread pool, never on the master loop.
type File interface {
	io.Reader
	io.Writer
	io.Seeker
	io.Closer
	Stat() (fs.FileInfo, error)
}

// Truncater is implemented by files that can change their size (ftruncate): file and
// memory files do.
type Truncater interface {
	Truncate(size int64) error
}

// Driver opens the URLs of one scheme. flags are os.O_* flags (O_RDONLY, O_WRONLY or
// O_RDWR, with O_CREATE, O_EXCL, O_TRUNC, O_APPEND); perm is the mode of a created file.
// Open may be called from many goroutines at once. A driver reports failures as
// *fs.PathError with an errno or a wrapped sentinel, and honours ctx where it waits.
type Driver interface {
	Open(ctx context.Context, u *url.URL, flags int, perm fs.FileMode) (File, error)
}

// Remover is implemented by drivers that can remove a name (unlink).
type Remover interface {
	Remove(ctx context.Context, u *url.URL) error
}

// DriverFunc adapts a function to a Driver, for small synthetic drivers.
type DriverFunc func(ctx context.Context, u *url.URL, flags int, perm fs.FileMode) (File, error)

// Open calls f.
func (f DriverFunc) Open(ctx context.Context, u *url.URL, flags int, perm fs.FileMode) (File, error) {
	return f(ctx, u, flags, perm)
}
