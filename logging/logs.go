package logging

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// Paths names the log files; an empty path means that log has no file. Mode is the
// permission of files created (0 means DefaultFileMode).
type Paths struct {
	Paniclog, Mainlog, Rejectlog, Auditlog string
	Mode                                   fs.FileMode
}

func (p Paths) list() []string {
	return []string{p.Paniclog, p.Mainlog, p.Rejectlog, p.Auditlog}
}

// Logs owns the log files and the writers over them. Create it with NewLogs. Its
// methods may be called from any goroutine; Stage and Apply pairs do not interleave
// (the configuration commits them one at a time), and a Staged from before another
// Apply is refused with ErrStale.
type Logs struct {
	Paniclog  *Paniclog
	Mainlog   *Mainlog
	Rejectlog *Rejectlog

	audit auditWriter

	// mu guards files, paths and version.
	mu      sync.Mutex
	files   map[string]*logFile // open files by cleaned path
	paths   Paths
	version uint64 // counts Applies
}

// NewLogs returns logs with no files, writing diagnostics to p.
func NewLogs(p *Paniclog) *Logs {
	l := &Logs{Paniclog: p, Mainlog: &Mainlog{}, Rejectlog: &Rejectlog{}, files: map[string]*logFile{}}
	l.audit.p = p
	return l
}

// Audit returns the writer of the control audit log: its file when Auditlog is set,
// else the paniclog at NOTICE under the tag "audit", so that state changes are on
// record somewhere.
func (l *Logs) Audit() io.Writer { return &l.audit }

// Paths returns the paths in effect.
func (l *Logs) Paths() Paths {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.paths
}

// Staged is a change of paths whose new files are open but not yet in use.
type Staged struct {
	l       *Logs
	paths   Paths
	opened  map[string]*logFile // files Stage opened
	version uint64
	done    bool
}

// Stage opens every file of p that is not open yet, without touching the logs in
// use: an unopenable path fails here, so the reload that names it can be rejected
// whole. Apply or Discard the result.
func (l *Logs) Stage(p Paths) (*Staged, error) {
	if p.Mode == 0 {
		p.Mode = DefaultFileMode
	}
	for i, path := range p.list() {
		if path != "" {
			p.setIndex(i, filepath.Clean(path))
		}
	}
	l.mu.Lock()
	s := &Staged{l: l, paths: p, opened: map[string]*logFile{}, version: l.version}
	var need []string
	for _, path := range p.list() {
		if path == "" || l.files[path] != nil || s.opened[path] != nil {
			continue
		}
		s.opened[path] = nil
		need = append(need, path)
	}
	l.mu.Unlock()
	var errs []error
	for _, path := range need {
		f, err := openFile(path, p.Mode)
		if err != nil {
			errs = append(errs, fmt.Errorf("log file %s: %w", path, err))
			delete(s.opened, path)
			continue
		}
		s.opened[path] = f
	}
	if len(errs) > 0 {
		s.Discard()
		return nil, errors.Join(errs...)
	}
	return s, nil
}

func (p *Paths) setIndex(i int, v string) {
	switch i {
	case 0:
		p.Paniclog = v
	case 1:
		p.Mainlog = v
	case 2:
		p.Rejectlog = v
	case 3:
		p.Auditlog = v
	}
}

// Apply puts the staged paths in use: writers move to their new files, files no
// longer named are closed, and files named before and now stay open as they were.
func (s *Staged) Apply() error {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if s.done || s.version != l.version {
		s.discardLocked()
		return ErrStale
	}
	s.done = true
	for path, f := range s.opened {
		l.files[path] = f
	}
	pick := func(path string) *logFile {
		if path == "" {
			return nil
		}
		return l.files[path]
	}
	l.Paniclog.setFile(pick(s.paths.Paniclog))
	l.Mainlog.setFile(pick(s.paths.Mainlog))
	l.Rejectlog.setFile(pick(s.paths.Rejectlog))
	l.audit.setFile(pick(s.paths.Auditlog))
	keep := map[string]bool{}
	for _, path := range s.paths.list() {
		keep[path] = true
	}
	for path, f := range l.files {
		if !keep[path] {
			f.close()
			delete(l.files, path)
		}
		// A file kept open keeps its mode; the new one applies when it is next
		// created (after a rotation and `reopen logs`).
		f.mu.Lock()
		f.mode = s.paths.Mode
		f.mu.Unlock()
	}
	l.paths = s.paths
	l.version++
	return nil
}

// Discard closes the files Stage opened; the logs in use are untouched.
func (s *Staged) Discard() {
	s.l.mu.Lock()
	defer s.l.mu.Unlock()
	s.discardLocked()
}

func (s *Staged) discardLocked() {
	if s.done {
		return
	}
	s.done = true
	for _, f := range s.opened {
		if f != nil {
			f.close()
		}
	}
}

// Configure is Stage followed by Apply.
func (l *Logs) Configure(p Paths) error {
	s, err := l.Stage(p)
	if err != nil {
		return err
	}
	return s.Apply()
}

// Reopen reopens every open file by its path (the console's `reopen logs`), after an
// external tool moved the files away. Every file is tried; the errors are joined.
func (l *Logs) Reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var errs []error
	for _, f := range l.files {
		if err := f.reopen(); err != nil {
			errs = append(errs, fmt.Errorf("reopen %s: %w", f.path, err))
		}
	}
	return errors.Join(errs...)
}

// Files returns the paths of the open files.
func (l *Logs) Files() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for path := range l.files {
		out = append(out, path)
	}
	return out
}

// Close detaches the writers and closes every file.
func (l *Logs) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.Paniclog.setFile(nil)
	l.Mainlog.setFile(nil)
	l.Rejectlog.setFile(nil)
	l.audit.setFile(nil)
	var errs []error
	for path, f := range l.files {
		if err := f.close(); err != nil {
			errs = append(errs, err)
		}
		delete(l.files, path)
	}
	l.version++
	return errors.Join(errs...)
}

// auditWriter writes audit lines to the audit file, or to the paniclog when there is
// none.
type auditWriter struct {
	p    *Paniclog
	file atomic.Pointer[logFile]
}

func (a *auditWriter) setFile(f *logFile) { a.file.Store(f) }

func (a *auditWriter) Write(b []byte) (int, error) {
	if a.file.Load() != nil {
		if err := writeVia(&a.file, b); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	a.p.Log(Notice, "audit", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
