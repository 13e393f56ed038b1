package memtype

import (
	"bytes"
	"testing"
	"unsafe"
)

func TestDebugFill(t *testing.T) {
	filled := func(n int) []byte { return bytes.Repeat([]byte{FillByte}, n) }
	tests := []struct {
		name string
		fill bool
		zero bool
		get  func(t *testing.T, r *Registry, zero bool) []byte // returns the fresh memory
		want func(n int) []byte
	}{
		{
			name: "buffer filled", fill: true, want: filled,
			get: func(t *testing.T, r *Registry, zero bool) []byte {
				ty, _ := r.Register(Spec{Name: "f:buf", Zero: zero})
				b, _ := ty.Alloc(33)
				return b
			},
		},
		{
			name: "buffer without fill", want: func(n int) []byte { return make([]byte, n) },
			get: func(t *testing.T, r *Registry, zero bool) []byte {
				ty, _ := r.Register(Spec{Name: "f:buf", Zero: zero})
				b, _ := ty.Alloc(33)
				return b
			},
		},
		{
			name: "buffer of a Zero type", fill: true, zero: true, want: func(n int) []byte { return make([]byte, n) },
			get: func(t *testing.T, r *Registry, zero bool) []byte {
				ty, _ := r.Register(Spec{Name: "f:buf", Zero: zero})
				b, _ := ty.Alloc(33)
				return b
			},
		},
		{
			name: "raw filled", fill: true, want: filled,
			get: func(t *testing.T, r *Registry, zero bool) []byte {
				ty, _ := r.Register(Spec{Name: "f:raw", Zero: zero})
				p, _ := ty.AllocRaw(50)
				return rawBytes(p, 50)
			},
		},
		{
			name: "pool object without pointers filled", fill: true, want: filled,
			get: func(t *testing.T, r *Registry, zero bool) []byte {
				p, _ := NewFixed[session](r, "f:pool")
				s := p.Get()
				return unsafe.Slice((*byte)(unsafe.Pointer(s)), unsafe.Sizeof(*s))
			},
		},
		{
			// Garbage in pointer fields would crash the garbage collector: such objects
			// stay zeroed.
			name: "pool object with pointers zeroed", fill: true, want: func(n int) []byte { return make([]byte, n) },
			get: func(t *testing.T, r *Registry, zero bool) []byte {
				p, _ := NewFixed[withPointers](r, "f:ptrs")
				s := p.Get()
				return unsafe.Slice((*byte)(unsafe.Pointer(s)), unsafe.Sizeof(*s))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := newTestRegistry(t, Options{Fill: tc.fill})
			got := tc.get(t, r, tc.zero)
			if want := tc.want(len(got)); !bytes.Equal(got, want) {
				t.Errorf("fresh memory = % x\nwant           % x", got, want)
			}
		})
	}
}

func TestSetFill(t *testing.T) {
	r, _ := newTestRegistry(t, Options{})
	ty, _ := r.Register(Spec{Name: "f:toggle"})
	r.SetFill(true)
	b, _ := ty.Alloc(4)
	if !bytes.Equal(b, []byte{FillByte, FillByte, FillByte, FillByte}) {
		t.Errorf("after SetFill(true): % x", b)
	}
	r.SetFill(false)
	b, _ = ty.Alloc(4)
	if !bytes.Equal(b, make([]byte, 4)) {
		t.Errorf("after SetFill(false): % x", b)
	}
}
