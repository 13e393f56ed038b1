package iowrap

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Registry maps URL schemes to drivers. It is safe for concurrent use: modules may
// register and unregister synthetic drivers at run time while other goroutines open
// files.
type Registry struct {
	// mu guards drivers, keyed by lower-case scheme.
	mu      sync.RWMutex
	drivers map[string]Driver
}

// NewRegistry returns a registry holding the built-in drivers: "file" (also used for
// plain paths), "mem" (a MemDriver of its own), and "http" and "https" (one HTTPDriver
// with the default HTTPOptions).
func NewRegistry() *Registry {
	web := NewHTTPDriver(HTTPOptions{})
	return &Registry{drivers: map[string]Driver{
		"file":  FileDriver{},
		"mem":   NewMemDriver(),
		"http":  web,
		"https": web,
	}}
}

// defaultRegistry is the process-wide registry behind the package-level functions;
// its own lock guards it and the variable is never reassigned.
var defaultRegistry = NewRegistry()

// Default returns the process-wide registry.
func Default() *Registry { return defaultRegistry }

// Register adds a driver for scheme (case-insensitive). A scheme already registered
// fails with ErrDriverExists: a module replacing a driver must unregister it first.
func (r *Registry) Register(scheme string, d Driver) error {
	s := strings.ToLower(scheme)
	if !validScheme(s) || d == nil {
		return fmt.Errorf("%w: %q", ErrBadScheme, scheme)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.drivers[s]; dup {
		return fmt.Errorf("%w: %q", ErrDriverExists, s)
	}
	r.drivers[s] = d
	return nil
}

// Unregister removes the driver of scheme. Files it already opened stay usable.
func (r *Registry) Unregister(scheme string) error {
	s := strings.ToLower(scheme)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.drivers[s]; !ok {
		return fmt.Errorf("%w: %q", ErrNoDriver, s)
	}
	delete(r.drivers, s)
	return nil
}

// Driver returns the driver of scheme.
func (r *Registry) Driver(scheme string) (Driver, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	d, ok := r.drivers[strings.ToLower(scheme)]
	return d, ok
}

// Schemes returns the registered schemes, sorted.
func (r *Registry) Schemes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.drivers))
	for s := range r.drivers {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Open opens name, a URL such as "file:///var/x", "mem://cache" or "https://host/p",
// or a plain path, which the file driver opens. It may block; call it from a pool.
func (r *Registry) Open(name string, flags int, perm fs.FileMode) (File, error) {
	return r.OpenContext(context.Background(), name, flags, perm)
}

// OpenContext is Open with a context that bounds the waiting a driver does.
func (r *Registry) OpenContext(ctx context.Context, name string, flags int, perm fs.FileMode) (File, error) {
	d, u, err := r.resolve("open", name)
	if err != nil {
		return nil, err
	}
	switch flags & unix.O_ACCMODE {
	case os.O_RDONLY, os.O_WRONLY, os.O_RDWR:
	default:
		return nil, &fs.PathError{Op: "open", Path: name, Err: unix.EINVAL}
	}
	return d.Open(ctx, u, flags, perm)
}

// Remove removes name, if its driver can (see Remover).
func (r *Registry) Remove(ctx context.Context, name string) error {
	d, u, err := r.resolve("remove", name)
	if err != nil {
		return err
	}
	rm, ok := d.(Remover)
	if !ok {
		return &fs.PathError{Op: "remove", Path: name, Err: unix.EROFS}
	}
	return rm.Remove(ctx, u)
}

// ReadFile opens name read-only and returns its whole content, at most limit bytes
// (limit <= 0 means no bound); more fails with ErrTooLarge.
func (r *Registry) ReadFile(ctx context.Context, name string, limit int64) ([]byte, error) {
	f, err := r.OpenContext(ctx, name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var src io.Reader = f
	if limit > 0 {
		src = io.LimitReader(f, limit+1)
	}
	data, err := io.ReadAll(src)
	if err != nil {
		return nil, err
	}
	if limit > 0 && int64(len(data)) > limit {
		return nil, &fs.PathError{Op: "read", Path: name, Err: tooLarge(limit)}
	}
	return data, nil
}

// resolve finds the driver and URL for name.
func (r *Registry) resolve(op, name string) (Driver, *url.URL, error) {
	u, err := parseName(name)
	if err != nil {
		return nil, nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	d, ok := r.Driver(u.Scheme)
	if !ok {
		return nil, nil, &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%w %q", ErrNoDriver, u.Scheme)}
	}
	return d, u, nil
}

// parseName turns name into a URL. "scheme://..." is a URL; anything else is a path
// for the file driver, so that file names holding a colon still open as files.
func parseName(name string) (*url.URL, error) {
	if name == "" {
		return nil, unix.ENOENT
	}
	if i := strings.Index(name, "://"); i > 0 && validScheme(strings.ToLower(name[:i])) {
		u, err := url.Parse(name)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", unix.EINVAL, err)
		}
		u.Scheme = strings.ToLower(u.Scheme)
		return u, nil
	}
	return &url.URL{Scheme: "file", Path: name}, nil
}

// validScheme reports whether s is a lower-case RFC 3986 scheme.
func validScheme(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func tooLarge(limit int64) error {
	return fmt.Errorf("%w (%w): more than %d bytes", ErrTooLarge, unix.EFBIG, limit)
}

// Open opens name with the default registry; see Registry.Open.
func Open(name string, flags int, perm fs.FileMode) (File, error) {
	return defaultRegistry.Open(name, flags, perm)
}

// OpenContext opens name with the default registry; see Registry.OpenContext.
func OpenContext(ctx context.Context, name string, flags int, perm fs.FileMode) (File, error) {
	return defaultRegistry.OpenContext(ctx, name, flags, perm)
}

// Register adds a driver to the default registry; see Registry.Register.
func Register(scheme string, d Driver) error { return defaultRegistry.Register(scheme, d) }

// Unregister removes a driver from the default registry; see Registry.Unregister.
func Unregister(scheme string) error { return defaultRegistry.Unregister(scheme) }
