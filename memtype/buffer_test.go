package memtype

import (
	"bytes"
	"errors"
	"sync"
	"testing"
)

func TestAllocSizes(t *testing.T) {
	r, _ := newTestRegistry(t, Options{})
	fixed, _ := r.Register(Spec{Name: "fix:32", Size: 32})
	vsize, _ := r.Register(Spec{Name: "var:buf"})
	tests := []struct {
		name    string
		ty      *Type
		n       int
		wantErr error
	}{
		{"fixed own size", fixed, 32, nil},
		{"fixed other size", fixed, 31, ErrBadSize},
		{"variable zero", vsize, 0, nil},
		{"variable some", vsize, 1000, nil},
		{"negative", vsize, -1, ErrBadSize},
		{"too large", vsize, MaxSize + 1, ErrBadSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tc.ty.Alloc(tc.n)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Alloc(%d) error = %v, want %v", tc.n, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if len(b) != tc.n {
				t.Fatalf("len = %d, want %d", len(b), tc.n)
			}
			if !bytes.Equal(b, make([]byte, tc.n)) {
				t.Errorf("fresh buffer not zeroed")
			}
			if err := tc.ty.Free(b); err != nil {
				t.Errorf("Free: %v", err)
			}
		})
	}
	if st := vsize.Stats(); st.Active != 0 || st.Bytes != 0 || st.PeakBytes != 1000 || st.Allocs != 2 {
		t.Errorf("variable stats = %+v, want active 0, bytes 0, peak 1000, allocs 2", st)
	}
}

func TestRealloc(t *testing.T) {
	tests := []struct {
		name     string
		fill     bool
		from, to int
	}{
		{"grow", false, 5, 100},
		{"grow with fill", true, 5, 100},
		{"shrink", false, 100, 5},
		{"to zero", false, 10, 0},
		{"from zero", true, 0, 10},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := newTestRegistry(t, Options{Fill: tc.fill})
			ty, _ := r.Register(Spec{Name: "var:realloc"})
			b, err := ty.Alloc(tc.from)
			if err != nil {
				t.Fatal(err)
			}
			for i := range b {
				b[i] = byte(i)
			}
			nb, err := ty.Realloc(b, tc.to)
			if err != nil {
				t.Fatal(err)
			}
			if len(nb) != tc.to {
				t.Fatalf("len = %d, want %d", len(nb), tc.to)
			}
			keep := min(tc.from, tc.to)
			for i := range keep {
				if nb[i] != byte(i) {
					t.Fatalf("byte %d = %#x, want %#x", i, nb[i], byte(i))
				}
			}
			tail := byte(0)
			if tc.fill {
				tail = FillByte
			}
			for i := keep; i < tc.to; i++ {
				if nb[i] != tail {
					t.Fatalf("new byte %d = %#x, want %#x", i, nb[i], tail)
				}
			}
			st := ty.Stats()
			if st.Active != 1 || st.Allocs != 1 || st.Bytes != int64(tc.to) || st.PeakBytes != int64(max(tc.from, tc.to)) {
				t.Errorf("stats = %+v", st)
			}
			if err := ty.Free(nb); err != nil {
				t.Fatal(err)
			}
			if st := ty.Stats(); st.Active != 0 || st.Bytes != 0 {
				t.Errorf("after free: %+v", st)
			}
		})
	}
}

func TestReallocErrors(t *testing.T) {
	r, _ := newTestRegistry(t, Options{})
	fixed, _ := r.Register(Spec{Name: "fix:16", Size: 16})
	vsize, _ := r.Register(Spec{Name: "var:x"})
	b, _ := fixed.Alloc(16)
	if _, err := fixed.Realloc(b, 32); !errors.Is(err, ErrKind) {
		t.Errorf("realloc of fixed: error = %v, want ErrKind", err)
	}
	nb, err := vsize.Realloc(nil, 8)
	if err != nil || len(nb) != 8 || vsize.Stats().Allocs != 1 {
		t.Errorf("Realloc(nil, 8) = len %d, %v; allocs %d", len(nb), err, vsize.Stats().Allocs)
	}
	if _, err := vsize.Realloc(nb, -1); !errors.Is(err, ErrBadSize) {
		t.Errorf("realloc to -1: error = %v, want ErrBadSize", err)
	}
}

func TestStrdup(t *testing.T) {
	r, _ := newTestRegistry(t, Options{Fill: true})
	ty, _ := r.Register(Spec{Name: "string"})
	tests := []struct {
		name string
		s    string
		n    int // -2: use Strdup
		want string
		err  error
	}{
		{"strdup", "hello", -2, "hello", nil},
		{"strdup empty", "", -2, "", nil},
		{"strndup shorter", "hello", 3, "hel", nil},
		{"strndup longer", "hi", 10, "hi", nil},
		{"strndup zero", "hi", 0, "", nil},
		{"strndup negative", "hi", -1, "", ErrBadSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b []byte
			var err error
			if tc.n == -2 {
				b, err = ty.Strdup(tc.s)
			} else {
				b, err = ty.Strndup(tc.s, tc.n)
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("error = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if string(b) != tc.want {
				t.Errorf("got %q, want %q", b, tc.want)
			}
			if err := ty.Free(b); err != nil {
				t.Error(err)
			}
		})
	}
	if st := ty.Stats(); st.Active != 0 || st.Bytes != 0 || st.PeakBytes != 5 {
		t.Errorf("stats = %+v, want nothing live and a peak of 5 bytes", st)
	}
}

func TestBufferCountersConcurrent(t *testing.T) {
	const workers, each = 8, 40
	r, _ := newTestRegistry(t, Options{})
	ty, _ := r.Register(Spec{Name: "conc:buf"})
	var held, done sync.WaitGroup
	held.Add(workers)
	done.Add(workers)
	release := make(chan struct{})
	for range workers {
		go func() {
			defer done.Done()
			bufs := make([][]byte, each)
			for i := range bufs {
				b, err := ty.Alloc(i + 1)
				if err != nil {
					t.Error(err)
					return
				}
				if i%2 == 0 {
					// Grow and shrink back: resizes change bytes, not the allocation count.
					if b, err = ty.Realloc(b, 4*(i+1)); err == nil {
						b, err = ty.Realloc(b, i+1)
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
				bufs[i] = b
			}
			held.Done()
			<-release
			for _, b := range bufs {
				if err := ty.Free(b); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	held.Wait()
	perWorker := int64(each * (each + 1) / 2)
	if st := ty.Stats(); st.Active != workers*each || st.Bytes != workers*perWorker {
		t.Errorf("while held: %+v, want %d live, %d bytes", st, workers*each, workers*perWorker)
	}
	close(release)
	done.Wait()
	st := ty.Stats()
	if st.Active != 0 || st.Bytes != 0 || st.Allocs != workers*each || st.PeakActive != workers*each {
		t.Errorf("after: %+v", st)
	}
	if st.PeakBytes < workers*perWorker {
		t.Errorf("peak bytes %d below the %d held at once", st.PeakBytes, workers*perWorker)
	}
}
