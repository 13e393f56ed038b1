package memtype

import (
	"errors"
	"strings"
	"testing"
	"unsafe"
)

// misuseCase allocates with one type and frees with another (or twice, or a stranger),
// returning the free's error and a func that checks the memory is still live and
// frees it properly.
type misuseCase struct {
	name    string
	run     func(t *testing.T, r *Registry) (err error, cleanup func() error)
	wantErr error
	names   []string // the error text must name these types
}

func misuseCases() []misuseCase {
	return []misuseCase{
		{
			name: "pool wrong type", wantErr: ErrWrongType, names: []string{`"mod:a"`, `"mod:b"`},
			run: func(t *testing.T, r *Registry) (error, func() error) {
				a, _ := NewFixed[session](r, "mod:a")
				b, _ := NewFixed[session](r, "mod:b")
				obj := a.Get()
				return b.Put(obj), func() error { return a.Put(obj) }
			},
		},
		{
			name: "pool double put", wantErr: ErrDoubleFree, names: []string{`"mod:a"`},
			run: func(t *testing.T, r *Registry) (error, func() error) {
				a, _ := NewFixed[session](r, "mod:a")
				obj := a.Get()
				if err := a.Put(obj); err != nil {
					t.Fatal(err)
				}
				return a.Put(obj), func() error { return nil }
			},
		},
		{
			name: "buffer wrong type", wantErr: ErrWrongType, names: []string{`"mod:a"`, `"mod:b"`},
			run: func(t *testing.T, r *Registry) (error, func() error) {
				a, _ := r.Register(Spec{Name: "mod:a"})
				b, _ := r.Register(Spec{Name: "mod:b"})
				buf, _ := a.Alloc(10)
				return b.Free(buf), func() error { return a.Free(buf) }
			},
		},
		{
			name: "buffer realloc wrong type", wantErr: ErrWrongType, names: []string{`"mod:a"`, `"mod:b"`},
			run: func(t *testing.T, r *Registry) (error, func() error) {
				a, _ := r.Register(Spec{Name: "mod:a"})
				b, _ := r.Register(Spec{Name: "mod:b"})
				buf, _ := a.Alloc(10)
				_, err := b.Realloc(buf, 20)
				return err, func() error { return a.Free(buf) }
			},
		},
		{
			name: "buffer double free", wantErr: ErrDoubleFree, names: []string{`"mod:a"`},
			run: func(t *testing.T, r *Registry) (error, func() error) {
				a, _ := r.Register(Spec{Name: "mod:a"})
				buf, _ := a.Alloc(10)
				a.Free(buf)
				return a.Free(buf), func() error { return nil }
			},
		},
		{
			name: "buffer not from memtype", wantErr: ErrNotOwned, names: []string{`"mod:a"`},
			run: func(t *testing.T, r *Registry) (error, func() error) {
				a, _ := r.Register(Spec{Name: "mod:a"})
				// A plain slice big enough that stepping back stays inside it.
				plain := make([]byte, 64)
				return a.Free(plain[headerSize:]), func() error { return nil }
			},
		},
		{
			name: "raw wrong type", wantErr: ErrWrongType, names: []string{`"mod:a"`, `"mod:b"`},
			run: func(t *testing.T, r *Registry) (error, func() error) {
				a, _ := r.Register(Spec{Name: "mod:a"})
				b, _ := r.Register(Spec{Name: "mod:b"})
				p, _ := a.AllocRaw(100)
				return b.FreeRaw(p), func() error { return a.FreeRaw(p) }
			},
		},
		{
			name: "raw large wrong type", wantErr: ErrWrongType, names: []string{`"mod:a"`, `"mod:b"`},
			run: func(t *testing.T, r *Registry) (error, func() error) {
				a, _ := r.Register(Spec{Name: "mod:a"})
				b, _ := r.Register(Spec{Name: "mod:b"})
				p, _ := a.AllocRaw(1 << 20)
				return b.FreeRaw(p), func() error { return a.FreeRaw(p) }
			},
		},
		{
			name: "raw realloc wrong type", wantErr: ErrWrongType, names: []string{`"mod:a"`, `"mod:b"`},
			run: func(t *testing.T, r *Registry) (error, func() error) {
				a, _ := r.Register(Spec{Name: "mod:a"})
				b, _ := r.Register(Spec{Name: "mod:b"})
				p, _ := a.AllocRaw(100)
				_, err := b.ReallocRaw(p, 200)
				return err, func() error { return a.FreeRaw(p) }
			},
		},
		{
			name: "raw double free", wantErr: ErrDoubleFree, names: []string{`"mod:a"`},
			run: func(t *testing.T, r *Registry) (error, func() error) {
				a, _ := r.Register(Spec{Name: "mod:a"})
				p, _ := a.AllocRaw(100)
				a.FreeRaw(p)
				return a.FreeRaw(p), func() error { return nil }
			},
		},
		{
			name: "raw large double free", wantErr: ErrNotOwned, names: []string{`"mod:a"`},
			run: func(t *testing.T, r *Registry) (error, func() error) {
				a, _ := r.Register(Spec{Name: "mod:a"})
				p, _ := a.AllocRaw(1 << 20)
				a.FreeRaw(p)
				return a.FreeRaw(p), func() error { return nil }
			},
		},
		{
			name: "raw interior pointer", wantErr: ErrNotOwned, names: []string{`"mod:a"`},
			run: func(t *testing.T, r *Registry) (error, func() error) {
				a, _ := r.Register(Spec{Name: "mod:a"})
				p, _ := a.AllocRaw(100)
				return a.FreeRaw(unsafe.Add(p, 16)), func() error { return a.FreeRaw(p) }
			},
		},
		{
			name: "raw Go heap pointer", wantErr: ErrNotOwned, names: []string{`"mod:a"`},
			run: func(t *testing.T, r *Registry) (error, func() error) {
				a, _ := r.Register(Spec{Name: "mod:a"})
				goMem := new([64]byte)
				return a.FreeRaw(unsafe.Pointer(&goMem[32])), func() error { return nil }
			},
		},
		{
			name: "raw pointer of another registry", wantErr: ErrNotOwned, names: []string{`"mod:a"`},
			run: func(t *testing.T, r *Registry) (error, func() error) {
				a, _ := r.Register(Spec{Name: "mod:a"})
				other, _ := NewRegistry(Options{}).Register(Spec{Name: "mod:a"})
				p, _ := other.AllocRaw(100)
				return a.FreeRaw(p), func() error { return other.FreeRaw(p) }
			},
		},
	}
}

func TestMisuseIsReportedAndReturned(t *testing.T) {
	for _, tc := range misuseCases() {
		t.Run(tc.name, func(t *testing.T) {
			r, rep := newTestRegistry(t, Options{})
			err, cleanup := tc.run(t, r)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("error = %v, want %v", err, tc.wantErr)
			}
			for _, n := range tc.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("error %q does not name %s", err, n)
				}
			}
			if got := rep.list(); len(got) != 1 || got[0] != err {
				t.Errorf("reported %v, want exactly the returned error", got)
			}
			if r.Misuses() != 1 {
				t.Errorf("Misuses = %d, want 1", r.Misuses())
			}
			// The misused memory was left alone: its owner can still free it, once.
			if err := cleanup(); err != nil {
				t.Errorf("owner's free after the misuse: %v", err)
			}
			for _, s := range r.Snapshot() {
				if s.Active != 0 || s.Bytes != 0 {
					t.Errorf("type %q still has %d live, %d bytes", s.Name, s.Active, s.Bytes)
				}
			}
		})
	}
}

func TestMisusePanicsInDebug(t *testing.T) {
	for _, tc := range misuseCases() {
		t.Run(tc.name, func(t *testing.T) {
			r, rep := newTestRegistry(t, Options{Debug: true})
			defer func() {
				v := recover()
				err, ok := v.(error)
				if !ok || !errors.Is(err, tc.wantErr) {
					t.Fatalf("panic value %v, want an error wrapping %v", v, tc.wantErr)
				}
				if len(rep.list()) != 1 {
					t.Errorf("the misuse was not reported before the panic")
				}
			}()
			tc.run(t, r)
			t.Fatal("no panic")
		})
	}
}

func TestSetDebug(t *testing.T) {
	r, _ := newTestRegistry(t, Options{})
	a, _ := r.Register(Spec{Name: "mod:a"})
	b, _ := r.Register(Spec{Name: "mod:b"})
	buf, _ := a.Alloc(1)
	r.SetDebug(true)
	defer func() {
		if recover() == nil {
			t.Error("SetDebug(true) did not make misuse panic")
		}
	}()
	b.Free(buf)
}
