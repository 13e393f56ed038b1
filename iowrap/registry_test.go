package iowrap

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseName(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantScheme string
		wantHost   string
		wantPath   string
		wantErr    error
	}{
		{name: "absolute path", in: "/var/spool/x", wantScheme: "file", wantPath: "/var/spool/x"},
		{name: "relative path", in: "conf/x.conf", wantScheme: "file", wantPath: "conf/x.conf"},
		{name: "path with colon", in: "a:b", wantScheme: "file", wantPath: "a:b"},
		{name: "file URL", in: "file:///etc/hosts", wantScheme: "file", wantPath: "/etc/hosts"},
		{name: "mem URL", in: "mem://cache/a", wantScheme: "mem", wantHost: "cache", wantPath: "/a"},
		{name: "upper-case scheme", in: "HTTP://example.com/x", wantScheme: "http", wantHost: "example.com", wantPath: "/x"},
		{name: "not a scheme", in: "1x://y", wantScheme: "file", wantPath: "1x://y"},
		{name: "empty", in: "", wantErr: unix.ENOENT},
		{name: "bad URL", in: "http://[::1/x", wantErr: unix.EINVAL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, err := parseName(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("parseName(%q) error = %v, want %v", tc.in, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if u.Scheme != tc.wantScheme || u.Host != tc.wantHost || u.Path != tc.wantPath {
				t.Errorf("parseName(%q) = %q %q %q, want %q %q %q", tc.in, u.Scheme, u.Host, u.Path, tc.wantScheme, tc.wantHost, tc.wantPath)
			}
		})
	}
}

func TestRegisterUnregister(t *testing.T) {
	nop := DriverFunc(func(context.Context, *url.URL, int, fs.FileMode) (File, error) { return nil, unix.ENOSYS })
	tests := []struct {
		name    string
		op      func(r *Registry) error
		wantErr error
	}{
		{"new scheme", func(r *Registry) error { return r.Register("jlog", nop) }, nil},
		{"scheme with digits and signs", func(r *Registry) error { return r.Register("x-db+2.0", nop) }, nil},
		{"upper case is folded", func(r *Registry) error { return r.Register("CLUSTER", nop) }, nil},
		{"built-in taken", func(r *Registry) error { return r.Register("file", nop) }, ErrDriverExists},
		{"taken in other case", func(r *Registry) error { return r.Register("MEM", nop) }, ErrDriverExists},
		{"empty scheme", func(r *Registry) error { return r.Register("", nop) }, ErrBadScheme},
		{"scheme with colon", func(r *Registry) error { return r.Register("a:b", nop) }, ErrBadScheme},
		{"digit first", func(r *Registry) error { return r.Register("9p", nop) }, ErrBadScheme},
		{"nil driver", func(r *Registry) error { return r.Register("nil", nil) }, ErrBadScheme},
		{"unregister unknown", func(r *Registry) error { return r.Unregister("nope") }, ErrNoDriver},
		{"unregister built-in", func(r *Registry) error { return r.Unregister("HTTPS") }, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRegistry()
			if err := tc.op(r); !errors.Is(err, tc.wantErr) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
		})
	}
	if got, want := NewRegistry().Schemes(), []string{"file", "http", "https", "mem"}; !slices.Equal(got, want) {
		t.Errorf("built-in schemes = %v, want %v", got, want)
	}
}

// TestSyntheticDriver registers a driver as a module would, opens through it, and
// shows that after Unregister the scheme is gone while an open file stays usable.
func TestSyntheticDriver(t *testing.T) {
	r := NewRegistry()
	var gotURL *url.URL
	var gotFlags int
	drv := DriverFunc(func(_ context.Context, u *url.URL, flags int, _ fs.FileMode) (File, error) {
		gotURL, gotFlags = u, flags
		if u.Host != "greeting" {
			return nil, &fs.PathError{Op: "open", Path: u.String(), Err: unix.ENOENT}
		}
		return NewBytesFile(u.String(), []byte("hello from "+u.Path), time.Unix(0, 0)), nil
	})
	if err := r.Register("synth", drv); err != nil {
		t.Fatal(err)
	}
	f, err := r.Open("synth://greeting/module", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if gotURL.Path != "/module" || gotFlags != os.O_RDONLY {
		t.Errorf("driver got %v flags %d", gotURL, gotFlags)
	}
	if _, err := r.Open("synth://other", os.O_RDONLY, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("driver's own error: %v, want not-exist", err)
	}
	if err := r.Unregister("synth"); err != nil {
		t.Fatal(err)
	}
	_, err = r.Open("synth://greeting/module", os.O_RDONLY, 0)
	var pe *fs.PathError
	if !errors.Is(err, ErrNoDriver) || !errors.As(err, &pe) || pe.Path != "synth://greeting/module" {
		t.Errorf("open after Unregister: %v, want a PathError wrapping ErrNoDriver", err)
	}
	data, err := io.ReadAll(f)
	if err != nil || string(data) != "hello from /module" {
		t.Errorf("reading the file opened before Unregister: %q, %v", data, err)
	}
	if err := r.Remove(context.Background(), "synth2://x"); !errors.Is(err, ErrNoDriver) {
		t.Errorf("remove through no driver: %v", err)
	}
	r.Register("synth", drv)
	if err := r.Remove(context.Background(), "synth://greeting"); !errors.Is(err, unix.EROFS) {
		t.Errorf("remove through a driver without Remover: %v, want EROFS", err)
	}
}

func TestOpenBadAccessMode(t *testing.T) {
	r := NewRegistry()
	_, err := r.Open("mem://x", unix.O_ACCMODE|os.O_CREATE, 0o644)
	if !errors.Is(err, unix.EINVAL) {
		t.Errorf("open with access mode 3: %v, want EINVAL", err)
	}
}

func TestReadFileLimit(t *testing.T) {
	r := NewRegistry()
	f, _ := r.Open("mem://ten", os.O_RDWR|os.O_CREATE, 0o644)
	f.Write([]byte("0123456789"))
	f.Close()
	tests := []struct {
		limit   int64
		want    string
		wantErr error
	}{
		{0, "0123456789", nil},
		{10, "0123456789", nil},
		{9, "", ErrTooLarge},
	}
	for _, tc := range tests {
		data, err := r.ReadFile(context.Background(), "mem://ten", tc.limit)
		if !errors.Is(err, tc.wantErr) || string(data) != tc.want {
			t.Errorf("limit %d: %q, %v; want %q, %v", tc.limit, data, err, tc.want, tc.wantErr)
		}
		if tc.wantErr != nil && !errors.Is(err, unix.EFBIG) {
			t.Errorf("limit %d: %v does not wrap EFBIG", tc.limit, err)
		}
	}
}

func TestDefaultRegistry(t *testing.T) {
	if err := Register("default-test", NewMemDriver()); err != nil {
		t.Fatal(err)
	}
	f, err := Open("default-test://x", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := Unregister("default-test"); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenContext(context.Background(), "default-test://x", os.O_RDONLY, 0); !errors.Is(err, ErrNoDriver) {
		t.Errorf("after Unregister: %v", err)
	}
}
