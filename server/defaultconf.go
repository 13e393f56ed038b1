package server

import (
	_ "embed"
	"fmt"
)

// DefaultConfigName is the file the embedded default configuration is written to,
// in the default control directory, when the daemon runs without -c.
const DefaultConfigName = "ecelerity.conf"

// defaultConfig is the configuration the daemon runs on without -c.
//
//go:embed default.conf
var defaultConfig []byte

// DefaultConfig returns the embedded default configuration.
func DefaultConfig() []byte { return append([]byte(nil), defaultConfig...) }

// writeDefaultConfig writes the embedded default to path (atomically, so that two
// daemons starting at once never read half a file). It is rewritten at every
// start: the module manager loads configuration from a file, and a file also gives
// `config reload` and `config writeback` something to work on.
func writeDefaultConfig(path string) error {
	if err := writeFileAtomic(path, defaultConfig, 0o600); err != nil {
		return fmt.Errorf("server: write the default configuration: %w", err)
	}
	return nil
}
