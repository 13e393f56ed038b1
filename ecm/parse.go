package ecm

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// maxLine bounds one manifest line. Manifests are a few lines long; a longer line means the
// file is not a manifest, and reading it whole would be unbounded.
const maxLine = 64 << 10

// Parse reads the manifest text in r; name is the file name used in positions and errors.
// It returns every well-formed section and, joined, every error found (it does not stop at the
// first). A caller that wants all-or-nothing treats a non-nil error as fatal for the file.
//
// Syntax: blank lines and lines starting with '#' or ';' are ignored; "[name]" opens a
// section; "key = value" (or "key: value") sets a key in the current section. The keys
// msys.requires and msys.provides may repeat and may list several values separated by spaces
// or commas; msys.provides may carry the ":auto" tag (msys.provides:auto = ...).
func Parse(name string, r io.Reader) ([]Manifest, error) {
	var (
		out  []Manifest
		errs []error
		cur  *Manifest
		seen = map[string]bool{}
	)
	fail := func(line int, err error, format string, args ...any) {
		errs = append(errs, &Error{Pos: Pos{name, line}, Msg: fmt.Sprintf(format, args...), Err: err})
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(string(bytes.TrimPrefix(sc.Bytes(), []byte("\xef\xbb\xbf"))))
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			if !strings.HasSuffix(line, "]") {
				fail(lineNo, ErrSyntax, "section header %q lacks its closing ']'", line)
				cur = nil
				continue
			}
			mod := strings.TrimSpace(line[1 : len(line)-1])
			if !validName(mod) {
				fail(lineNo, ErrBadName, "bad module name %q in section header", mod)
				cur = nil
				continue
			}
			if seen[strings.ToLower(mod)] {
				fail(lineNo, ErrDuplicate, "module %q declared twice in this file", mod)
				cur = nil
				continue
			}
			seen[strings.ToLower(mod)] = true
			out = append(out, Manifest{Name: mod, Pos: Pos{name, lineNo}, Attrs: map[string]string{}})
			cur = &out[len(out)-1]
			continue
		}
		key, val, ok := splitKV(line)
		if !ok {
			fail(lineNo, ErrSyntax, "expected [section] or key = value, found %q", line)
			continue
		}
		if cur == nil {
			fail(lineNo, ErrSyntax, "key %q outside any [module] section", key)
			continue
		}
		base, tag, _ := strings.Cut(strings.ToLower(key), ":")
		switch base {
		case "msys.requires":
			for _, dep := range splitList(val) {
				if !validName(dep) {
					fail(lineNo, ErrBadName, "bad module name %q in msys.requires", dep)
					continue
				}
				cur.Requires = append(cur.Requires, dep)
			}
		case "msys.provides":
			if tag != "" && tag != "auto" {
				fail(lineNo, ErrSyntax, "unknown tag %q on msys.provides (only :auto is known)", tag)
				continue
			}
			for _, item := range splitList(val) {
				c, err := parseCapability(item)
				if err != nil {
					fail(lineNo, ErrBadProvides, "%v", err)
					continue
				}
				c.Auto = tag == "auto"
				c.Pos = Pos{name, lineNo}
				cur.Provides = append(cur.Provides, c)
			}
		default:
			cur.Attrs[strings.ToLower(key)] = val
		}
	}
	if err := sc.Err(); err != nil {
		fail(lineNo+1, ErrSyntax, "reading: %v", err)
	}
	return out, errors.Join(errs...)
}

// splitKV splits "key = value" or "key: value" where the key has no spaces. The ':' form is
// only taken when no '=' is present, because msys.provides:auto uses ':' inside the key.
func splitKV(line string) (key, val string, ok bool) {
	if k, v, found := strings.Cut(line, "="); found {
		key, val = strings.TrimSpace(k), strings.TrimSpace(v)
	} else {
		return "", "", false
	}
	if key == "" || strings.ContainsAny(key, " \t") {
		return "", "", false
	}
	return key, unquote(val), true
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// parseCapability parses "config.Global:Binding:Domain.Opt" or "config.Global:Opt". The scope
// chain is ':'-separated and must start with Global.
func parseCapability(s string) (Capability, error) {
	kind, rest, ok := strings.Cut(s, ".")
	if !ok || kind == "" || rest == "" {
		return Capability{}, fmt.Errorf("capability %q is not of the form kind.path", s)
	}
	c := Capability{Kind: strings.ToLower(kind), Path: rest}
	if c.Kind != "config" {
		return c, nil
	}
	// The option follows the last '.'; a global option has none and follows the last ':'
	// instead (config.Global:MyKey).
	dot := strings.LastIndexByte(rest, '.')
	if dot < 0 {
		dot = strings.LastIndexByte(rest, ':')
	}
	if dot <= 0 || dot == len(rest)-1 {
		return Capability{}, fmt.Errorf("config capability %q lacks Scope:Option", s)
	}
	c.Option = rest[dot+1:]
	if !validName(c.Option) {
		return Capability{}, fmt.Errorf("config capability %q: bad option name %q", s, c.Option)
	}
	c.Scopes = strings.Split(rest[:dot], ":")
	for _, sc := range c.Scopes {
		if !validName(sc) {
			return Capability{}, fmt.Errorf("config capability %q: bad scope %q", s, sc)
		}
	}
	if !strings.EqualFold(c.Scopes[0], "Global") {
		return Capability{}, fmt.Errorf("config capability %q: the scope chain must start with Global", s)
	}
	return c, nil
}

// validName reports whether s is a plausible module, scope or option name: letters, digits,
// '_' and '-', not starting with '-'.
func validName(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
