package iowrap

import (
	"context"
	"io/fs"
	"net/url"
	"os"

	"golang.org/x/sys/unix"
)

// FileDriver opens local files: "file:///abs/path", "file://localhost/abs/path" and
// plain paths. Files are *os.File, opened close-on-exec; they block like any regular
// file, which is why IO wrappers run in pools. The zero value is ready to use.
type FileDriver struct{}

var (
	_ Driver  = FileDriver{}
	_ Remover = FileDriver{}
	_ File    = (*os.File)(nil)
)

// Open opens the file named by u with os.OpenFile.
func (FileDriver) Open(_ context.Context, u *url.URL, flags int, perm fs.FileMode) (File, error) {
	path, err := filePath(u)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, flags, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Remove removes the file named by u.
func (FileDriver) Remove(_ context.Context, u *url.URL) error {
	path, err := filePath(u)
	if err != nil {
		return err
	}
	return os.Remove(path)
}

// filePath returns the local path of a file URL; a file URL naming another host is
// not a local file.
func filePath(u *url.URL) (string, error) {
	if u.Host != "" && u.Host != "localhost" {
		return "", &fs.PathError{Op: "open", Path: u.Redacted(), Err: unix.EREMOTE}
	}
	if u.Path == "" {
		return "", &fs.PathError{Op: "open", Path: u.Redacted(), Err: unix.ENOENT}
	}
	return u.Path, nil
}
