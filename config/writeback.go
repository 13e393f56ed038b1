package config

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Writeback writes the current generation's console changes to disk and
// returns a report. With no path, every file a transaction changed is
// rewritten in place (in canonical casing, comments dropped); a change that
// has no file (a virtual local-changes file, because the configuration was
// not read from a file) is returned in the report with a warning instead.
// With a path, the whole configuration, includes expanded, is written there;
// a path that is one of the configuration's read-only files is refused with
// ErrReadonly. Every write is atomic: a temporary file in the same directory,
// synced, then renamed over the target. Safe from any goroutine; it does
// file IO, so never on the event loop.
func (s *Store) Writeback(path string) (string, error) {
	g := s.Current()
	defer g.Release()
	t := g.tree
	if path != "" {
		key := cleanKey(path)
		for _, f := range t.Files {
			if f.Readonly && cleanKey(f.Path) == key {
				return "", fmt.Errorf("%w: %s was loaded with readonly_include or included twice", ErrReadonly, path)
			}
		}
		text := t.flattenCanonical(s.reg)
		if err := writeAtomic(path, text); err != nil {
			return "", err
		}
		return fmt.Sprintf("Wrote configuration to %s.", path), nil
	}
	var written []string
	var virtual strings.Builder
	files := append([]*File(nil), t.Files...)
	if t.Local != nil && !containsFile(files, t.Local) {
		files = append(files, t.Local)
	}
	for _, f := range files {
		if !f.dirty {
			continue
		}
		if f.Readonly {
			return "", fmt.Errorf("%w: %s", ErrReadonly, f.Path)
		}
		p := printer{canon: s.reg.canonical}
		p.entries(f.Entries)
		if f.Path == "" {
			virtual.WriteString(p.b.String())
			continue
		}
		if err := writeAtomic(f.Path, p.b.String()); err != nil {
			return "", err
		}
		written = append(written, f.Path)
	}
	var b strings.Builder
	if len(written) == 0 && virtual.Len() == 0 {
		return "Nothing to write back.", nil
	}
	for _, w := range written {
		fmt.Fprintf(&b, "Wrote %s.\n", w)
	}
	if virtual.Len() > 0 {
		s.warnf("writeback: changes have no writable file; printing them instead")
		b.WriteString("Warning: no writable file for these changes:\n")
		b.WriteString(virtual.String())
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func containsFile(fs []*File, f *File) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}

func (t *Tree) flattenCanonical(r *Registry) string {
	p := printer{flat: true, canon: r.canonical}
	if t.Main != nil {
		p.entries(t.Main.Entries)
	}
	if t.Local != nil {
		p.entries(t.Local.Entries)
	}
	return p.b.String()
}

// writeAtomic replaces path with text: a temporary file in the same
// directory, synced, given the old file's mode, then renamed over path.
func writeAtomic(path, text string) (err error) {
	mode := fs.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("config: writeback: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.WriteString(text); err != nil {
		return fmt.Errorf("config: writeback %s: %w", path, err)
	}
	if err = tmp.Chmod(mode); err != nil {
		return fmt.Errorf("config: writeback %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("config: writeback %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("config: writeback %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("config: writeback %s: %w", path, err)
	}
	return nil
}
