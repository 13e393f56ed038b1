package iowrap

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// newWebServer serves a few fixed paths on loopback. /slow answers only when the test
// ends, so a client timeout is the only way out of it.
func newWebServer(t *testing.T, tls bool) *httptest.Server {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/doc", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		io.WriteString(w, "the document body")
	})
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "gone", http.StatusGone) })
	mux.HandleFunc("/secret", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) })
	mux.HandleFunc("/broken", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", http.StatusInternalServerError) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, strings.Repeat("x", 2000)) })
	mux.HandleFunc("/bigchunked", func(w http.ResponseWriter, r *http.Request) {
		for range 20 {
			io.WriteString(w, strings.Repeat("y", 100))
			w.(http.Flusher).Flush() // no Content-Length: the bound must hold while reading
		}
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			// The client gave up. Returning normally would send a 200 that, over HTTP/2,
			// can still reach a client racing its own timeout; abort the stream instead.
			panic(http.ErrAbortHandler)
		}
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(mux)
	} else {
		srv = httptest.NewServer(mux)
	}
	t.Cleanup(func() {
		close(release)
		srv.Close()
	})
	return srv
}

// httpRegistry returns a registry whose http and https drivers use opts, trusting the
// test server's certificate.
func httpRegistry(t *testing.T, srv *httptest.Server, opts HTTPOptions) *Registry {
	t.Helper()
	if srv.TLS != nil {
		opts.TLSConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	}
	r := NewRegistry()
	d := NewHTTPDriver(opts)
	for _, s := range []string{"http", "https"} {
		r.Unregister(s)
		if err := r.Register(s, d); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

func TestHTTPDriver(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		srv := newWebServer(t, useTLS)
		// Only /slow meets the short timeout; the rest get one no loaded machine reaches.
		r := httpRegistry(t, srv, HTTPOptions{MaxBytes: 1000, Timeout: time.Minute})
		short := httpRegistry(t, srv, HTTPOptions{MaxBytes: 1000, Timeout: 100 * time.Millisecond})
		scheme := "http"
		if useTLS {
			scheme = "https"
		}
		tests := []struct {
			path    string
			flags   int
			want    string
			wantErr []error
			status  int
		}{
			{path: "/doc", want: "the document body"},
			{path: "/missing", wantErr: []error{fs.ErrNotExist}, status: 404},
			{path: "/gone", wantErr: []error{fs.ErrNotExist}, status: 410},
			{path: "/secret", wantErr: []error{fs.ErrPermission}, status: 403},
			{path: "/broken", status: 500},
			{path: "/big", wantErr: []error{ErrTooLarge, unix.EFBIG}},
			{path: "/bigchunked", wantErr: []error{ErrTooLarge, unix.EFBIG}},
			{path: "/slow", wantErr: []error{unix.ETIMEDOUT}},
			{path: "/doc", flags: os.O_RDWR, wantErr: []error{unix.EROFS}},
			{path: "/doc", flags: os.O_RDONLY | os.O_CREATE, wantErr: []error{unix.EROFS}},
		}
		for _, tc := range tests {
			name := srv.URL + tc.path
			t.Run(scheme+tc.path, func(t *testing.T) {
				reg := r
				if tc.path == "/slow" {
					reg = short
				}
				f, err := reg.Open(name, tc.flags, 0)
				if tc.status != 0 {
					var se *StatusError
					if !errors.As(err, &se) || se.Code != tc.status {
						t.Fatalf("error = %v, want status %d", err, tc.status)
					}
					if tc.status == 500 && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission)) {
						t.Errorf("a 500 must not look like not-exist or permission: %v", err)
					}
				}
				for _, want := range tc.wantErr {
					if !errors.Is(err, want) {
						t.Errorf("error = %v, want %v", err, want)
					}
				}
				if tc.status != 0 || tc.wantErr != nil {
					var pe *fs.PathError
					if !errors.As(err, &pe) || pe.Path != name {
						t.Errorf("error %v is not a PathError naming the URL", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				st, err := f.Stat()
				if err != nil || st.Size() != int64(len(tc.want)) || st.ModTime().Year() != 2006 {
					t.Errorf("stat = size %d modtime %v, %v", st.Size(), st.ModTime(), err)
				}
				seek(t, f, 4, io.SeekStart, 4)
				if got := readAll(t, f); got != tc.want[4:] {
					t.Errorf("read after seek = %q, want %q", got, tc.want[4:])
				}
				if _, err := f.Write([]byte("x")); !errors.Is(err, unix.EBADF) {
					t.Errorf("write to an http file: %v, want EBADF", err)
				}
			})
		}
	}
}

func TestHTTPConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = NewRegistry().OpenContext(context.Background(), "http://"+addr+"/x", os.O_RDONLY, 0)
	if !errors.Is(err, unix.ECONNREFUSED) {
		t.Errorf("error = %v, want ECONNREFUSED", err)
	}
}

func TestHTTPContextCancel(t *testing.T) {
	srv := newWebServer(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := NewRegistry().OpenContext(ctx, srv.URL+"/slow", os.O_RDONLY, 0)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
}
