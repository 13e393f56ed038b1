package iowrap

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// HTTPOptions configure an HTTPDriver. Zero fields take the defaults named below.
type HTTPOptions struct {
	// ConnectTimeout bounds the TCP connect and the TLS handshake; default 10s.
	ConnectTimeout time.Duration
	// Timeout bounds a whole fetch, headers and body; default 60s.
	Timeout time.Duration
	// MaxBytes bounds a response body; a larger one fails with ErrTooLarge; default 64 MiB.
	MaxBytes int64
	// TLSConfig is used for https; nil means the system roots.
	TLSConfig *tls.Config
}

// Defaults of HTTPOptions.
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultHTTPTimeout    = 60 * time.Second
	DefaultMaxBytes       = 64 << 20
)

// HTTPDriver opens "http" and "https" URLs read-only. Open does a GET and reads the
// whole body, within MaxBytes, so the File it returns can seek and stat like any other;
// the blocking happens in Open, which belongs in a pool. A status outside 2xx fails
// with a *StatusError (404 and 410 are also fs.ErrNotExist, 401 and 403
// fs.ErrPermission); a timeout wraps unix.ETIMEDOUT; opening for writing is EROFS.
// An HTTPDriver is safe for concurrent use.
type HTTPDriver struct {
	client   *http.Client
	maxBytes int64
}

var _ Driver = (*HTTPDriver)(nil)

// NewHTTPDriver returns a driver with its own connection pool.
func NewHTTPDriver(opts HTTPOptions) *HTTPDriver {
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultHTTPTimeout
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	dialer := &net.Dialer{Timeout: opts.ConnectTimeout}
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		TLSHandshakeTimeout: opts.ConnectTimeout,
		TLSClientConfig:     opts.TLSConfig,
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}
	return &HTTPDriver{
		client:   &http.Client{Transport: transport, Timeout: opts.Timeout},
		maxBytes: opts.MaxBytes,
	}
}

// StatusError is an HTTP response status outside 2xx.
type StatusError struct {
	Code   int
	Status string // e.g. "404 Not Found"
}

func (e *StatusError) Error() string { return "iowrap: http status " + e.Status }

// Is makes a 404 or 410 match fs.ErrNotExist and a 401 or 403 fs.ErrPermission.
func (e *StatusError) Is(target error) bool {
	switch target {
	case fs.ErrNotExist:
		return e.Code == http.StatusNotFound || e.Code == http.StatusGone
	case fs.ErrPermission:
		return e.Code == http.StatusUnauthorized || e.Code == http.StatusForbidden
	}
	return false
}

// Open fetches u.
func (d *HTTPDriver) Open(ctx context.Context, u *url.URL, flags int, _ fs.FileMode) (File, error) {
	name := u.Redacted()
	fail := func(err error) (File, error) { return nil, &fs.PathError{Op: "open", Path: name, Err: err} }
	if flags&unix.O_ACCMODE != os.O_RDONLY || flags&(os.O_CREATE|os.O_TRUNC|os.O_APPEND) != 0 {
		return fail(unix.EROFS)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail(fmt.Errorf("%w: %w", unix.EINVAL, err))
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return fail(netError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fail(&StatusError{Code: resp.StatusCode, Status: resp.Status})
	}
	if resp.ContentLength > d.maxBytes {
		return fail(tooLarge(d.maxBytes))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, d.maxBytes+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: netError(err)}
	}
	if int64(len(data)) > d.maxBytes {
		return fail(tooLarge(d.maxBytes))
	}
	modTime := time.Now()
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		modTime = lm
	}
	return NewBytesFile(name, data, modTime), nil
}

// netError gives a fetch failure its errno: a timeout is ETIMEDOUT, while errors that
// carry an errno already (connection refused, ...) keep it.
func netError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", unix.ETIMEDOUT, err)
	}
	return err
}
