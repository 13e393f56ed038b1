package ecm

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// MaxFileSize bounds the size of a manifest that Scan will read. Real manifests are a few
// hundred bytes; anything larger is reported and skipped rather than read.
const MaxFileSize = 1 << 20

// Found is a manifest section found by [Scan], with the file that declared it.
type Found struct {
	Manifest
	// File is the manifest's path; Dir is its directory, where the module's code (X.so, X.lua)
	// is looked for.
	File, Dir string
}

// Result is what [Scan] found: the modules by name in discovery order, and every problem met.
type Result struct {
	// Modules lists the first declaration of every module name, in discovery order
	// (directories in the order given, files in lexical order within each directory tree).
	Modules []Found
	// Shadowed lists later declarations of a name already found; they are not used.
	Shadowed []Found
	// Problems lists malformed files and sections (each an *Error or a wrapped I/O error);
	// the rest of the scan goes on without them.
	Problems []error
}

// Lookup returns the module named name (case-insensitively).
func (r *Result) Lookup(name string) (Found, bool) {
	for _, f := range r.Modules {
		if strings.EqualFold(f.Name, name) {
			return f, true
		}
	}
	return Found{}, false
}

// Scan walks every directory in dirs (recursively, following no symlinked directories) and
// parses each "*.ecm" file. A missing directory is a problem, not a failure. A file with a
// syntax error contributes its good sections and reports the bad ones; the scan never stops
// early. The result is deterministic for a given tree.
func Scan(dirs []string) *Result {
	res := &Result{}
	index := map[string]bool{}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				res.Problems = append(res.Problems, fmt.Errorf("ecm: scanning %s: %w", path, err))
				if d != nil && d.IsDir() && path != dir {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() || !strings.HasSuffix(d.Name(), ".ecm") {
				return nil
			}
			mods, perr := parseFile(path)
			if perr != nil {
				res.Problems = append(res.Problems, perr)
			}
			for _, m := range mods {
				f := Found{Manifest: m, File: path, Dir: filepath.Dir(path)}
				key := strings.ToLower(m.Name)
				if index[key] {
					res.Shadowed = append(res.Shadowed, f)
					continue
				}
				index[key] = true
				res.Modules = append(res.Modules, f)
			}
			return nil
		})
		if err != nil {
			res.Problems = append(res.Problems, fmt.Errorf("ecm: scanning %s: %w", dir, err))
		}
	}
	return res
}

func parseFile(path string) ([]Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ecm: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("ecm: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, &Error{Pos: Pos{path, 0}, Msg: "not a regular file", Err: ErrSyntax}
	}
	if st.Size() > MaxFileSize {
		return nil, &Error{Pos: Pos{path, 0}, Msg: fmt.Sprintf("file is %d bytes, over the %d-byte limit for a manifest", st.Size(), MaxFileSize), Err: ErrSyntax}
	}
	// Parse's errors already carry path:line.
	return Parse(path, io.LimitReader(f, MaxFileSize))
}
