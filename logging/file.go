package logging

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
)

// DefaultFileMode is the permission of a log file this package creates.
const DefaultFileMode fs.FileMode = 0o640

// logFile is one open log file, shared by every writer that names its path and kept
// across configuration generations. Its methods may be called from any goroutine.
type logFile struct {
	path string

	// mu guards f and mode; a write holds it so that lines never interleave and
	// Reopen never swaps the descriptor under a write.
	mu   sync.Mutex
	f    *os.File
	mode fs.FileMode
}

// openFile opens path for appending, creating it with mode. os.OpenFile sets
// close-on-exec; append mode keeps lines whole even when an outside tool writes too.
func openFile(path string, mode fs.FileMode) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, mode)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOpen, err)
	}
	return &logFile{path: path, f: f, mode: mode}, nil
}

// Path returns the file's path.
func (f *logFile) Path() string { return f.path }

// Write appends p as one write.
func (f *logFile) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		return 0, os.ErrClosed
	}
	return f.f.Write(p)
}

// reopen opens the path anew and swaps the descriptor, so that a file moved away by
// rotation is closed and a fresh one created. On error the old descriptor stays.
func (f *logFile) reopen() error {
	nf, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, f.mode)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrOpen, err)
	}
	f.mu.Lock()
	old := f.f
	f.f = nf
	f.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func (f *logFile) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.f == nil {
		return nil
	}
	err := f.f.Close()
	f.f = nil
	return err
}

// writeVia writes b to the file ptr points at. A reconfigure may close that file
// between the load and the write; the line then goes to the file ptr points at now,
// so that no line is lost to a path switch. With no file it writes nothing.
func writeVia(ptr *atomic.Pointer[logFile], b []byte) error {
	for {
		f := ptr.Load()
		if f == nil {
			return nil
		}
		_, err := f.Write(b)
		if err == nil || !errors.Is(err, os.ErrClosed) || ptr.Load() == f {
			return err
		}
	}
}
