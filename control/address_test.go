package control_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/ecelerity-go/ecelerity/control"
)

func TestParseAddress(t *testing.T) {
	runtime := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", runtime)
	dflt := filepath.Join(runtime, "ecelerity")
	wd, _ := os.Getwd()
	cases := []struct {
		in   string
		want control.Address
		str  string
	}{
		{"", control.Address{Network: "unix", Path: filepath.Join(dflt, "control.sock")}, filepath.Join(dflt, "control.sock")},
		{"/run/ec/control.sock", control.Address{Network: "unix", Path: "/run/ec/control.sock"}, "/run/ec/control.sock"},
		{"./c.sock", control.Address{Network: "unix", Path: filepath.Join(wd, "c.sock")}, filepath.Join(wd, "c.sock")},
		{"2025", control.Address{Network: "unix", Path: filepath.Join(dflt, "2025")}, filepath.Join(dflt, "2025")},
		{"127.0.0.1:2025", control.Address{Network: "tcp", HostPort: "127.0.0.1:2025"}, "127.0.0.1:2025"},
		{"localhost:2025", control.Address{Network: "tcp", HostPort: "localhost:2025"}, "localhost:2025"},
		{"[::1]:2025", control.Address{Network: "tcp", HostPort: "[::1]:2025"}, "[::1]:2025"},
		{"john@127.0.0.1:2025", control.Address{Network: "tcp", HostPort: "127.0.0.1:2025", User: "john"}, "john@127.0.0.1:2025"},
		{"john@[fe80::1]:2025", control.Address{Network: "tcp", HostPort: "[fe80::1]:2025", User: "john"}, "john@[fe80::1]:2025"},
	}
	for _, c := range cases {
		got, err := control.ParseAddress(c.in)
		if err != nil || got != c.want || got.String() != c.str {
			t.Errorf("ParseAddress(%q) = %+v (%s), %v; want %+v (%s)", c.in, got, got.String(), err, c.want, c.str)
		}
	}
	for _, bad := range []string{"host:", ":2025", "host:port", "host:0", "host:70000", "@host:1", "a b@host:1",
		"::1:2025", "user@host", "name:x", "a\tb", ".."} {
		if got, err := control.ParseAddress(bad); !errors.Is(err, control.ErrBadAddress) {
			t.Errorf("ParseAddress(%q) = %+v, %v; want ErrBadAddress", bad, got, err)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", "")
	t.Setenv("TMPDIR", tmp)
	want := filepath.Join(tmp, "ecelerity-"+strconv.Itoa(os.Getuid()))
	for range 2 { // creates it, then accepts it as it is
		path, err := control.DefaultAddress()
		if err != nil || path != filepath.Join(want, "control.sock") {
			t.Fatalf("DefaultAddress() = %q, %v; want in %s", path, err, want)
		}
		st, err := os.Stat(want)
		if err != nil || st.Mode().Perm() != 0o700 || !st.IsDir() {
			t.Fatalf("default directory %v, %v; want a 0700 directory", st.Mode(), err)
		}
	}
	// A directory others may enter, or a symlink in its place, is refused.
	must(t, os.Chmod(want, 0o755))
	if _, err := control.DefaultDir(); !errors.Is(err, control.ErrInsecureDir) {
		t.Errorf("0755 directory: err = %v, want ErrInsecureDir", err)
	}
	must(t, os.Remove(want))
	must(t, os.Symlink(t.TempDir(), want))
	if _, err := control.DefaultDir(); !errors.Is(err, control.ErrInsecureDir) {
		t.Errorf("symlink: err = %v, want ErrInsecureDir", err)
	}
}
