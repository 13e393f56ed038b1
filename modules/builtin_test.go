package modules

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestRegisterRejectsProgrammerErrors: bad names, duplicates, a missing
// constructor and a manifest for another module panic; listings are sorted.
func TestRegisterRejectsProgrammerErrors(t *testing.T) {
	newMod := func() Module { return struct{}{} }
	tests := []struct {
		name string
		info Info
	}{
		{"empty name", Info{Name: "", New: newMod}},
		{"bad name", Info{Name: "has space", New: newMod}},
		{"leading dash", Info{Name: "-x", New: newMod}},
		{"nil New", Info{Name: "x"}},
		{"duplicate, other case", Info{Name: "DUP", New: newMod}},
		{"manifest of another module", Info{Name: "y", New: newMod, Manifest: []byte("[z]\n")}},
		{"malformed manifest", Info{Name: "y", New: newMod, Manifest: []byte("[y]\nmsys.provides = nonsense\n")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuiltins()
			b.Register(Info{Name: "dup", New: newMod})
			defer func() {
				if recover() == nil {
					t.Errorf("Register(%+v) did not panic", tc.info)
				}
			}()
			b.Register(tc.info)
		})
	}
	b := NewBuiltins()
	for _, n := range []string{"zeta", "alpha", "mid"} {
		b.Register(Info{Name: n, New: newMod})
	}
	var names []string
	for _, i := range b.List() {
		names = append(names, i.Name)
	}
	if !reflect.DeepEqual(names, []string{"alpha", "mid", "zeta"}) {
		t.Errorf("List order %v", names)
	}
}

// panicky panics in ExtInit(Init).
type panicky struct{}

func (panicky) ExtInit(*InitCtx, Mode) error { panic("boom") }

// TestModulePanicRejectsReload: a panic in module code is a failure of that
// module's reload, not of the process.
func TestModulePanicRejectsReload(t *testing.T) {
	b := NewBuiltins()
	b.Register(Info{Name: "panicky", Singleton: true, New: func() Module { return panicky{} }})
	h := newHarness(t, nil, func(o *Options) { o.Loaders = []Loader{b.Loader()} })
	err := h.m.Start(context.Background(), h.write("panicky {}\n"))
	if !errors.Is(err, ErrInit) || !strings.Contains(err.Error(), "panic: boom") {
		t.Fatalf("Start = %v, want ErrInit with the panic", err)
	}
}
