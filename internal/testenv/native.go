package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// InstallNativeSample compiles the sample native module (modules/native/sample) with
// the system C compiler and installs it into libexec as native_sample.so beside its
// manifest, as an install does: the library is built under a temporary name in
// libexec and renamed into place, so a copy the daemon has loaded is never written
// to. root is the repository's root relative to the calling test's directory; edit
// holds old -> new pairs applied to the C source first (each old text must occur).
// The test is skipped when there is no cc on PATH.
func InstallNativeSample(t testing.TB, root, libexec string, edit ...string) {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (cc) on PATH: the sample native module cannot be built")
	}
	sample := filepath.Join(root, "modules", "native", "sample")
	src, err := os.ReadFile(filepath.Join(sample, "native_sample.c"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	for i := 0; i+1 < len(edit); i += 2 {
		if !strings.Contains(text, edit[i]) {
			t.Fatalf("the sample source has no %q to rewrite", edit[i])
		}
		text = strings.ReplaceAll(text, edit[i], edit[i+1])
	}
	cfile := filepath.Join(t.TempDir(), "native_sample.c")
	if err := os.WriteFile(cfile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	inc, err := filepath.Abs(filepath.Join(root, "modules", "native", "include"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(libexec, 0o755); err != nil {
		t.Fatal(err)
	}
	ecm, err := os.ReadFile(filepath.Join(sample, "native_sample.ecm"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(libexec, "native_sample.ecm"), ecm, 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(libexec, ".native_sample.so.tmp")
	if b, err := exec.Command(cc, "-shared", "-fPIC", "-O2", "-I", inc, "-o", tmp, cfile).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, b)
	}
	if err := os.Rename(tmp, filepath.Join(libexec, "native_sample.so")); err != nil {
		t.Fatal(err)
	}
}
