package modules

import (
	"fmt"
	"strings"

	"github.com/ecelerity-go/ecelerity/config"
)

// DryRunReport says what a reload would change, without changing anything.
type DryRunReport struct {
	// Current is the generation the report compares against.
	Current uint64
	// Added, Removed and Reconfigured list module instances ("name" or
	// "name:instance"): new in the file, gone from it, and with a different
	// stanza or provided options. Unchanged lists the rest.
	Added, Removed, Reconfigured, Unchanged []string
	// Errors lists every problem that would reject the reload: parse,
	// resolution, conf_setup and validation. ext_init is not run: it would
	// act on live singletons and on resources instances acquire.
	Errors []error
}

// OK reports whether the reload would pass every check the dry run makes.
func (r *DryRunReport) OK() bool { return len(r.Errors) == 0 }

// String renders the report for the console.
func (r *DryRunReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Dry run against generation %d:\n", r.Current)
	list := func(title string, xs []string) {
		if len(xs) == 0 {
			return
		}
		fmt.Fprintf(&b, "  %s: %s\n", title, strings.Join(xs, ", "))
	}
	list("Added", r.Added)
	list("Removed", r.Removed)
	list("Reconfigured", r.Reconfigured)
	list("Unchanged", r.Unchanged)
	if r.OK() {
		b.WriteString("  The reload would be accepted (ext_init not run).\n")
		return b.String()
	}
	fmt.Fprintf(&b, "  The reload would be rejected, %d errors:\n", len(r.Errors))
	for _, err := range r.Errors {
		fmt.Fprintf(&b, "    %s\n", strings.ReplaceAll(err.Error(), "\n", "\n    "))
	}
	return b.String()
}

// DryRun works out what Reload(path) would do and reports it without
// committing. It runs conf_setup for modules new to the process, because
// their options must be defined before the file can be validated; that is a
// once-per-process step a real reload would run the same way, and it loads
// nothing. Not on the loop.
func (m *Manager) DryRun(path string) *DryRunReport {
	r := &DryRunReport{}
	if m.opts.Loop != nil && m.opts.Loop.OnLoop() {
		r.Errors = []error{ErrOnLoop}
		return r
	}
	m.reloadMu.Lock()
	defer m.reloadMu.Unlock()
	cur := m.Current()
	if cur == nil {
		r.Errors = []error{ErrClosed}
		return r
	}
	defer cur.Release()
	r.Current = cur.id
	if path == "" {
		path = m.store.Path()
	}
	tree, err := config.ParseFile(path)
	if err != nil {
		r.Errors = flatten(err)
		return r
	}
	m.mu.Lock()
	m.refreshLocked()
	pl := m.resolveLocked(tree)
	m.mu.Unlock()
	r.Errors = append(r.Errors, pl.errs...)
	r.Errors = append(r.Errors, m.setupAll(pl, false)...)
	if g, err := m.store.Registry().Build(tree); err != nil {
		r.Errors = append(r.Errors, flatten(err)...)
	} else {
		g.Release()
	}

	old := map[string]string{}
	for _, in := range cur.units {
		old[strings.ToLower(in.label())] = in.sig
	}
	seen := map[string]bool{}
	for _, u := range pl.units {
		key := strings.ToLower(u.label())
		seen[key] = true
		sig, ok := old[key]
		switch {
		case !ok:
			r.Added = append(r.Added, u.label())
		case sig != u.sig:
			r.Reconfigured = append(r.Reconfigured, u.label())
		default:
			r.Unchanged = append(r.Unchanged, u.label())
		}
	}
	for _, in := range cur.units {
		if !seen[strings.ToLower(in.label())] {
			r.Removed = append(r.Removed, in.label())
		}
	}
	return r
}
