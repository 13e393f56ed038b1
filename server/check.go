package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/modules/esmtp"
)

// Check is `ecelerity --check`: it parses and validates the configuration of opts
// (the embedded default when ConfigPath is empty) and every module it loads — the
// module manager's dry run, plus the checks the server makes of its own options —
// and writes every error to w, one per line with its file:line:col, then a verdict.
// Nothing is started: no pidfile, no loop, no listener, no module ext_init. It
// reports whether the configuration is good.
func Check(opts Options, w io.Writer) bool {
	path := opts.ConfigPath
	if path == "" {
		dir, err := os.MkdirTemp("", "ecelerity-check-")
		if err != nil {
			fmt.Fprintf(w, "cannot check the default configuration: %v\n", err)
			return false
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, DefaultConfigName)
		if err := writeDefaultConfig(path, opts.DefaultESMTPListen); err != nil {
			fmt.Fprintln(w, err)
			return false
		}
	} else if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	errs := checkErrors(context.Background(), opts, path)
	for _, err := range errs {
		fmt.Fprintln(w, strings.ReplaceAll(err.Error(), "\n", "\n\t"))
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "%s: %d error(s); the configuration would be rejected\n", path, len(errs))
		return false
	}
	fmt.Fprintf(w, "%s: configuration OK\n", path)
	return true
}

func checkErrors(_ context.Context, opts Options, path string) []error {
	store := config.NewStore(config.NewRegistry(), config.StoreOptions{Path: path})
	core, err := defineCore(store.Registry())
	if err != nil {
		return []error{err}
	}
	loaders := opts.Loaders
	if loaders == nil {
		ext, release, err := checkExtensions(opts, store, path)
		if err != nil {
			return []error{err}
		}
		defer release()
		loaders = ext.loaders
	}
	mods, err := modules.New(modules.Options{
		Store:   store,
		Loaders: loaders,
		Libexec: opts.Libexec,
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return []error{err}
	}
	rep := mods.DryRun(path)
	errs := rep.Errors
	if len(errs) == 0 {
		// The dry run validated the tree; the server's own cross-option checks
		// (a TCP control listener needs authentication) come on top.
		tree, err := config.ParseFile(path)
		if err != nil {
			return []error{err}
		}
		g, err := store.Registry().Build(tree)
		if err != nil {
			return []error{err}
		}
		defer g.Release()
		if _, err := core.read(g); err != nil {
			errs = append(errs, err)
		}
		// The ESMTP listener's Listen and Peer names, which only its ExtInit
		// would parse otherwise.
		var list config.ErrorList
		if err := esmtp.CheckConfig(tree); errors.As(err, &list) {
			errs = append(errs, list...)
		}
	}
	for _, p := range mods.ScanProblems() {
		errs = append(errs, fmt.Errorf("libexec: %w", p))
	}
	return errs
}
