package modules

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestImplicitLoadingEachProvidesForm loads a module only because an option
// its manifest provides appears at the matching scope, for every form of
// msys.provides; the same option at another scope loads nothing.
func TestImplicitLoadingEachProvidesForm(t *testing.T) {
	specs := []spec{
		{name: "pg", singleton: true, provides: []string{"Global:PG_Opt"}},
		{name: "pb", singleton: true, provides: []string{"Global:Binding.PB_Opt"}},
		{name: "pd", provides: []string{"Global:Domain.PD_Opt"}},
		{name: "pbd", singleton: true, provides: []string{"Global:Binding:Domain.PBD_Opt"}},
	}
	tests := []struct {
		name string
		conf string
		want []string
	}{
		{"global", "PG_Opt = x\n", []string{"pg"}},
		{"binding", "Binding \"b\" { PB_Opt = x }\n", []string{"pb"}},
		{"domain", "Domain \"example.com\" { PD_Opt = x }\n", []string{"pd:pd"}},
		{"binding-domain", "Binding \"b\" { Domain \"example.com\" { PBD_Opt = x } }\n", []string{"pbd"}},
		{"binding-group-binding-domain", "Binding_Group \"g\" { Binding \"b\" { Domain \"example.com\" { PBD_Opt = x } } }\n", []string{"pbd"}},
		{"two forms, file order", "Domain \"d\" { PD_Opt = x }\nPG_Opt = y\n", []string{"pd:pd", "pg"}},
		{"nothing used", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, specs)
			h.start(tc.conf)
			if got := h.loaded(); len(got)+len(tc.want) > 0 && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("loaded %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("wrong scope loads nothing", func(t *testing.T) {
		h := newHarness(t, specs)
		// PD_Opt is provided at Domain only: at Global it names nothing
		// loadable, and validation rejects the unknown option.
		err := h.m.Start(t.Context(), h.write("PD_Opt = x\n"))
		if err == nil {
			t.Fatal("Start accepted an option at a scope no module provides")
		}
		if got := h.loaded(); len(got) != 0 {
			t.Errorf("loaded %v", got)
		}
	})
}

// TestImplicitLoadingFromScannedManifest loads a built-in module without a
// compiled-in manifest through an .ecm found in the libexec path.
func TestImplicitLoadingFromScannedManifest(t *testing.T) {
	libexec := t.TempDir()
	if err := os.WriteFile(filepath.Join(libexec, "scanned.ecm"), []byte("[scanned]\nmsys.provides:auto = config.Global:Scanned_Opt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(libexec, "broken.ecm"), []byte("[broken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := NewBuiltins()
	rec := newRecorder()
	sp := spec{name: "scanned", singleton: true, provides: []string{"Global:Scanned_Opt"}}
	b.Register(Info{Name: "scanned", Singleton: true, New: func() Module { return &testMod{sp: sp, rec: rec} }})
	h := newHarness(t, nil, func(o *Options) { o.Loaders = []Loader{b.Loader()}; o.Libexec = []string{libexec} })
	h.start("Scanned_Opt = 1\n")
	if got := h.loaded(); !reflect.DeepEqual(got, []string{"scanned"}) {
		t.Errorf("loaded %v", got)
	}
	if probs := h.m.ScanProblems(); len(probs) != 1 || !strings.Contains(probs[0].Error(), "broken.ecm") {
		t.Errorf("scan problems %v, want the malformed broken.ecm reported", probs)
	}
}

// TestDependencyOrder loads requirements first, transitively, and otherwise
// keeps the order of the configuration file.
func TestDependencyOrder(t *testing.T) {
	specs := []spec{
		{name: "a", singleton: true, requires: []string{"b"}},
		{name: "b", requires: []string{"c"}},
		{name: "c", singleton: true},
		{name: "x", singleton: true},
		{name: "y", singleton: true},
	}
	tests := []struct {
		conf string
		want []string
	}{
		{"x {}\na {}\ny {}\n", []string{"x", "c", "b:b", "a", "y"}},
		{"y {}\nx {}\n", []string{"y", "x"}},
		// b's explicit instances satisfy a's requirement and load before a,
		// in their own file order, though written after it.
		{"a {}\nb \"two\" {}\nb \"one\" {}\n", []string{"c", "b:two", "b:one", "a"}},
	}
	for _, tc := range tests {
		h := newHarness(t, specs)
		h.start(tc.conf)
		if got := h.loaded(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: load order %v, want %v", tc.conf, got, tc.want)
		}
		var inits []string
		for _, e := range h.rec.matching("init ") {
			inits = append(inits, strings.Fields(e)[1])
		}
		if !reflect.DeepEqual(inits, tc.want) {
			t.Errorf("%q: ext_init order %v, want %v", tc.conf, inits, tc.want)
		}
	}
}

// TestDependencyErrors rejects cycles and missing modules with the chain
// named, and leaves the running generation in place.
func TestDependencyErrors(t *testing.T) {
	specs := []spec{
		{name: "a", singleton: true, requires: []string{"b"}},
		{name: "b", singleton: true, requires: []string{"c"}},
		{name: "c", singleton: true, requires: []string{"a"}},
		{name: "lonely", singleton: true, requires: []string{"ghost"}},
		{name: "top", singleton: true, requires: []string{"lonely"}},
		{name: "ok", singleton: true},
		{name: "ns"},
	}
	tests := []struct {
		name, conf string
		is         error
		want       []string
	}{
		{"cycle", "a {}\n", ErrCycle, []string{"a -> b -> c -> a"}},
		{"missing dependency", "top {}\n", ErrMissing, []string{"top -> lonely -> ghost"}},
		{"singleton with instance name", "ok \"x\" {}\n", ErrStanza, []string{"singleton", "ok"}},
		{"non-singleton without instance name", "ns {}\n", ErrStanza, []string{"needs an instance name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, specs)
			h.start("ok {}\n")
			err := h.reload(tc.conf)
			if !errors.Is(err, tc.is) || !errors.Is(err, ErrRejected) {
				t.Fatalf("Reload = %v, want %v and ErrRejected", err, tc.is)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if got := h.loaded(); !reflect.DeepEqual(got, []string{"ok"}) {
				t.Errorf("running generation changed to %v", got)
			}
		})
	}
}

// TestUnknownModuleIsMissing reports a manifest without code as missing, both
// when a stanza names it and in the catalogue.
func TestUnknownModuleIsMissing(t *testing.T) {
	libexec := t.TempDir()
	if err := os.WriteFile(filepath.Join(libexec, "nocode.ecm"), []byte("[nocode]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, nil, func(o *Options) { o.Libexec = []string{libexec} })
	err := h.m.Start(t.Context(), h.write("nocode {}\n"))
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "nocode") {
		t.Fatalf("Start = %v, want ErrMissing naming nocode", err)
	}
	mods := h.m.Modules()
	if len(mods) != 1 || mods[0].State != Missing || !strings.Contains(mods[0].Reason, "no built-in module") {
		t.Errorf("catalogue %+v", mods)
	}
}
