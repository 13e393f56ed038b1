package memtype

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

// newTestRegistry returns a registry whose misuse reports are collected rather than
// logged, so tests can check that misuse is reported and keep the test output clean.
func newTestRegistry(t *testing.T, opts Options) (*Registry, *reports) {
	t.Helper()
	rep := &reports{}
	opts.Report = rep.add
	return NewRegistry(opts), rep
}

type reports struct {
	mu   sync.Mutex
	errs []error
}

func (r *reports) add(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *reports) list() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

func TestRegister(t *testing.T) {
	tests := []struct {
		name    string
		spec    Spec
		wantErr error
		kind    Kind
	}{
		{name: "fixed", spec: Spec{Name: "esmtp:session", Size: 512}, kind: Fixed},
		{name: "variable", spec: Spec{Name: "string"}, kind: Variable},
		{name: "duplicate", spec: Spec{Name: "taken:type", Size: 8}, wantErr: ErrDuplicate},
		{name: "duplicate of other kind", spec: Spec{Name: "taken:type"}, wantErr: ErrDuplicate},
		{name: "empty name", spec: Spec{Name: ""}, wantErr: ErrBadName},
		{name: "space in name", spec: Spec{Name: "mod: desc"}, wantErr: ErrBadName},
		{name: "control char in name", spec: Spec{Name: "mod:\x01"}, wantErr: ErrBadName},
		{name: "name too long", spec: Spec{Name: strings.Repeat("x", MaxNameLen+1)}, wantErr: ErrBadName},
		{name: "negative size", spec: Spec{Name: "neg:size", Size: -1}, wantErr: ErrBadSize},
		{name: "size too large", spec: Spec{Name: "big:size", Size: MaxSize + 1}, wantErr: ErrBadSize},
	}
	r, _ := newTestRegistry(t, Options{})
	if _, err := r.Register(Spec{Name: "taken:type", Size: 16}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ty, err := r.Register(tc.spec)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Register(%+v) error = %v, want %v", tc.spec, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Register(%+v): %v", tc.spec, err)
			}
			if ty.Kind() != tc.kind || ty.Name() != tc.spec.Name || ty.Size() != tc.spec.Size {
				t.Errorf("got %s %q size %d, want %s %q size %d", ty.Kind(), ty.Name(), ty.Size(), tc.kind, tc.spec.Name, tc.spec.Size)
			}
			if got, ok := r.Lookup(tc.spec.Name); !ok || got != ty {
				t.Errorf("Lookup(%q) = %v, %v; want the registered type", tc.spec.Name, got, ok)
			}
		})
	}
}

func TestSnapshotSorted(t *testing.T) {
	r, _ := newTestRegistry(t, Options{})
	for _, name := range []string{"zeta:z", "alpha:a", "mid:m"} {
		if _, err := r.Register(Spec{Name: name}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, s := range r.Snapshot() {
		got = append(got, s.Name)
	}
	if want := "alpha:a mid:m zeta:z"; strings.Join(got, " ") != want {
		t.Errorf("Snapshot order = %v, want %s", got, want)
	}
}

func TestDefaultRegistryIsShared(t *testing.T) {
	if Default() != Default() {
		t.Fatal("Default returned two registries")
	}
}
