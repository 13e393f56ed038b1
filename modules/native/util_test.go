package native

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/ecelerity-go/ecelerity/ecm"
)

// pipe returns a pipe's read and write ends and their descriptors (in
// blocking mode, which the C side expects), closed at cleanup.
func pipe(t testing.TB) (r, w *os.File, rfd, wfd int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w, int(r.Fd()), int(w.Fd())
}

// waitByte reads one byte from f.
func waitByte(t testing.TB, f *os.File) {
	t.Helper()
	if _, err := f.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
}

func inode(t testing.TB, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// found returns the manifest of name as the libexec scan finds it.
func found(e *env, name string) *ecm.Found {
	e.t.Helper()
	res := ecm.Scan([]string{e.libexec})
	f, ok := res.Lookup(name)
	if !ok {
		e.t.Fatalf("no manifest for %s: %v", name, res.Problems)
	}
	return &f
}
