package modules

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/ecm"
	"github.com/ecelerity-go/ecelerity/hooks"
)

// State is where a module stands in the catalogue.
type State string

// The catalogue states.
const (
	// Unknown: catalogued (built in, or declared by an .ecm) but not loaded in
	// the current generation, and nothing has failed.
	Unknown State = "unknown"
	// Missing: no loader can open the module (Reason says why): an .ecm
	// without code, or a name the configuration uses that nothing provides.
	Missing State = "missing"
	// Loaded: the current generation has at least one instance.
	Loaded State = "loaded"
	// Failed: its conf_setup failed, or its ext_init failed and it is not in
	// the current generation (Reason says which and why).
	Failed State = "failed"
	// Orphaned: not in the current generation, but an older generation that
	// is still referenced holds an instance.
	Orphaned State = "orphaned"
)

// entry is one catalogued module. Manager.mu guards every field.
type entry struct {
	name    string     // canonical spelling
	found   *ecm.Found // manifest facts; nil when there is none
	info    *Info      // nil when no loader opened the module
	openErr error      // why no loader opened it

	setupDone      bool
	setupErr       error
	shared         any
	singleton      Module // the one infrastructure object of a singleton
	enabledOpt     *config.Option[bool]
	hooksFn        func(*hooks.Registry) error
	hooksCommitted bool  // hooksFn's registrations are in a committed registry
	lastErr        error // the last ext_init failure, cleared when it loads again
	description    string
}

func (e *entry) isSingleton() bool { return e.info != nil && e.info.Singleton }

// usable reports whether a reload can load the module.
func (e *entry) usable() bool { return e.info != nil && e.setupErr == nil }

func (e *entry) missingErr() error {
	return fmt.Errorf("%w: %s: %v", ErrMissing, e.name, e.openErr)
}

// provider is one msys.provides capability of a catalogued module.
type provider struct {
	e    *entry
	path []string // lower-case scope keywords below Global, groups dropped
}

// refreshLocked rescans the libexec directories and the loaders and updates
// the catalogue. Modules already set up keep their Info and manifest: their
// code is in the process. m.mu must be held.
func (m *Manager) refreshLocked() {
	res := ecm.Scan(m.opts.Libexec)
	m.problems = res.Problems
	var names []string
	seen := map[string]bool{}
	add := func(n string) {
		if k := strings.ToLower(n); !seen[k] {
			seen[k] = true
			names = append(names, n)
		}
	}
	for _, f := range res.Modules {
		add(f.Name)
	}
	for _, l := range m.opts.Loaders {
		if ls, ok := l.(Lister); ok {
			for _, n := range ls.Names() {
				add(n)
			}
		}
	}
	order := make([]*entry, 0, len(names))
	for _, n := range names {
		key := strings.ToLower(n)
		e := m.entries[key]
		if e == nil {
			e = &entry{name: n}
			m.entries[key] = e
		}
		order = append(order, e)
		if e.setupDone {
			continue
		}
		var found *ecm.Found
		if f, ok := res.Lookup(n); ok {
			found = &f
		}
		e.info, e.openErr, e.found = nil, nil, found
		var reasons []string
		for _, l := range m.opts.Loaders {
			info, err := l.Open(n, found)
			if err != nil {
				reasons = append(reasons, fmt.Sprintf("%s: %v", l.Kind(), err))
				continue
			}
			e.info = info
			e.name = info.Name
			break
		}
		if e.info == nil {
			if len(reasons) == 0 {
				reasons = append(reasons, "no loader")
			}
			e.openErr = errors.New(strings.Join(reasons, "; "))
			continue
		}
		if len(e.info.Manifest) > 0 {
			// Register checked the manifest already.
			mans, _ := ecm.Parse(e.info.Name+".ecm", strings.NewReader(string(e.info.Manifest)))
			if len(mans) == 1 {
				e.found = &ecm.Found{Manifest: mans[0], File: "builtin:" + e.info.Name + ".ecm"}
			}
		}
	}
	// Entries that disappeared from the scan stay if they were set up (their
	// code is loaded); the others are dropped.
	for key, e := range m.entries {
		if !seen[key] && !e.setupDone {
			delete(m.entries, key)
		} else if !seen[key] {
			order = append(order, e)
		}
	}
	m.order = order
	m.provides = map[string][]provider{}
	for _, e := range order {
		if e.found == nil {
			continue
		}
		for _, c := range e.found.Provides {
			if c.Kind != "config" {
				continue
			}
			k := strings.ToLower(c.Option)
			m.provides[k] = append(m.provides[k], provider{e: e, path: normScopes(c.Scopes[1:])})
		}
	}
}

// normScopes lower-cases scope keywords and drops a group level directly
// above its member (a binding's group follows from where it is declared), so
// that Binding_Group:Binding:Domain and Binding:Domain match alike.
func normScopes(kws []string) []string {
	out := make([]string, 0, len(kws))
	for i, kw := range kws {
		lk := strings.ToLower(kw)
		if i+1 < len(kws) {
			next := strings.ToLower(kws[i+1])
			if lk == "binding_group" && next == "binding" || lk == "pathway_group" && next == "pathway" {
				continue
			}
		}
		out = append(out, lk)
	}
	return out
}

// ModuleStatus is one module as `module list` shows it.
type ModuleStatus struct {
	Name      string
	Kind      Kind // "" when no loader opened it
	State     State
	Reason    string // why missing or failed; the last failure of a loaded module
	Singleton bool
	// Generation is the newest live generation holding the module; 0 if none.
	Generation uint64
	// Instances are the instance names in the current generation ("" for a
	// singleton), with whether each is enabled.
	Instances   []InstanceStatus
	Description string
	Manifest    string // the .ecm the facts come from
	Requires    []string
	Provides    []string
}

// InstanceStatus is one loaded instance.
type InstanceStatus struct {
	Name    string
	Enabled bool
}

// Modules returns the catalogue, sorted by name. Any goroutine.
func (m *Manager) Modules() []ModuleStatus {
	cur := m.Current()
	if cur != nil {
		defer cur.Release()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]ModuleStatus, 0, len(m.entries))
	for _, e := range m.entries {
		st := ModuleStatus{Name: e.name, Singleton: e.isSingleton(), Description: e.description}
		if e.info != nil {
			st.Kind = e.info.Kind
		}
		if e.found != nil {
			st.Manifest = e.found.File
			st.Requires = append(st.Requires, e.found.Requires...)
			for _, c := range e.found.Provides {
				st.Provides = append(st.Provides, c.String())
			}
		}
		if cur != nil {
			for _, in := range cur.units {
				if in.e == e {
					st.Instances = append(st.Instances, InstanceStatus{Name: in.name, Enabled: in.enabled})
				}
			}
		}
		for _, g := range m.live {
			for _, in := range g.units {
				if in.e == e && g.id > st.Generation {
					st.Generation = g.id
				}
			}
		}
		switch {
		case e.info == nil:
			st.State, st.Reason = Missing, e.openErr.Error()
		case e.setupErr != nil:
			st.State, st.Reason = Failed, e.setupErr.Error()
		case len(st.Instances) > 0:
			st.State = Loaded
			if e.lastErr != nil {
				st.Reason = "last reload: " + e.lastErr.Error()
			}
		case e.lastErr != nil:
			st.State, st.Reason = Failed, e.lastErr.Error()
		case st.Generation != 0:
			st.State = Orphaned
			st.Reason = fmt.Sprintf("held by generation %d, not in the current one", st.Generation)
		default:
			st.State = Unknown
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out
}

// ScanProblems returns the malformed manifests found by the last scan of the
// libexec path; they were skipped. Any goroutine.
func (m *Manager) ScanProblems() []error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]error(nil), m.problems...)
}

// FormatModuleList renders mods as the console's `module list`: one block per
// module instance (per module when it has none loaded), in the Momentum
// layout, with the catalogue's kind, state and reason added.
func FormatModuleList(mods []ModuleStatus) string {
	var b strings.Builder
	for _, st := range mods {
		insts := st.Instances
		if len(insts) == 0 {
			insts = []InstanceStatus{{Name: "", Enabled: false}}
		}
		for _, in := range insts {
			api := "Module"
			if st.Singleton {
				api = "Singleton"
			}
			if st.Singleton || in.Name == "" {
				fmt.Fprintf(&b, "Module: %s\n", st.Name)
			} else {
				fmt.Fprintf(&b, "Module: %s:%s\n", st.Name, in.Name)
			}
			fmt.Fprintf(&b, "  Scope_Name: %s\n", st.Name)
			if !st.Singleton && in.Name != "" {
				fmt.Fprintf(&b, "  Instance_Name: %s\n", in.Name)
			}
			if st.State == Loaded {
				fmt.Fprintf(&b, "  Enabled: %s\n", enabledWord(in.Enabled))
			}
			fmt.Fprintf(&b, "  API: %s\n", api)
			kind := string(st.Kind)
			if kind == "" {
				kind = "none"
			}
			fmt.Fprintf(&b, "  Kind: %s\n", kind)
			if st.Manifest != "" {
				fmt.Fprintf(&b, "  Name: %s\n", st.Manifest)
			}
			if st.Description != "" {
				fmt.Fprintf(&b, "  Description: %s\n", st.Description)
			}
			fmt.Fprintf(&b, "  State: %s\n", st.State)
			if st.Generation != 0 {
				fmt.Fprintf(&b, "  Generation: %d\n", st.Generation)
			}
			if st.Reason != "" {
				fmt.Fprintf(&b, "  Reason: %s\n", st.Reason)
			}
		}
	}
	return b.String()
}

func enabledWord(on bool) string {
	if on {
		return "enabled"
	}
	return "disabled"
}
