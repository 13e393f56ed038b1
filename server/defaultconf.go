package server

import (
	_ "embed"
	"fmt"
	"path/filepath"
	"strings"
)

// DefaultConfigName is the file the embedded default configuration is written to,
// in the default control directory, when the daemon runs without -c.
const DefaultConfigName = "ecelerity.conf"

// DefaultESMTPListen is the address the embedded default configuration's ESMTP
// listener listens on, unless Options.DefaultESMTPListen says otherwise.
const DefaultESMTPListen = "127.0.0.1:2525"

// defaultSpoolName is the spool directory of the embedded default configuration,
// beside the file it is written to.
const defaultSpoolName = "spool"

// defaultConfig is the configuration the daemon runs on without -c, with two
// placeholders that DefaultConfig fills: the spool directory and the mail address.
//
//go:embed default.conf
var defaultConfig string

// DefaultConfig returns the embedded default configuration as it is written to
// dir/DefaultConfigName: its Spoolbase is dir/spool, and its ESMTP listener listens
// on listen (DefaultESMTPListen when empty).
func DefaultConfig(dir, listen string) []byte {
	if listen == "" {
		listen = DefaultESMTPListen
	}
	r := strings.NewReplacer(
		`"@SPOOLBASE@"`, quote(filepath.Join(dir, defaultSpoolName)),
		`"@ESMTP_LISTEN@"`, quote(listen),
	)
	return []byte(r.Replace(defaultConfig))
}

// writeDefaultConfig writes the embedded default to path (atomically, so that two
// daemons starting at once never read half a file). It is rewritten at every
// start: the module manager loads configuration from a file, and a file also gives
// `config reload` and `config writeback` something to work on.
func writeDefaultConfig(path, listen string) error {
	if err := writeFileAtomic(path, DefaultConfig(filepath.Dir(path), listen), 0o600); err != nil {
		return fmt.Errorf("server: write the default configuration: %w", err)
	}
	return nil
}

// quote writes s as a quoted string of the configuration language, where a
// backslash stands for the byte after it: XDG_RUNTIME_DIR, which the spool path
// comes from, may hold any byte.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
