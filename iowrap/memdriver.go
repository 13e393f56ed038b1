package iowrap

import (
	"context"
	"io"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// MemDriver keeps named files in memory: "mem://name" (a path after the name is part
// of it: "mem://cache/a" is the file "cache/a"). Every open of a name shares one
// content, each handle with its own offset, as open(2) does. Semantics follow POSIX:
// O_CREATE, O_EXCL, O_TRUNC (on a handle opened for writing) and O_APPEND; the owner bits of the mode are checked
// (a 0444 file does not open for writing); seeking past the end is allowed and a write
// there fills the gap with zeros; Remove unlinks the name while open handles keep the
// content. A MemDriver is safe for concurrent use.
type MemDriver struct {
	// mu guards files.
	mu    sync.Mutex
	files map[string]*memNode
}

var (
	_ Driver    = (*MemDriver)(nil)
	_ Remover   = (*MemDriver)(nil)
	_ Truncater = (*memFile)(nil)
)

// MaxMemSize bounds a memory file: a write or truncate beyond it fails with EFBIG
// instead of trying to allocate whatever a stray seek asked for.
const MaxMemSize = 1 << 30

// NewMemDriver returns a driver with no files.
func NewMemDriver() *MemDriver { return &MemDriver{files: make(map[string]*memNode)} }

// memNode is one file's content, shared by all its handles.
type memNode struct {
	// mu guards data and modTime.
	mu      sync.RWMutex
	data    []byte
	modTime time.Time
	perm    fs.FileMode // fixed at creation
}

// Open opens or creates the file named by u.
func (d *MemDriver) Open(_ context.Context, u *url.URL, flags int, perm fs.FileMode) (File, error) {
	name := u.Host + u.Path
	path := "mem://" + name
	if name == "" {
		return nil, &fs.PathError{Op: "open", Path: path, Err: unix.EINVAL}
	}
	d.mu.Lock()
	n, exists := d.files[name]
	switch {
	case exists && flags&os.O_CREATE != 0 && flags&os.O_EXCL != 0:
		d.mu.Unlock()
		return nil, &fs.PathError{Op: "open", Path: path, Err: unix.EEXIST}
	case !exists && flags&os.O_CREATE == 0:
		d.mu.Unlock()
		return nil, &fs.PathError{Op: "open", Path: path, Err: unix.ENOENT}
	case !exists:
		n = &memNode{modTime: time.Now(), perm: perm.Perm()}
		d.files[name] = n
	}
	d.mu.Unlock()

	f := &memFile{node: n, name: path, flags: flags}
	// A creator may write whatever mode it gave the file, as with open(2).
	if exists && (f.readable() && n.perm&0o400 == 0 || f.writable() && n.perm&0o200 == 0) {
		return nil, &fs.PathError{Op: "open", Path: path, Err: unix.EACCES}
	}
	if flags&os.O_TRUNC != 0 && f.writable() {
		n.mu.Lock()
		n.data = n.data[:0]
		n.modTime = time.Now()
		n.mu.Unlock()
	}
	return f, nil
}

// Remove unlinks the file named by u.
func (d *MemDriver) Remove(_ context.Context, u *url.URL) error {
	name := u.Host + u.Path
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.files[name]; !ok {
		return &fs.PathError{Op: "remove", Path: "mem://" + name, Err: unix.ENOENT}
	}
	delete(d.files, name)
	return nil
}

// NewBytesFile returns a read-only File over data, named name, for drivers that
// produce their content in one piece (the HTTP driver, synthetic drivers). The File
// keeps data; the caller must not change it afterwards.
func NewBytesFile(name string, data []byte, modTime time.Time) File {
	return &memFile{node: &memNode{data: data, modTime: modTime, perm: 0o444}, name: name, flags: os.O_RDONLY}
}

// memFile is one open handle of a memNode.
type memFile struct {
	node  *memNode
	name  string
	flags int

	// mu guards off and closed. It is taken before node.mu.
	mu     sync.Mutex
	off    int64
	closed bool
}

func (f *memFile) readable() bool { return f.flags&unix.O_ACCMODE != os.O_WRONLY }
func (f *memFile) writable() bool { return f.flags&unix.O_ACCMODE != os.O_RDONLY }

func (f *memFile) fail(op string, err error) error {
	return &fs.PathError{Op: op, Path: f.name, Err: err}
}

// Read reads from the handle's offset; at or past the end it returns io.EOF.
func (f *memFile) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.closed:
		return 0, f.fail("read", fs.ErrClosed)
	case !f.readable():
		return 0, f.fail("read", unix.EBADF)
	}
	f.node.mu.RLock()
	defer f.node.mu.RUnlock()
	if f.off >= int64(len(f.node.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.node.data[f.off:])
	f.off += int64(n)
	return n, nil
}

// Write writes at the handle's offset, or at the end with O_APPEND, growing the file
// (with zeros over any gap) as needed.
func (f *memFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.closed:
		return 0, f.fail("write", fs.ErrClosed)
	case !f.writable():
		return 0, f.fail("write", unix.EBADF)
	}
	n := f.node
	n.mu.Lock()
	defer n.mu.Unlock()
	if f.flags&os.O_APPEND != 0 {
		// Append and the offset move happen under the node lock, so concurrent
		// appenders on different handles never overwrite each other.
		f.off = int64(len(n.data))
	}
	end := f.off + int64(len(p))
	if end > MaxMemSize || end < f.off {
		return 0, f.fail("write", unix.EFBIG)
	}
	if end > int64(len(n.data)) {
		n.resizeLocked(end)
	}
	copy(n.data[f.off:], p)
	f.off = end
	n.modTime = time.Now()
	return len(p), nil
}

// Seek sets the handle's offset. A negative result or an unknown whence is EINVAL; an
// offset past the end is allowed.
func (f *memFile) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return 0, f.fail("seek", fs.ErrClosed)
	}
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = f.off
	case io.SeekEnd:
		f.node.mu.RLock()
		base = int64(len(f.node.data))
		f.node.mu.RUnlock()
	default:
		return 0, f.fail("seek", unix.EINVAL)
	}
	pos := base + offset
	if pos < 0 || (offset > 0 && pos < base) {
		return 0, f.fail("seek", unix.EINVAL)
	}
	f.off = pos
	return pos, nil
}

// Truncate sets the file's size, dropping bytes past it or adding zeros. The handle's
// offset does not move.
func (f *memFile) Truncate(size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.closed:
		return f.fail("truncate", fs.ErrClosed)
	case !f.writable():
		return f.fail("truncate", unix.EBADF)
	case size < 0:
		return f.fail("truncate", unix.EINVAL)
	case size > MaxMemSize:
		return f.fail("truncate", unix.EFBIG)
	}
	n := f.node
	n.mu.Lock()
	defer n.mu.Unlock()
	n.resizeLocked(size)
	n.modTime = time.Now()
	return nil
}

// resizeLocked sets len(data) to size; bytes it adds are zero. n.mu must be held.
func (n *memNode) resizeLocked(size int64) {
	if size <= int64(len(n.data)) {
		n.data = n.data[:size]
		return
	}
	if size <= int64(cap(n.data)) {
		// Bytes between len and cap may hold data truncated away earlier.
		old := len(n.data)
		n.data = n.data[:size]
		clear(n.data[old:])
		return
	}
	grown := make([]byte, size, max(size, 2*int64(cap(n.data))))
	copy(grown, n.data)
	n.data = grown
}

// Stat describes the file.
func (f *memFile) Stat() (fs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, f.fail("stat", fs.ErrClosed)
	}
	f.node.mu.RLock()
	defer f.node.mu.RUnlock()
	return memInfo{name: f.name, size: int64(len(f.node.data)), mode: f.node.perm, modTime: f.node.modTime}, nil
}

// Close closes the handle; closing twice is fs.ErrClosed.
func (f *memFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return f.fail("close", fs.ErrClosed)
	}
	f.closed = true
	return nil
}

// memInfo is the fs.FileInfo of memory and bytes files.
type memInfo struct {
	name    string
	size    int64
	mode    fs.FileMode
	modTime time.Time
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return i.mode }
func (i memInfo) ModTime() time.Time { return i.modTime }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }
