package iowrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// drivers returns, per local driver, a function naming a fresh file. The same POSIX
// cases run on both, so the memory driver is checked against the kernel's behaviour.
func drivers(t *testing.T) map[string]func(base string) string {
	dir := t.TempDir()
	return map[string]func(string) string{
		"file URL":   func(base string) string { return "file://" + filepath.Join(dir, "u-"+base) },
		"plain path": func(base string) string { return filepath.Join(dir, "p-"+base) },
		"mem":        func(base string) string { return "mem://" + base },
	}
}

func mustOpen(t *testing.T, r *Registry, name string, flags int) File {
	t.Helper()
	f, err := r.Open(name, flags, 0o644)
	if err != nil {
		t.Fatalf("open %s: %v", name, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func write(t *testing.T, f File, s string) {
	t.Helper()
	if n, err := f.Write([]byte(s)); err != nil || n != len(s) {
		t.Fatalf("write %q: %d, %v", s, n, err)
	}
}

func seek(t *testing.T, f File, off int64, whence int, want int64) {
	t.Helper()
	if pos, err := f.Seek(off, whence); err != nil || pos != want {
		t.Fatalf("seek(%d, %d) = %d, %v; want %d", off, whence, pos, err, want)
	}
}

func readAll(t *testing.T, f File) string {
	t.Helper()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func TestPOSIXSemantics(t *testing.T) {
	rw := os.O_RDWR | os.O_CREATE
	tests := []struct {
		name string
		run  func(t *testing.T, r *Registry, name string)
	}{
		{"write seek read", func(t *testing.T, r *Registry, name string) {
			f := mustOpen(t, r, name, rw)
			write(t, f, "hello world")
			seek(t, f, 6, io.SeekStart, 6)
			if got := readAll(t, f); got != "world" {
				t.Errorf("read %q, want world", got)
			}
			seek(t, f, -5, io.SeekCurrent, 6)
			seek(t, f, -5, io.SeekEnd, 6)
			if n, err := f.Read(make([]byte, 10)); n != 5 || err != nil {
				t.Errorf("read = %d, %v; want 5, nil", n, err)
			}
			if n, err := f.Read(make([]byte, 10)); n != 0 || err != io.EOF {
				t.Errorf("read at end = %d, %v; want 0, EOF", n, err)
			}
		}},
		{"seek past end then write leaves zeros", func(t *testing.T, r *Registry, name string) {
			f := mustOpen(t, r, name, rw)
			write(t, f, "abc")
			seek(t, f, 3, io.SeekEnd, 6)
			write(t, f, "!")
			seek(t, f, 0, io.SeekStart, 0)
			if got := readAll(t, f); got != "abc\x00\x00\x00!" {
				t.Errorf("content %q", got)
			}
		}},
		{"bad seeks", func(t *testing.T, r *Registry, name string) {
			f := mustOpen(t, r, name, rw)
			write(t, f, "abc")
			for _, c := range []struct {
				off    int64
				whence int
			}{{-1, io.SeekStart}, {-4, io.SeekEnd}, {-10, io.SeekCurrent}, {0, 7}} {
				if _, err := f.Seek(c.off, c.whence); !errors.Is(err, unix.EINVAL) {
					t.Errorf("seek(%d, %d): %v, want EINVAL", c.off, c.whence, err)
				}
			}
			seek(t, f, 0, io.SeekCurrent, 3) // a failed seek does not move the offset
		}},
		{"append", func(t *testing.T, r *Registry, name string) {
			f := mustOpen(t, r, name, rw)
			write(t, f, "one")
			a := mustOpen(t, r, name, os.O_WRONLY|os.O_APPEND)
			seek(t, a, 0, io.SeekStart, 0)
			write(t, a, "two")
			seek(t, f, 0, io.SeekStart, 0)
			if got := readAll(t, f); got != "onetwo" {
				t.Errorf("content %q, want onetwo", got)
			}
		}},
		{"handles share content, not offsets", func(t *testing.T, r *Registry, name string) {
			w := mustOpen(t, r, name, rw)
			rd := mustOpen(t, r, name, os.O_RDONLY)
			write(t, w, "shared")
			if got := readAll(t, rd); got != "shared" {
				t.Errorf("other handle read %q", got)
			}
		}},
		{"exclusive create", func(t *testing.T, r *Registry, name string) {
			mustOpen(t, r, name, rw|os.O_EXCL)
			if _, err := r.Open(name, rw|os.O_EXCL, 0o644); !errors.Is(err, fs.ErrExist) {
				t.Errorf("second O_EXCL: %v, want exists", err)
			}
		}},
		{"missing without create", func(t *testing.T, r *Registry, name string) {
			_, err := r.Open(name, os.O_RDONLY, 0)
			var pe *fs.PathError
			if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, unix.ENOENT) || !errors.As(err, &pe) || pe.Op != "open" {
				t.Errorf("open missing: %v, want a PathError wrapping ENOENT", err)
			}
		}},
		{"truncate on open", func(t *testing.T, r *Registry, name string) {
			write(t, mustOpen(t, r, name, rw), "old content")
			f := mustOpen(t, r, name, os.O_RDWR|os.O_TRUNC)
			if st, err := f.Stat(); err != nil || st.Size() != 0 {
				t.Errorf("size after O_TRUNC: %v, %v", st, err)
			}
		}},
		{"wrong access mode", func(t *testing.T, r *Registry, name string) {
			write(t, mustOpen(t, r, name, rw), "x")
			ro := mustOpen(t, r, name, os.O_RDONLY)
			if _, err := ro.Write([]byte("y")); !errors.Is(err, unix.EBADF) {
				t.Errorf("write on O_RDONLY: %v, want EBADF", err)
			}
			wo := mustOpen(t, r, name, os.O_WRONLY)
			if _, err := wo.Read(make([]byte, 1)); !errors.Is(err, unix.EBADF) {
				t.Errorf("read on O_WRONLY: %v, want EBADF", err)
			}
		}},
		{"ftruncate", func(t *testing.T, r *Registry, name string) {
			f := mustOpen(t, r, name, rw)
			write(t, f, "abcdef")
			tr, ok := f.(Truncater)
			if !ok {
				t.Fatal("file cannot truncate")
			}
			if err := tr.Truncate(2); err != nil {
				t.Fatal(err)
			}
			if err := tr.Truncate(4); err != nil {
				t.Fatal(err)
			}
			seek(t, f, 0, io.SeekCurrent, 6) // truncate does not move the offset
			seek(t, f, 0, io.SeekStart, 0)
			if got := readAll(t, f); got != "ab\x00\x00" {
				t.Errorf("content %q, want ab and two zeros", got)
			}
			if err := tr.Truncate(-1); !errors.Is(err, unix.EINVAL) {
				t.Errorf("truncate(-1): %v, want EINVAL", err)
			}
		}},
		{"stat", func(t *testing.T, r *Registry, name string) {
			f := mustOpen(t, r, name, rw)
			write(t, f, "12345")
			st, err := f.Stat()
			if err != nil || st.Size() != 5 || st.IsDir() || st.Mode().Perm() != 0o644 {
				t.Errorf("stat = %v size %d mode %v, %v", st, st.Size(), st.Mode(), err)
			}
		}},
		{"closed", func(t *testing.T, r *Registry, name string) {
			f, err := r.Open(name, rw, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("second close: %v, want ErrClosed", err)
			}
			if _, err := f.Read(make([]byte, 1)); !errors.Is(err, fs.ErrClosed) {
				t.Errorf("read after close: %v, want ErrClosed", err)
			}
		}},
		{"remove", func(t *testing.T, r *Registry, name string) {
			f := mustOpen(t, r, name, rw)
			write(t, f, "still here")
			if err := r.Remove(context.Background(), name); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Open(name, os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("open after remove: %v, want not-exist", err)
			}
			seek(t, f, 0, io.SeekStart, 0)
			if got := readAll(t, f); got != "still here" {
				t.Errorf("open handle after remove read %q", got)
			}
			if err := r.Remove(context.Background(), name); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("second remove: %v, want not-exist", err)
			}
		}},
	}
	for drv, nameOf := range drivers(t) {
		for i, tc := range tests {
			t.Run(drv+"/"+tc.name, func(t *testing.T) {
				tc.run(t, NewRegistry(), nameOf(fmt.Sprint(i)))
			})
		}
	}
}

func TestMemPermissions(t *testing.T) {
	r := NewRegistry()
	f, err := r.Open("mem://ro", os.O_RDWR|os.O_CREATE, 0o444)
	if err != nil {
		t.Fatalf("the creator may open a 0444 file read-write: %v", err)
	}
	write(t, f, "x")
	if _, err := r.Open("mem://ro", os.O_WRONLY, 0); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("reopen 0444 for writing: %v, want EACCES", err)
	}
	mustOpen(t, r, "mem://ro", os.O_RDONLY)
	r.Open("mem://wo", os.O_WRONLY|os.O_CREATE, 0o200)
	if _, err := r.Open("mem://wo", os.O_RDONLY, 0); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("reopen 0200 for reading: %v, want EACCES", err)
	}
}

func TestMemBadInputs(t *testing.T) {
	r := NewRegistry()
	if _, err := r.Open("mem://", os.O_RDWR|os.O_CREATE, 0o644); !errors.Is(err, unix.EINVAL) {
		t.Errorf("empty mem name: %v, want EINVAL", err)
	}
	f := mustOpen(t, r, "mem://big", os.O_RDWR|os.O_CREATE)
	seek(t, f, MaxMemSize, io.SeekStart, MaxMemSize)
	if _, err := f.Write([]byte("x")); !errors.Is(err, unix.EFBIG) {
		t.Errorf("write past MaxMemSize: %v, want EFBIG", err)
	}
	if _, err := f.Seek(1<<62, io.SeekCurrent); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(1<<62, io.SeekCurrent); !errors.Is(err, unix.EINVAL) {
		t.Errorf("seek overflowing int64: %v, want EINVAL", err)
	}
	if err := f.(Truncater).Truncate(MaxMemSize + 1); !errors.Is(err, unix.EFBIG) {
		t.Errorf("truncate past MaxMemSize: %v, want EFBIG", err)
	}
	if st, _ := f.Stat(); st.Size() != 0 {
		t.Errorf("failed writes changed the size to %d", st.Size())
	}
}

func TestFileURLOtherHost(t *testing.T) {
	if _, err := NewRegistry().Open("file://elsewhere/etc/hosts", os.O_RDONLY, 0); !errors.Is(err, unix.EREMOTE) {
		t.Errorf("file URL of another host: %v, want EREMOTE", err)
	}
}

// TestMemConcurrentAppends shows O_APPEND writers on separate handles never overwrite
// each other.
func TestMemConcurrentAppends(t *testing.T) {
	const writers, each = 4, 100
	r := NewRegistry()
	var wg sync.WaitGroup
	for w := range writers {
		f := mustOpen(t, r, "mem://log", os.O_WRONLY|os.O_CREATE|os.O_APPEND)
		wg.Go(func() {
			for range each {
				if _, err := f.Write([]byte{'a' + byte(w), '\n'}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	got := readAll(t, mustOpen(t, r, "mem://log", os.O_RDONLY))
	if len(got) != writers*each*2 {
		t.Fatalf("length %d, want %d", len(got), writers*each*2)
	}
	for w := range writers {
		if n := bytes.Count([]byte(got), []byte{'a' + byte(w), '\n'}); n != each {
			t.Errorf("writer %d has %d lines, want %d", w, n, each)
		}
	}
}
