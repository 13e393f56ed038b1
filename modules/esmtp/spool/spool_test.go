package spool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// harness runs a real loop and pool manager for a spool.
type harness struct {
	loop  *sched.Loop
	pools *threadpool.Manager
	class threadpool.ClassID
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	loop, err := sched.New(sched.Options{})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- loop.Run() }()
	pools := threadpool.NewManager(threadpool.Options{Loop: loop})
	class, ok := pools.Class(threadpool.PoolSpoolIn)
	if !ok {
		t.Fatal("no SPOOLIN pool")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pools.Shutdown(ctx); err != nil {
			t.Errorf("pools shutdown: %v", err)
		}
		loop.Stop()
		if err := <-done; err != nil {
			t.Errorf("loop: %v", err)
		}
	})
	return &harness{loop: loop, pools: pools, class: class}
}

func (h *harness) open(t testing.TB, dir string, fsync, group bool) *Spool {
	t.Helper()
	return h.openOpts(t, Options{Dir: dir, Fsync: fsync, GroupCommit: group})
}

// openOpts opens a spool with opts and the harness's pools and loop.
func (h *harness) openOpts(t testing.TB, opts Options) *Spool {
	t.Helper()
	opts.Pools, opts.Class, opts.Loop = h.pools, h.class, h.loop
	s, _, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// onLoop runs fn on the loop and waits for it.
func (h *harness) onLoop(fn func()) {
	ch := make(chan struct{})
	h.loop.Dispatch(func(time.Time) { fn(); close(ch) })
	<-ch
}

// spoolOne writes a message in the given chunks (flushing between them) and
// returns its id once the commit completed.
func (h *harness) spoolOne(t testing.TB, s *Spool, rcpts []string, chunks ...string) string {
	t.Helper()
	res := make(chan error, 1)
	var id string
	h.onLoop(func() {
		id = s.NewID(time.Now())
		m := s.Begin(&Envelope{ID: id, Received: time.Now(), Peer: "127.0.0.1:1", Helo: "h", MailFrom: "a@b.example", Rcpts: rcpts})
		for i, c := range chunks {
			m.Write([]byte(c))
			if i < len(chunks)-1 {
				m.Flush(nil)
			}
		}
		m.Commit(func(err error) { res <- err })
	})
	if err := <-res; err != nil {
		t.Fatalf("commit: %v", err)
	}
	return id
}

func TestCommitAndLoad(t *testing.T) {
	modes := []struct {
		name         string
		fsync, group bool
	}{{"no fsync", false, false}, {"fsync per message", true, false}, {"group commit", true, true}}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t)
			s := h.open(t, t.TempDir(), mode.fsync, mode.group)
			id := h.spoolOne(t, s, []string{"x@y.example", "z@y.example"}, "Subject: a\r\n\r\n", "line\r\n", ".dotted\r\n")
			env, body, err := s.Load(id)
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != "Subject: a\r\n\r\nline\r\n.dotted\r\n" || env.MailFrom != "a@b.example" || len(env.Rcpts) != 2 || env.Rcpts[1] != "z@y.example" {
				t.Fatalf("Load = %+v %q", env, body)
			}
			if s.Count() != 1 || s.List()[0].ID != id || s.List()[0].Size != int64(len(body)) {
				t.Fatalf("index = %d %+v", s.Count(), s.List())
			}
		})
	}
}

func TestGroupCommitManyMessages(t *testing.T) {
	h := newHarness(t)
	s := h.open(t, t.TempDir(), true, true)
	const n = 200
	res := make(chan error, n)
	h.onLoop(func() {
		for i := 0; i < n; i++ {
			m := s.Begin(&Envelope{ID: s.NewID(time.Now()), Received: time.Now(), MailFrom: "a@b.example", Rcpts: []string{"r@x.example"}})
			m.Write([]byte(fmt.Sprintf("message %d\r\n", i)))
			m.Commit(func(err error) { res <- err })
		}
	})
	for i := 0; i < n; i++ {
		if err := <-res; err != nil {
			t.Fatal(err)
		}
	}
	if s.Count() != n {
		t.Fatalf("Count = %d, want %d", s.Count(), n)
	}
	st := h.pools.Stats()
	for _, p := range st {
		if p.Name == threadpool.PoolSpoolIn && p.Invocations >= n {
			t.Fatalf("%d writer jobs for %d messages: no batching", p.Invocations, n)
		}
	}
}

// TestRecovery damages message files of a spool without segments; see
// TestSegmentRecovery for segments.
func TestRecovery(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t)
	s := h.openOpts(t, Options{Dir: dir, Fsync: true, GroupCommit: true, SegmentSize: -1})
	good := h.spoolOne(t, s, []string{"r@x.example"}, "body\r\n")
	half := h.spoolOne(t, s, []string{"r@x.example"}, "another body\r\n")
	s.Close()
	q := filepath.Join(dir, "queue")
	// A crash during a write leaves a temporary file; a damaged disk a short file.
	if err := os.WriteFile(filepath.Join(q, ".tmp-DEAD"), []byte("partial"), 0o640); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(q, half))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(q, half), data[:len(data)/2], 0o640); err != nil {
		t.Fatal(err)
	}
	s2, rep, err := Open(Options{Dir: dir, Fsync: true, Pools: h.pools, Class: h.class, Loop: h.loop})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if rep.Messages != 1 || rep.TempRemoved != 1 || len(rep.Corrupt) != 1 || rep.Corrupt[0] != half {
		t.Fatalf("report = %+v", rep)
	}
	if _, err := os.Stat(filepath.Join(q, ".tmp-DEAD")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("temporary file kept: %v", err)
	}
	if _, _, err := s2.Load(good); err != nil {
		t.Fatalf("good message: %v", err)
	}
	if _, _, err := s2.Load(half); !errors.Is(err, ErrNotFound) {
		t.Fatalf("half message: %v", err)
	}
}

func TestDecodeRejectsDamage(t *testing.T) {
	env := &Envelope{ID: "X", MailFrom: "a@b", Rcpts: []string{"c@d"}}
	body := []byte("hello\r\n")
	e := appendEnvelope(nil, env)
	crc := crc32IEEE(append(append([]byte(nil), body...), e...))
	file := appendTrailer(append(append([]byte(nil), body...), e...), int64(len(body)), len(e), crc)
	if _, got, err := decodeFile(file); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("good file: %q %v", got, err)
	}
	cases := map[string][]byte{
		"truncated":     file[:len(file)-1],
		"flipped byte":  bytes.Replace(file, []byte("hello"), []byte("hellp"), 1),
		"empty":         nil,
		"no envelope":   appendTrailer(append([]byte(nil), body...), int64(len(body)), 0, crc32IEEE(body)),
		"forged fields": appendTrailer([]byte("id X\nrcpt c@d\nbogus 1\n"), 0, 23, crc32IEEE([]byte("id X\nrcpt c@d\nbogus 1\n"))),
	}
	for name, data := range cases {
		if _, _, err := decodeFile(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: error %v, want ErrCorrupt", name, err)
		}
	}
}

func TestEnvelopeEscaping(t *testing.T) {
	env := &Envelope{ID: "I", Helo: "evil\nrcpt injected@x", MailFrom: `a\b`, Rcpts: []string{"r@x"}}
	got, err := parseEnvelope(appendEnvelope(nil, env))
	if err != nil {
		t.Fatal(err)
	}
	if got.Helo != env.Helo || got.MailFrom != env.MailFrom || len(got.Rcpts) != 1 {
		t.Fatalf("round trip = %+v", got)
	}
}

func TestDropAndAbort(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	s := h.open(t, dir, true, true)
	id := h.spoolOne(t, s, []string{"r@x.example"}, "a\r\n")
	if err := s.Drop(id); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "../x", ".tmp-x", id} {
		if err := s.Drop(bad); err == nil {
			t.Errorf("Drop(%q) succeeded", bad)
		}
	}
	// An aborted message that had reached the writer leaves no file.
	res := make(chan error, 1)
	h.onLoop(func() {
		m := s.Begin(&Envelope{ID: s.NewID(time.Now()), Rcpts: []string{"r@x.example"}})
		m.Write([]byte(strings.Repeat("x", 100)))
		m.Flush(func(err error) {
			m.Abort()
			// A commit after it orders behind the abort in the writer.
			m2 := s.Begin(&Envelope{ID: s.NewID(time.Now()), Rcpts: []string{"r@x.example"}})
			m2.Commit(func(err error) { res <- err })
		})
	})
	if err := <-res; err != nil {
		t.Fatal(err)
	}
	des, _ := os.ReadDir(filepath.Join(dir, "queue"))
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".tmp-") {
			t.Fatalf("aborted message left %s", de.Name())
		}
	}
	if s.Count() != 1 {
		t.Fatalf("Count = %d", s.Count())
	}
}

func TestClosedSpoolFailsCommits(t *testing.T) {
	h := newHarness(t)
	s := h.open(t, t.TempDir(), false, false)
	s.Close()
	res := make(chan error, 1)
	h.onLoop(func() {
		m := s.Begin(&Envelope{ID: s.NewID(time.Now()), Rcpts: []string{"r@x"}})
		m.Commit(func(err error) { res <- err })
	})
	if err := <-res; !errors.Is(err, ErrClosed) {
		t.Fatalf("commit on closed spool: %v", err)
	}
}

// BenchmarkCommit measures spooling a 1 KiB message on tmpfs-like storage
// (the test's temporary directory) with each durability mode.
func BenchmarkCommit(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 1024)
	for _, mode := range []struct {
		name         string
		fsync, group bool
	}{{"nofsync", false, false}, {"fsync-each", true, false}, {"group", true, true}} {
		b.Run(mode.name, func(b *testing.B) {
			h := newHarness(b)
			s := h.open(b, b.TempDir(), mode.fsync, mode.group)
			const window = 64
			res := make(chan error, window)
			n := 0
			for b.Loop() {
				h.loop.Dispatch(func(time.Time) {
					m := s.Begin(&Envelope{ID: s.NewID(time.Now()), Rcpts: []string{"r@x"}})
					m.Write(body)
					m.Commit(func(err error) { res <- err })
				})
				n++
				if n == window {
					for ; n > 0; n-- {
						if err := <-res; err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			for ; n > 0; n-- {
				<-res
			}
		})
	}
}

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

func TestCommitNow(t *testing.T) {
	h := newHarness(t)
	durable := h.open(t, t.TempDir(), true, true)
	inline := h.open(t, t.TempDir(), false, false)
	if durable.Inline() || !inline.Inline() {
		t.Fatal("Inline should follow Fsync")
	}
	var errDurable, errInline error
	var id string
	h.onLoop(func() {
		m := durable.Begin(&Envelope{ID: durable.NewID(time.Now()), Rcpts: []string{"r@x"}})
		errDurable = m.CommitNow()
		m.Abort()
		id = inline.NewID(time.Now())
		m2 := inline.Begin(&Envelope{ID: id, Rcpts: []string{"r@x"}})
		m2.Write([]byte("body\r\n"))
		errInline = m2.CommitNow()
	})
	if !errors.Is(errDurable, ErrOptions) {
		t.Fatalf("CommitNow on a durable spool: %v", errDurable)
	}
	if errInline != nil {
		t.Fatal(errInline)
	}
	if _, body, err := inline.Load(id); err != nil || string(body) != "body\r\n" {
		t.Fatalf("Load = %q, %v", body, err)
	}
}

// TestInlineCommitNames checks which names an Inline spool without segments
// uses: a
// message that never left memory is written in place under its id (a file
// in the way at its temporary name does not matter), one flushed in chunks
// goes through its temporary name, and an id whose file already exists is
// refused instead of replacing that message.
func TestInlineCommitNames(t *testing.T) {
	cases := []struct {
		name    string
		flush   bool   // flush a chunk before the commit
		inWay   string // a file created first: "tmp" at .tmp-<id>, "final" at <id>
		wantErr bool
	}{
		{name: "small in place", inWay: "tmp"},
		{name: "chunked through temporary name", flush: true},
		{name: "chunked meets its temporary name", flush: true, inWay: "tmp", wantErr: true},
		{name: "id already spooled", inWay: "final", wantErr: true},
		{name: "chunked id already spooled", flush: true, inWay: "final", wantErr: true},
	}
	h := newHarness(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := h.openOpts(t, Options{Dir: dir, SegmentSize: -1})
			q := filepath.Join(dir, "queue")
			id := s.NewID(time.Now())
			var inWay string
			switch tc.inWay {
			case "tmp":
				inWay = filepath.Join(q, tmpPrefix+id)
			case "final":
				inWay = filepath.Join(q, id)
			}
			if inWay != "" {
				if err := os.WriteFile(inWay, []byte("keep me"), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			h.onLoop(func() {
				m := s.Begin(&Envelope{ID: id, Rcpts: []string{"r@x"}})
				m.Write([]byte("first\r\n"))
				if tc.flush {
					m.Flush(nil)
					m.Write([]byte("second\r\n"))
				}
				err = m.CommitNow()
			})
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("CommitNow = %v, want error %v", err, tc.wantErr)
			}
			if inWay != "" {
				if b, rerr := os.ReadFile(inWay); rerr != nil || string(b) != "keep me" {
					t.Fatalf("file in the way = %q, %v; want it untouched", b, rerr)
				}
			}
			if tc.wantErr {
				if n := s.Count(); n != 0 {
					t.Fatalf("Count = %d after a failed commit", n)
				}
				return
			}
			want := "first\r\n"
			if tc.flush {
				want += "second\r\n"
			}
			if _, body, lerr := s.Load(id); lerr != nil || string(body) != want {
				t.Fatalf("Load = %q, %v", body, lerr)
			}
		})
	}
}

// TestWriterKeepsGoing: a batch queued while the writer flushes the one
// before is written without waiting for the loop, which may be busy: the
// writer job does not end (and wait to be submitted again from the loop)
// while work is queued.
func TestWriterKeepsGoing(t *testing.T) {
	h := newHarness(t)
	s := h.open(t, t.TempDir(), true, true)
	written, queued, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	first := true
	s.afterBatch = func() {
		if first {
			first = false
			close(written)
			<-queued
		}
	}
	commit := func(body string, res chan<- error) {
		m := s.Begin(&Envelope{ID: s.NewID(time.Now()), Received: time.Now(), Peer: "127.0.0.1:1", Helo: "h", MailFrom: "a@b.example", Rcpts: []string{"c@d.example"}})
		m.Write([]byte(body))
		m.Commit(func(err error) { res <- err })
	}
	resA, resB := make(chan error, 1), make(chan error, 1)
	h.onLoop(func() { commit("A\r\n", resA) })
	<-written
	// Queue B, then keep the loop busy until B is spooled.
	h.loop.Dispatch(func(time.Time) {
		commit("B\r\n", resB)
		close(queued)
		<-release
	})
	deadline := time.Now().Add(10 * time.Second)
	for s.Count() < 2 {
		if time.Now().After(deadline) {
			close(release)
			t.Fatal("the second batch waited for the loop")
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	for name, res := range map[string]chan error{"A": resA, "B": resB} {
		if err := <-res; err != nil {
			t.Errorf("commit %s: %v", name, err)
		}
	}
}
