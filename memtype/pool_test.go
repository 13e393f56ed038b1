package memtype

import (
	"errors"
	"reflect"
	"sync"
	"testing"
)

type session struct {
	id    uint64
	state [56]byte
}

type withPointers struct {
	name string
	next *withPointers
	buf  [16]byte
}

func TestPoolGetPut(t *testing.T) {
	r, _ := newTestRegistry(t, Options{})
	p, err := NewFixed[session](r, "esmtp:session")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Type().Size(); got != 64 {
		t.Fatalf("type size = %d, want 64", got)
	}
	a := p.Get()
	a.id = 7
	a.state[0] = 1
	if err := p.Put(a); err != nil {
		t.Fatal(err)
	}
	// Whether or not the pool hands the same object back, it must look like new(T).
	b := p.Get()
	if *b != (session{}) {
		t.Errorf("Get returned a dirty object: %+v", *b)
	}
	st := p.Type().Stats()
	if st.Active != 1 || st.PeakActive != 1 || st.Allocs != 2 || st.Bytes != 64 || st.PeakBytes != 64 {
		t.Errorf("stats = %+v, want active 1, peak 1, allocs 2, bytes 64, peak bytes 64", st)
	}
	if err := p.Put(nil); err != nil {
		t.Errorf("Put(nil) = %v, want nil", err)
	}
}

func TestNewFixedErrors(t *testing.T) {
	r, _ := newTestRegistry(t, Options{})
	if _, err := NewFixed[struct{}](r, "empty:struct"); !errors.Is(err, ErrBadSize) {
		t.Errorf("zero-size T: error = %v, want ErrBadSize", err)
	}
	if _, err := NewFixed[session](r, "dup:pool"); err != nil {
		t.Fatal(err)
	}
	if _, err := NewFixed[session](r, "dup:pool"); !errors.Is(err, ErrDuplicate) {
		t.Errorf("second NewFixed: error = %v, want ErrDuplicate", err)
	}
}

// TestPoolCountersConcurrent holds every object at once behind a barrier, so the peak
// is known exactly even though goroutines interleave freely.
func TestPoolCountersConcurrent(t *testing.T) {
	const workers, each, rounds = 8, 50, 20
	r, _ := newTestRegistry(t, Options{})
	p, err := NewFixed[session](r, "conc:session")
	if err != nil {
		t.Fatal(err)
	}
	var held, done sync.WaitGroup
	held.Add(workers)
	done.Add(workers)
	release := make(chan struct{})
	for w := range workers {
		go func() {
			defer done.Done()
			// Churn first: get and put in a loop, checking nobody else holds our object.
			for i := range rounds * each {
				s := p.Get()
				s.id = uint64(w<<32 | i)
				if s.id != uint64(w<<32|i) {
					t.Errorf("object shared between goroutines")
				}
				if err := p.Put(s); err != nil {
					t.Error(err)
				}
			}
			objs := make([]*session, each)
			for i := range objs {
				objs[i] = p.Get()
			}
			held.Done()
			<-release
			for _, s := range objs {
				if err := p.Put(s); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	held.Wait()
	if st := p.Type().Stats(); st.Active != workers*each {
		t.Errorf("active while held = %d, want %d", st.Active, workers*each)
	}
	close(release)
	done.Wait()
	st := p.Type().Stats()
	want := Stats{
		Name: "conc:session", Kind: Fixed, Size: 64,
		Active: 0, PeakActive: workers * each, Allocs: workers * each * (rounds + 1),
		Bytes: 0, PeakBytes: workers * each * 64,
	}
	if st != want {
		t.Errorf("stats = %+v\nwant    %+v", st, want)
	}
}

func TestHasPointers(t *testing.T) {
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"session", hasPointers(reflect.TypeFor[session]()), false},
		{"array of int", hasPointers(reflect.TypeFor[[4]int64]()), false},
		{"string", hasPointers(reflect.TypeFor[string]()), true},
		{"struct with pointer", hasPointers(reflect.TypeFor[withPointers]()), true},
		{"array of slices", hasPointers(reflect.TypeFor[[2][]byte]()), true},
		{"empty array of pointers", hasPointers(reflect.TypeFor[[0]*int]()), false},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: hasPointers = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
}
