package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestParseForms(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // Flatten output
	}{
		{"key value with =", "a = b", "a = b\n"},
		{"key value without =", "a b", "a = b\n"},
		{"key=value no spaces", "a=b", "a = b\n"},
		{"hash comment", "# c\na = b # trailing\n", "a = b\n"},
		{"block comment", "/* x\n y */ a /* in */ = b", "a = b\n"},
		{"double quoted with escapes", `a = "x \"y\" \\ \n"`, "a = \"x \\\"y\\\" \\\\ \\n\"\n"},
		{"single quoted", `a = 'it\'s'`, "a = \"it's\"\n"},
		{"empty string", `a = ""`, "a = \"\"\n"},
		{"quoted keeps quoting", `a = "b"`, "a = \"b\"\n"},
		{"octal number", "Spool_Mode = 0640", "Spool_Mode = 0640\n"},
		{"unix path bare", "a = /var/spool/x/", "a = /var/spool/x/\n"},
		{"uri bare", "uri = digest:///x", "uri = digest:///x\n"},
		{"wildcard addr", "a = *:25", "a = *:25\n"},
		{"array", "a = ( x \"y z\" w )", "a = ( x \"y z\" w )\n"},
		{"array with commas and lines", "a = (\n x,\n y ,z\n)", "a = ( x y z )\n"},
		{"empty array", "a = ()", "a = ( )\n"},
		{"dict", `a = [ k = "v"  k2 = v2 ]`, "a = [ k = \"v\" k2 = v2 ]\n"},
		{"dict commas no =", `a = [ k "v", k2 v2 ]`, "a = [ k = \"v\" k2 = v2 ]\n"},
		{"anonymous scope", "S { a = b }", "S {\n  a = b\n}\n"},
		{"empty scope", "S {}", "S {}\n"},
		{"= before {", "S = { a = b }", "S {\n  a = b\n}\n"},
		{"named scope", `Domain "example.com" { a = b }`, "Domain \"example.com\" {\n  a = b\n}\n"},
		{"named scope bare name", `Listen /tmp/2025 {}`, "Listen \"/tmp/2025\" {}\n"},
		{"regex name", `Domain "/(?:^|[.])example[.]com$/" {}`, "Domain \"/(?:^|[.])example[.]com$/\" {}\n"},
		{"nested", `A { B "x" { C { d = e } } }`, "A {\n  B \"x\" {\n    C {\n      d = e\n    }\n  }\n}\n"},
		{"module instance", `ec_logger "l" { mainlog = /x }`, "ec_logger \"l\" {\n  mainlog = /x\n}\n"},
		{"several on one line", "a = b c = d", "a = b\nc = d\n"},
		{"crlf", "a = b\r\nc = d\r\n", "a = b\nc = d\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, err := Parse("t.conf", []byte(tt.src))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := tree.Flatten(); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			// Round trip: printing parses back to the same print.
			again, err := Parse("t2.conf", []byte(tree.Flatten()))
			if err != nil {
				t.Fatalf("reparse: %v", err)
			}
			if again.Flatten() != tree.Flatten() {
				t.Errorf("round trip changed:\n%s\n%s", again.Flatten(), tree.Flatten())
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		pos  string
		msg  string
	}{
		{"missing value", "a", "t.conf:1:2", `expected a value or "{"`},
		{"unclosed block", "S {\n a = b\n", "t.conf:3:1", `"}"`},
		{"unclosed string", "a = \"x", "t.conf:1:5", "never closed"},
		{"unclosed comment", "a = b\n /* x", "t.conf:2:2", `expected "*/"`},
		{"stray =", "= x", "t.conf:1:1", "unexpected token"},
		{"nested array", "a = ( ( ) )", "t.conf:1:7", "unexpected token"},
		{"stray brace", "}", "t.conf:1:1", "unexpected token"},
		{"dict missing value", "a = [ k = ]", "t.conf:1:11", "unexpected token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("t.conf", []byte(tt.src))
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrSyntax) {
				t.Errorf("error %v is not ErrSyntax", err)
			}
			if !strings.HasPrefix(err.Error(), tt.pos+":") || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got %q, want %s: ...%s...", err, tt.pos, tt.msg)
			}
		})
	}
}

func TestMergeRepeatedScopes(t *testing.T) {
	tree, err := Parse("t.conf", []byte(`
Domain "a" { x = 1 y = 2 }
Domain "b" { x = 3 }
domain "a" { y = 4 z = 5 }
`))
	if err != nil {
		t.Fatal(err)
	}
	root := tree.Root()
	if len(root.Children) != 2 {
		t.Fatalf("got %d scopes, want 2 (a merged)", len(root.Children))
	}
	a := root.Child("DOMAIN", "a")
	var got []string
	for _, e := range a.Options {
		got = append(got, e.Key+"="+e.Value.Text)
	}
	if strings.Join(got, " ") != "x=1 y=4 z=5" {
		t.Errorf("merged options %v, want x=1 y=4 z=5 (later wins, first order)", got)
	}
}

func TestIncludes(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"main.conf":          "a = 1\ninclude \"sub/one.conf\"\nS { include \"conf.d\" }\nreadonly_include \"ro.conf\"\n",
		"sub/one.conf":       "b = 2\ninclude \"two.conf\"\n", // relative to sub/
		"sub/two.conf":       "c = 3\n",
		"conf.d/20-b.conf":   "e = 5\n",
		"conf.d/10-a.conf":   "d = 4\n",
		"conf.d/.hidden":     "hidden = 1\n",
		"conf.d/nested/x.co": "nested = 1\n",
		"ro.conf":            "f = 6\n",
	})
	tree, err := ParseFile(filepath.Join(dir, "main.conf"))
	if err != nil {
		t.Fatal(err)
	}
	want := "a = 1\nb = 2\nc = 3\nS {\n  d = 4\n  e = 5\n}\nf = 6\n"
	if got := tree.Flatten(); got != want {
		t.Errorf("flatten:\n%s\nwant\n%s", got, want)
	}
	if f := tree.File(filepath.Join(dir, "ro.conf")); f == nil || !f.Readonly {
		t.Errorf("ro.conf not read-only: %+v", f)
	}
	if f := tree.File(filepath.Join(dir, "sub/two.conf")); f == nil || f.Readonly {
		t.Errorf("two.conf should be writable: %+v", f)
	}
	if got := tree.String(); !strings.Contains(got, `include "sub/one.conf"`) {
		t.Errorf("String should keep include directives:\n%s", got)
	}
}

func TestIncludeTwiceIsReadonly(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"main.conf": "include \"x.conf\"\nS { include \"x.conf\" }\n",
		"x.conf":    "a = 1\n",
	})
	tree, err := ParseFile(filepath.Join(dir, "main.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if f := tree.File(filepath.Join(dir, "x.conf")); !f.Readonly {
		t.Error("a file included twice must be read-only")
	}
}

func TestIncludeErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"cycle.conf":   "x = 1\ninclude \"cycle2.conf\"\n",
		"cycle2.conf":  "\n  include \"cycle.conf\"\n",
		"missing.conf": "a = 1\n\ninclude \"nope.conf\"\n",
		"bad.conf":     "include \"broken.conf\"\n",
		"broken.conf":  "a = {\n",
	})
	tests := []struct {
		file, want string
	}{
		{"cycle.conf", "cycle2.conf:2:3: include cycle"},
		{"missing.conf", "missing.conf:3:1: include \"nope.conf\""},
		{"bad.conf", "broken.conf:2:1:"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := ParseFile(filepath.Join(dir, tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want ...%s...", err, tt.want)
			}
		})
	}
}

func TestLocalChangesFileReadLast(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"main.conf":   "a = 1\nLocal_Changes_File = \"lc.conf\"\n",
		"lc.conf":     "a = 2\n",
		"ignored.txt": "",
	})
	tree, err := ParseFile(filepath.Join(dir, "main.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if got := tree.Root().Option("a").Value.Text; got != "2" {
		t.Errorf("a = %s, want 2 from the local-changes file", got)
	}
	if _, err := os.Stat(tree.LocalPath); err != nil {
		t.Errorf("LocalPath %q: %v", tree.LocalPath, err)
	}
}

func TestStanzasAndOptionUses(t *testing.T) {
	tree, err := Parse("t.conf", []byte(`
alerting {}
ec_logger "a" { mainlog = x }
Domain "d" { MyKey = 1 }
ec_logger "b" {}
ec_logger "a" {}
Top = 1
`))
	if err != nil {
		t.Fatal(err)
	}
	var st []string
	for _, s := range tree.Stanzas() {
		st = append(st, s.Keyword+"/"+s.Name)
	}
	if got := strings.Join(st, " "); got != "alerting/ ec_logger/a Domain/d ec_logger/b" {
		t.Errorf("stanzas %q", got)
	}
	var uses []string
	for _, u := range tree.OptionUses() {
		uses = append(uses, scopePathString(u.Path)+":"+u.Name)
	}
	if got := strings.Join(uses, ","); got != ":Top,ec_logger a:mainlog,Domain d:MyKey" {
		t.Errorf("uses %q", got)
	}
}

func TestIncludeRefusesDevices(t *testing.T) {
	// A character device, and a FIFO, which opening would block on.
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/dev/null", fifo} {
		_, err := Parse(filepath.Join(t.TempDir(), "m.conf"), []byte(`include "`+path+`"`))
		if !errors.Is(err, ErrInclude) || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("include %s: got %v", path, err)
		}
	}
}
