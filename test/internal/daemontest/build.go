package daemontest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Binaries are the paths of the daemon and the console that Main builds.
type Binaries struct {
	Daemon  string
	Console string
}

// Main builds cmd/ecelerity and cmd/ec_console into a temporary directory with
// the extra go build flags, stores their paths in bins, runs the tests and removes
// the directory again. root is the module's root relative to the calling test
// package's directory (go test runs a test binary there). The result is the exit
// code for os.Exit; a failed build is reported on stderr and gives 1. Call it from
// TestMain, before any test runs: bins is written without a lock.
func Main(m *testing.M, bins *Binaries, root string, flags ...string) int {
	dir, err := os.MkdirTemp("", "ecelerity-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	bins.Daemon, bins.Console = filepath.Join(dir, "ecelerity"), filepath.Join(dir, "ec_console")
	for _, b := range []struct{ pkg, out string }{
		{"cmd/ecelerity", bins.Daemon},
		{"cmd/ec_console", bins.Console},
	} {
		args := append(append([]string{"build"}, flags...), "-o", b.out, "./"+filepath.Join(root, b.pkg))
		cmd := exec.Command("go", args...)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", b.pkg, err)
			return 1
		}
	}
	return m.Run()
}
