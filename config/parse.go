package config

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultLocalChangesName is the local-changes file used when the config does
// not set Local_Changes_File: this name in the main file's directory.
const DefaultLocalChangesName = "local_changes.conf"

// ParseFile reads the configuration at path with its includes and the
// local-changes file, if one exists, into a Tree. Relative include paths are
// taken from the including file's directory. A directory include reads its
// files in name order, skipping dot-files and subdirectories. An include
// cycle is an error; a file included twice (not a cycle) is read-only.
// Errors are an ErrorList of *Error values with positions. Safe from any
// goroutine.
func ParseFile(path string) (*Tree, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, ErrorList{&Error{Pos: Pos{File: path}, Kind: ErrInclude, Msg: err.Error()}}
	}
	return parseMain(path, string(src), true)
}

// Parse parses src as a main file called name. Includes are resolved as by
// ParseFile, relative to name's directory (or the working directory when name
// has none). No local-changes file is read; the tree's files are virtual if
// name is empty. Safe from any goroutine.
func Parse(name string, src []byte) (*Tree, error) {
	return parseMain(name, string(src), false)
}

type loader struct {
	tree  *Tree
	errs  ErrorList
	stack []string         // files being read, for cycle detection
	seen  map[string]*File // every file read, by cleaned path
}

func parseMain(name, src string, local bool) (*Tree, error) {
	l := &loader{tree: &Tree{}, seen: make(map[string]*File)}
	main := l.load(name, src, false)
	l.tree.Main = main
	if local && len(l.errs) == 0 {
		l.loadLocal(name)
	}
	if len(l.errs) > 0 {
		return nil, l.errs
	}
	return l.tree, nil
}

func (l *loader) load(name, src string, readonly bool) *File {
	f := &File{Path: name, Readonly: readonly}
	key := cleanKey(name)
	if key != "" {
		l.seen[key] = f
		l.stack = append(l.stack, key)
		defer func() { l.stack = l.stack[:len(l.stack)-1] }()
	}
	l.tree.Files = append(l.tree.Files, f)
	entries, err := parseText(name, src)
	if err != nil {
		l.errs = append(l.errs, err)
		return f
	}
	f.Entries = entries
	l.resolve(name, entries)
	return f
}

func cleanKey(name string) string {
	if name == "" {
		return ""
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return filepath.Clean(name)
	}
	return abs
}

// resolve loads the files of every include entry in entries, recursively.
func (l *loader) resolve(from string, entries []*Entry) {
	for _, e := range entries {
		switch e.Kind {
		case ScopeEntry:
			l.resolve(from, e.Body)
		case IncludeEntry:
			l.include(from, e)
		}
	}
}

func (l *loader) include(from string, e *Entry) {
	if e.Value.Kind != ScalarValue || e.Value.Text == "" {
		l.errs = append(l.errs, errorf(e.Pos, ErrInclude, "%s needs a file or directory name", e.Key))
		return
	}
	readonly := strings.EqualFold(e.Key, "readonly_include")
	path := e.Value.Text
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(from), path)
	}
	st, err := os.Stat(path)
	if err != nil {
		l.errs = append(l.errs, errorf(e.Pos, ErrInclude, "%s %q: %v", e.Key, e.Value.Text, err))
		return
	}
	if !st.IsDir() && !st.Mode().IsRegular() {
		// A device or a FIFO could block or never end.
		l.errs = append(l.errs, errorf(e.Pos, ErrInclude, "%s %q: not a regular file or directory", e.Key, e.Value.Text))
		return
	}
	paths := []string{path}
	if st.IsDir() {
		paths, err = dirFiles(path)
		if err != nil {
			l.errs = append(l.errs, errorf(e.Pos, ErrInclude, "%s %q: %v", e.Key, e.Value.Text, err))
			return
		}
	}
	for _, p := range paths {
		key := cleanKey(p)
		for i, s := range l.stack {
			if s == key {
				chain := append(append([]string(nil), l.stack[i:]...), key)
				l.errs = append(l.errs, errorf(e.Pos, ErrInclude, "include cycle: %s", strings.Join(chain, " -> ")))
				return
			}
		}
		if f, ok := l.seen[key]; ok {
			// Included twice: the reference makes such a file read-only, since
			// a rewrite could not say which occurrence it edits.
			f.Readonly = true
			e.Files = append(e.Files, f)
			continue
		}
		src, err := os.ReadFile(p)
		if err != nil {
			l.errs = append(l.errs, errorf(e.Pos, ErrInclude, "%s %q: %v", e.Key, e.Value.Text, err))
			continue
		}
		e.Files = append(e.Files, l.load(p, string(src), readonly))
	}
}

// dirFiles lists the regular files of dir in name order, skipping dot-files
// and subdirectories.
func dirFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range ents {
		if strings.HasPrefix(d.Name(), ".") || d.IsDir() {
			continue
		}
		if !d.Type().IsRegular() {
			// Follow a symbolic link, but only to a regular file.
			st, err := os.Stat(filepath.Join(dir, d.Name()))
			if err != nil || !st.Mode().IsRegular() {
				continue
			}
		}
		out = append(out, filepath.Join(dir, d.Name()))
	}
	sort.Strings(out)
	return out, nil
}

// loadLocal reads the local-changes file named by the top-level
// Local_Changes_File option (default DefaultLocalChangesName beside the main
// file) when it exists and was not already included.
func (l *loader) loadLocal(mainPath string) {
	path := filepath.Join(filepath.Dir(mainPath), DefaultLocalChangesName)
	for _, e := range l.tree.Main.Entries {
		if e.Kind == OptionEntry && strings.EqualFold(e.Key, "Local_Changes_File") && e.Value.Kind == ScalarValue {
			path = e.Value.Text
			if !filepath.IsAbs(path) {
				path = filepath.Join(filepath.Dir(mainPath), path)
			}
		}
	}
	l.tree.LocalPath = path
	if _, ok := l.seen[cleanKey(path)]; ok {
		return
	}
	src, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		l.errs = append(l.errs, &Error{Pos: Pos{File: path}, Kind: ErrInclude, Msg: fmt.Sprintf("local changes file: %v", err)})
		return
	}
	l.tree.Local = l.load(path, string(src), false)
}
