package modules

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var consoleSpecs = []spec{
	{name: "a", singleton: true},
	{name: "c", singleton: true},
	{name: "ns"},
	{name: "cyc1", singleton: true, requires: []string{"cyc2"}},
	{name: "cyc2", singleton: true, requires: []string{"cyc1"}},
	{name: "prov", singleton: true, provides: []string{"Global:Domain.Prov_Opt"}},
}

// TestDryRun reports added, removed and reconfigured instances and every
// error, and changes nothing.
func TestDryRun(t *testing.T) {
	h := newHarness(t, consoleSpecs)
	h.start("a { level = 1 }\nns \"x\" {}\nns \"keep\" {}\nDomain \"d\" { Prov_Opt = 1 }\n")
	before := h.m.Current()
	defer before.Release()
	inits := len(h.rec.matching("init "))

	tests := []struct {
		name                                    string
		conf                                    string
		added, removed, reconfigured, unchanged []string
		errs                                    []string
	}{
		{
			name:         "changes",
			conf:         "a { level = 2 }\nns \"keep\" {}\nns \"y\" {}\nc {}\nDomain \"d\" { Prov_Opt = 2 }\n",
			added:        []string{"ns:y", "c"},
			removed:      []string{"ns:x"},
			reconfigured: []string{"a", "prov"},
			unchanged:    []string{"ns:keep"},
		},
		{
			name:      "identical",
			conf:      "a { level = 1 }\nns \"x\" {}\nns \"keep\" {}\nDomain \"d\" { Prov_Opt = 1 }\n",
			unchanged: []string{"a", "ns:x", "ns:keep", "prov"},
		},
		{
			name:    "every error",
			conf:    "a { levle = 1 }\ncyc1 {}\nns {}\n",
			added:   []string{"cyc2", "cyc1"},
			removed: []string{"ns:x", "ns:keep"},
			// prov's Domain option is gone, but a committed singleton stays.
			reconfigured: []string{"a", "prov"},
			errs:         []string{"cyc1 -> cyc2 -> cyc1", "needs an instance name", "levle"},
		},
		{name: "syntax", conf: "a {\n", errs: []string{"ecelerity"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := h.m.DryRun(h.write(tc.conf))
			for _, c := range []struct {
				what      string
				got, want []string
			}{{"added", r.Added, tc.added}, {"removed", r.Removed, tc.removed}, {"reconfigured", r.Reconfigured, tc.reconfigured}, {"unchanged", r.Unchanged, tc.unchanged}} {
				if len(c.got)+len(c.want) > 0 && !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
				}
			}
			text := r.String()
			if r.OK() != (len(tc.errs) == 0) {
				t.Errorf("OK = %v with errors %v", r.OK(), r.Errors)
			}
			for _, e := range tc.errs {
				if !strings.Contains(text, e) {
					t.Errorf("report does not mention %q:\n%s", e, text)
				}
			}
		})
	}
	after := h.m.Current()
	defer after.Release()
	if after != before || len(h.rec.matching("init ")) != inits {
		t.Errorf("dry run changed the running generation or ran ext_init")
	}
}

// TestModuleListText renders `module list` in the Momentum block shape, with
// kind, state, generation and reason.
func TestModuleListText(t *testing.T) {
	h := newHarness(t, []spec{
		{name: "a", singleton: true},
		{name: "ns"},
		{name: "bad", singleton: true, failSetup: true},
	})
	h.start("a {}\nns \"one\" { enabled = false }\n")
	_ = h.reload("a {}\nns \"one\" { enabled = false }\nbad {}\n")
	got := h.m.Command
	text, err := got([]string{"module", "list"})
	if err != nil {
		t.Fatal(err)
	}
	want := `Module: a
  Scope_Name: a
  Enabled: enabled
  API: Singleton
  Kind: builtin
  Name: builtin:a.ecm
  Description: test module a
  State: loaded
  Generation: 2
Module: bad
  Scope_Name: bad
  API: Singleton
  Kind: builtin
  Name: builtin:bad.ecm
  State: failed
  Reason: modules: bad: conf_setup: setup of bad refused
Module: ns:one
  Scope_Name: ns
  Instance_Name: one
  Enabled: disabled
  API: Module
  Kind: builtin
  Name: builtin:ns.ecm
  Description: test module ns
  State: loaded
  Generation: 2
`
	if text != want {
		t.Errorf("module list:\n%s\nwant:\n%s", text, want)
	}
	// A disabled instance is loaded passively: no ext_init.
	if n := len(h.rec.matching("init ns:one")); n != 0 {
		t.Errorf("disabled instance initialised %d times", n)
	}
	gens, err := h.m.Command([]string{"generations"})
	if err != nil || !strings.Contains(gens, "2*") || !strings.Contains(gens, "a, ns:one") {
		t.Errorf("generations:\n%s (%v)", gens, err)
	}
}

// TestControlRouting sends "name[:instance] args" to the right instance.
func TestControlRouting(t *testing.T) {
	h := newHarness(t, consoleSpecs)
	h.start("a {}\nns \"x\" {}\nns \"y\" {}\n")
	tests := []struct {
		args []string
		want string
		err  error
	}{
		{[]string{"a", "status"}, "a gen=2 args=[status]", nil},
		{[]string{"A", "status"}, "a gen=2 args=[status]", nil},
		{[]string{"ns:y", "reopen", "logs"}, "ns:y gen=2 args=[reopen logs]", nil},
		{[]string{"ns", "status"}, "", ErrUnknownCommand},
		{[]string{"ns:z", "status"}, "", ErrUnknownCommand},
		{[]string{"nope"}, "", ErrUnknownCommand},
		{[]string{}, "", ErrUnknownCommand},
	}
	for _, tc := range tests {
		out, err := h.m.Control(tc.args)
		if !errors.Is(err, tc.err) || (tc.err == nil && out != tc.want) {
			t.Errorf("Control(%q) = %q, %v; want %q, %v", tc.args, out, err, tc.want, tc.err)
		}
	}
	if _, err := h.m.Control([]string{"a", "fail"}); err == nil || !strings.Contains(err.Error(), "a: asked to fail") {
		t.Errorf("module error = %v, want it named", err)
	}
}
