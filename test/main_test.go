package test

import (
	"os"
	"testing"

	"github.com/ecelerity-go/ecelerity/test/internal/daemontest"
)

// bins are the daemon and console binaries TestMain builds.
var bins daemontest.Binaries

func TestMain(m *testing.M) {
	os.Exit(daemontest.Main(m, &bins, ".."))
}
