package spool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// segmentModes are the writer modes a segment is written in.
var segmentModes = []struct {
	name         string
	fsync, group bool
	inline       bool // commit with CommitNow on the loop (Fsync off)
}{
	{"inline", false, false, true},
	{"writer job without fsync", false, false, false},
	{"fsync per message", true, false, false},
	{"group commit", true, true, false},
}

// spoolSmall commits one message whose body stays in memory (a segment
// record), with CommitNow when inline.
func (h *harness) spoolSmall(t testing.TB, s *Spool, inline bool, body string) (string, error) {
	t.Helper()
	res := make(chan error, 1)
	var id string
	h.onLoop(func() {
		id = s.NewID(time.Now())
		m := s.Begin(&Envelope{ID: id, Received: time.Now(), Peer: "127.0.0.1:1", Helo: "h", MailFrom: "a@b.example", Rcpts: []string{"r@x.example"}})
		m.Write([]byte(body))
		if inline {
			res <- m.CommitNow()
			return
		}
		m.Commit(func(err error) { res <- err })
	})
	return id, <-res
}

// queueFiles returns the names in dir's queue directory.
func queueFiles(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(filepath.Join(dir, "queue"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

func segmentsIn(names []string) (segs []string) {
	for _, n := range names {
		if _, ok := segNumber(n); ok {
			segs = append(segs, n)
		}
	}
	return segs
}

// TestSegmentRoundTrip: in every writer mode, small messages go to one
// segment file, a chunked one to a file of its own; all load back, before
// and after the spool is opened again.
func TestSegmentRoundTrip(t *testing.T) {
	for _, mode := range segmentModes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t)
			dir := t.TempDir()
			s := h.open(t, dir, mode.fsync, mode.group)
			want := map[string]string{}
			for i := range 20 {
				body := fmt.Sprintf("Subject: %d\r\n\r\n%s\r\n", i, strings.Repeat("x", i*37))
				id, err := h.spoolSmall(t, s, mode.inline, body)
				if err != nil {
					t.Fatalf("commit %d: %v", i, err)
				}
				want[id] = body
			}
			chunked := h.spoolOne(t, s, []string{"r@x.example"}, "part one\r\n", "part two\r\n")
			want[chunked] = "part one\r\npart two\r\n"

			names := queueFiles(t, dir)
			if segs := segmentsIn(names); len(segs) != 1 || len(names) != 2 {
				t.Fatalf("queue holds %v; want one segment and the chunked message's file", names)
			}
			check := func(s *Spool) {
				t.Helper()
				if s.Count() != len(want) {
					t.Fatalf("Count = %d, want %d", s.Count(), len(want))
				}
				for id, body := range want {
					env, got, err := s.Load(id)
					if err != nil || string(got) != body || env.ID != id || env.Rcpts[0] != "r@x.example" {
						t.Fatalf("Load(%s) = %+v %q %v; want %q", id, env, got, err, body)
					}
				}
			}
			check(s)
			s.Close()
			s2, rep, err := Open(Options{Dir: dir, Fsync: mode.fsync, Pools: h.pools, Class: h.class, Loop: h.loop})
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			if rep.Messages != len(want) || rep.Segments != 1 || rep.TornTails != 0 || len(rep.Corrupt) != 0 {
				t.Fatalf("report = %+v", rep)
			}
			check(s2)
			// The writer of the reopened spool starts a segment of its own.
			id, err := h.spoolSmall(t, s2, !mode.fsync, "after\r\n")
			if err != nil {
				t.Fatal(err)
			}
			if _, got, err := s2.Load(id); err != nil || string(got) != "after\r\n" {
				t.Fatalf("Load after reopen = %q %v", got, err)
			}
			if segs := segmentsIn(queueFiles(t, dir)); len(segs) != 2 {
				t.Fatalf("segments %v, want the old one and a new one", segs)
			}
		})
	}
}

// TestSegmentRotation: a full segment is sealed and a new one started; the
// records of all of them load after a reopen.
func TestSegmentRotation(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	s := h.openOpts(t, Options{Dir: dir, Fsync: true, GroupCommit: true, SegmentSize: 2048})
	var ids []string
	for i := range 12 {
		id, err := h.spoolSmall(t, s, false, strings.Repeat("y", 400)+fmt.Sprint(i)+"\r\n")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	segs := segmentsIn(queueFiles(t, dir))
	if len(segs) < 3 {
		t.Fatalf("%d segments for 12 records of 600 bytes in segments of 2 KiB", len(segs))
	}
	for _, name := range segs {
		if fi, err := os.Stat(filepath.Join(dir, "queue", name)); err != nil || fi.Size() > 2048 {
			t.Fatalf("segment %s: %v, %d bytes", name, err, fi.Size())
		}
	}
	s.Close()
	s2, rep, err := Open(Options{Dir: dir, Fsync: true, Pools: h.pools, Class: h.class, Loop: h.loop})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if rep.Messages != 12 || rep.Segments != len(segs) {
		t.Fatalf("report = %+v, want 12 messages in %d segments", rep, len(segs))
	}
	for i, id := range ids {
		if _, body, err := s2.Load(id); err != nil || !strings.HasSuffix(string(body), fmt.Sprint(i)+"\r\n") {
			t.Fatalf("Load(%s) = %q %v", id, body, err)
		}
	}
}

// TestSegmentDrop: a dropped record stays dropped across a reopen; a sealed
// segment whose records are all dropped is removed, the current one only
// once the writer has left it.
func TestSegmentDrop(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	s := h.openOpts(t, Options{Dir: dir, Fsync: true, GroupCommit: true, SegmentSize: 1024})
	var ids []string
	for i := range 4 {
		id, err := h.spoolSmall(t, s, false, strings.Repeat("z", 500)+fmt.Sprint(i)+"\r\n")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// Records of ~700 bytes in segments of 1 KiB: one per segment, the last
	// one current.
	segs := segmentsIn(queueFiles(t, dir))
	if len(segs) != 4 {
		t.Fatalf("segments %v, want 4", segs)
	}
	if err := s.Drop(ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Drop(ids[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second drop: %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "queue", segs[0])); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("sealed segment of the dropped record kept: %v", err)
	}
	if err := s.Drop(ids[3]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "queue", segs[3])); err != nil {
		t.Fatalf("current segment removed under the writer: %v", err)
	}
	if _, _, err := s.Load(ids[3]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of a dropped message: %v", err)
	}
	s.Close()
	s2, rep, err := Open(Options{Dir: dir, Fsync: true, Pools: h.pools, Class: h.class, Loop: h.loop})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if rep.Messages != 2 || s2.Count() != 2 {
		t.Fatalf("report = %+v, want the 2 messages not dropped", rep)
	}
	for _, id := range ids[1:3] {
		if _, _, err := s2.Load(id); err != nil {
			t.Fatalf("Load(%s): %v", id, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "queue", segs[3])); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("segment without live records kept after recovery: %v", err)
	}
}

// TestSegmentRecovery: an unfinished record at the end of a segment (a
// crash inside a write) is never taken for a message, a damaged record in
// the middle is skipped and reported, and every other record is recovered.
// Where the torn record lies inside the zeros a Fsync spool writes ahead,
// its header parses and its payload fails the check, so it is reported like
// the damaged one; where it is the end of the file (a segment written
// without Fsync), it is cut off and kept in corrupt/.
func TestSegmentRecovery(t *testing.T) {
	for _, prealloc := range []bool{true, false} {
		t.Run(fmt.Sprintf("zeros ahead %v", prealloc), func(t *testing.T) {
			h := newHarness(t)
			dir := t.TempDir()
			s := h.open(t, dir, true, true)
			var ids []string
			for i := range 3 {
				id, err := h.spoolSmall(t, s, false, fmt.Sprintf("message %d\r\n", i))
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			s.Close()
			seg := filepath.Join(dir, "queue", segmentsIn(queueFiles(t, dir))[0])
			data, err := os.ReadFile(seg)
			if err != nil {
				t.Fatal(err)
			}
			// The records end where the zeros written ahead of them begin.
			_, _, whole := scanSegment(data)
			if whole == int64(len(data)) || len(bytes.Trim(data[whole:], "\x00")) != 0 {
				t.Fatalf("segment of %d bytes, records end at %d: want zeros written ahead", len(data), whole)
			}
			// Damage the middle record's body, then write half of a record
			// after the last one, as a crash inside the next batch's write
			// would.
			data = bytes.Replace(data, []byte("message 1"), []byte("massage 1"), 1)
			rec := slices.Clone(data[:whole/3])
			if !prealloc {
				data = data[:whole]
				data = append(data, rec[:len(rec)/2]...)
			} else {
				copy(data[whole:], rec[:len(rec)/2])
			}
			if err := os.WriteFile(seg, data, 0o640); err != nil {
				t.Fatal(err)
			}
			s2, rep, err := Open(Options{Dir: dir, Fsync: true, Pools: h.pools, Class: h.class, Loop: h.loop})
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			wantTorn := 1
			if prealloc {
				wantTorn = 0
			}
			if rep.Messages != 2 || rep.TornTails != wantTorn || len(rep.Corrupt) != 2 {
				t.Fatalf("report = %+v; want 2 messages, %d torn tails, 2 entries in Corrupt", rep, wantTorn)
			}
			for i, id := range ids {
				_, body, err := s2.Load(id)
				if i == 1 {
					if !errors.Is(err, ErrNotFound) {
						t.Fatalf("damaged record: %v", err)
					}
					continue
				}
				if err != nil || string(body) != fmt.Sprintf("message %d\r\n", i) {
					t.Fatalf("Load(%s) = %q %v", id, body, err)
				}
			}
			fi, err := os.Stat(seg)
			if err != nil {
				t.Fatal(err)
			}
			saved, serr := os.ReadFile(filepath.Join(dir, "corrupt", filepath.Base(seg)+".tail"))
			if prealloc {
				// The torn record stays (reported); the zeros after it go.
				if fi.Size() <= whole || fi.Size() >= int64(len(data)) || !errors.Is(serr, os.ErrNotExist) {
					t.Fatalf("segment after recovery: size %d (records end at %d, file was %d), saved tail %v; want the zeros cut quietly", fi.Size(), whole, len(data), serr)
				}
				return
			}
			if fi.Size() != whole {
				t.Fatalf("segment after recovery: size %d; want the torn tail cut to %d", fi.Size(), whole)
			}
			if serr != nil || !bytes.Equal(saved, rec[:len(rec)/2]) {
				t.Fatalf("saved tail = %d bytes, %v; want the %d bytes cut off", len(saved), serr, len(rec)/2)
			}
		})
	}
}

// TestSegmentZerosAhead: a Fsync spool writes zeros ahead of its records, so
// that a segment's length changes once per preallocChunk and not at every
// batch; a spool without Fsync does not; and a restart reads the zeros as the
// end of the segment, reporting nothing.
func TestSegmentZerosAhead(t *testing.T) {
	h := newHarness(t)
	for _, fsync := range []bool{true, false} {
		dir := t.TempDir()
		s := h.open(t, dir, fsync, true)
		size := func() int64 {
			t.Helper()
			fi, err := os.Stat(filepath.Join(dir, "queue", segName(0)))
			if err != nil {
				t.Fatal(err)
			}
			return fi.Size()
		}
		if _, err := h.spoolSmall(t, s, false, "one\r\n"); err != nil {
			t.Fatal(err)
		}
		first := size()
		if _, err := h.spoolSmall(t, s, false, "two\r\n"); err != nil {
			t.Fatal(err)
		}
		second := size()
		s.Close()
		if fsync && (first != preallocChunk || second != first) {
			t.Errorf("fsync: segment %d bytes after one message, %d after two; want %d both times", first, second, preallocChunk)
		}
		if !fsync && (first >= second || second >= preallocChunk) {
			t.Errorf("no fsync: segment %d bytes after one message, %d after two; want it to grow by the record", first, second)
		}
		s2, rep, err := Open(Options{Dir: dir, Fsync: fsync, Pools: h.pools, Class: h.class, Loop: h.loop})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Messages != 2 || rep.TornTails != 0 || len(rep.Corrupt) != 0 {
			t.Errorf("fsync %v: report after restart = %+v; want 2 messages and nothing else", fsync, rep)
		}
		s2.Close()
	}
}

// TestLoadDamagedRecord: a record whose header was damaged after the spool
// indexed it loads as ErrCorrupt, whatever length the header now claims,
// and never as a huge allocation.
func TestLoadDamagedRecord(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	s := h.open(t, dir, false, false)
	id, err := h.spoolSmall(t, s, true, "fine\r\n")
	if err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, "queue", segmentsIn(queueFiles(t, dir))[0])
	for _, hdr := range [][]byte{appendRecHeader(nil, 1<<63-16), appendRecHeader(nil, 1<<40), []byte("garbage garbage garbage\n")} {
		f, err := os.OpenFile(seg, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt(hdr, 0)
		f.Close()
		if _, _, err := s.Load(id); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Load with header %q: %v, want ErrCorrupt", hdr, err)
		}
	}
}

// TestSegmentDuplicateID: an id already spooled is refused, as O_EXCL
// refuses a message file, and the spooled message is untouched.
func TestSegmentDuplicateID(t *testing.T) {
	for _, mode := range segmentModes {
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t)
			s := h.open(t, t.TempDir(), mode.fsync, mode.group)
			id, err := h.spoolSmall(t, s, mode.inline, "first\r\n")
			if err != nil {
				t.Fatal(err)
			}
			res := make(chan error, 1)
			h.onLoop(func() {
				m := s.Begin(&Envelope{ID: id, Rcpts: []string{"r@x.example"}})
				m.Write([]byte("second\r\n"))
				if mode.inline {
					res <- m.CommitNow()
					return
				}
				m.Commit(func(err error) { res <- err })
			})
			if err := <-res; !errors.Is(err, ErrDuplicate) {
				t.Fatalf("second commit of %s: %v, want ErrDuplicate", id, err)
			}
			if _, body, err := s.Load(id); err != nil || string(body) != "first\r\n" || s.Count() != 1 {
				t.Fatalf("Load = %q %v, Count %d", body, err, s.Count())
			}
		})
	}
}

// TestSegmentDuplicateIDInOneBatch: of two messages with one id in the same
// batch the first is spooled and the second refused; the ids the batch saw
// do not outlive it (the set is kept from batch to batch), and the batches
// after it commit as usual, in order.
func TestSegmentDuplicateIDInOneBatch(t *testing.T) {
	for _, mode := range segmentModes {
		if mode.inline {
			continue // CommitNow writes one message at a time: no batch
		}
		t.Run(mode.name, func(t *testing.T) {
			h := newHarness(t)
			s := h.open(t, t.TempDir(), mode.fsync, mode.group)
			// Hold the writer after its first batch, so that the next
			// commits queue up and make one batch.
			held, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			s.afterBatch = func() {
				once.Do(func() {
					close(held)
					<-release
				})
			}
			type result struct {
				body string
				err  error
			}
			results := make(chan result, 4)
			commit := func(id, body string) {
				m := s.Begin(&Envelope{ID: id, Received: time.Now(), Rcpts: []string{"r@x.example"}})
				m.Write([]byte(body))
				m.Commit(func(err error) { results <- result{body, err} })
			}
			first := s.NewID(time.Now())
			h.onLoop(func() { commit(first, "first\r\n") })
			<-held
			dup := s.NewID(time.Now())
			h.onLoop(func() {
				commit(dup, "one\r\n")
				commit(dup, "two\r\n")
			})
			close(release)
			for _, want := range []string{"first\r\n", "one\r\n", "two\r\n"} {
				r := <-results
				switch {
				case r.body != want:
					t.Fatalf("completion of %q, want %q first", r.body, want)
				case want == "two\r\n" && !errors.Is(r.err, ErrDuplicate):
					t.Errorf("second message with id %s: %v, want ErrDuplicate", dup, r.err)
				case want != "two\r\n" && r.err != nil:
					t.Errorf("message %q: %v", want, r.err)
				}
			}
			// A batch after it: a new id goes in, the duplicate's stays refused.
			later := s.NewID(time.Now())
			h.onLoop(func() {
				commit(later, "later\r\n")
				commit(dup, "three\r\n")
			})
			if r := <-results; r.body != "later\r\n" || r.err != nil {
				t.Errorf("next batch: %q %v, want later spooled", r.body, r.err)
			}
			if r := <-results; r.body != "three\r\n" || !errors.Is(r.err, ErrDuplicate) {
				t.Errorf("id %s once more: %q %v, want ErrDuplicate", dup, r.body, r.err)
			}
			// The writer emptied its set before it handed the completions
			// over (they came back through the loop and the channel since).
			if n := len(s.seen); n != 0 {
				t.Errorf("the writer's set of ids seen holds %d ids after its batches", n)
			}
			if _, body, err := s.Load(dup); err != nil || string(body) != "one\r\n" || s.Count() != 3 {
				t.Fatalf("Load(%s) = %q %v, Count %d; want the first of the two and 3 messages", dup, body, err, s.Count())
			}
		})
	}
}

// TestScanSegmentStopsAtGarbage: scanSegment never reads past a header that
// does not parse or a length that runs past the end.
func TestScanSegmentStopsAtGarbage(t *testing.T) {
	env := &Envelope{ID: "A", Rcpts: []string{"r@x"}}
	body := []byte("hi\r\n")
	e := appendEnvelope(nil, env)
	payload := appendTrailer(append(append([]byte(nil), body...), e...), int64(len(body)), len(e), crc32IEEE(append(append([]byte(nil), body...), e...)))
	rec := append(appendRecHeader(nil, int64(len(payload))), payload...)
	cases := map[string]struct {
		data     []byte
		recs     int
		tailAt   int
		dataSize int
	}{
		"one record":        {rec, 1, len(rec), len(rec)},
		"zeros after":       {append(append([]byte(nil), rec...), make([]byte, 100)...), 1, len(rec), len(rec) + 100},
		"length past end":   {append(appendRecHeader(nil, 1<<40), payload...), 0, 0, 0},
		"length near 2^63":  {append(appendRecHeader(nil, 1<<63-16), payload...), 0, 0, 0},
		"short header":      {rec[:10], 0, 0, 10},
		"unknown magic":     {append([]byte("XXREC1 "), rec[7:]...), 0, 0, len(rec)},
		"header not hex":    {append(append([]byte(recLive), []byte("zzzzzzzzzzzzzzzz\n")...), payload...), 0, 0, 0},
		"length too short":  {append(appendRecHeader(nil, 3), payload...), 0, 0, 0},
		"dropped is parsed": {append([]byte(recDropped), rec[len(recDropped):]...), 1, len(rec), len(rec)},
	}
	for name, tc := range cases {
		recs, bad, tail := scanSegment(tc.data)
		if len(recs) != tc.recs || len(bad) != 0 || tail != int64(tc.tailAt) {
			t.Errorf("%s: %d records, %d bad, tail at %d; want %d records, tail at %d", name, len(recs), len(bad), tail, tc.recs, tc.tailAt)
		}
	}
}

// TestScanReadsWithoutChanging: Scan sees the messages of segments and of
// files, skips dropped and damaged ones, and leaves a torn tail in place
// (only recovery, in the process that owns the spool, cuts it).
func TestScanReadsWithoutChanging(t *testing.T) {
	h := newHarness(t)
	dir := t.TempDir()
	s := h.open(t, dir, true, true)
	keep, err := h.spoolSmall(t, s, false, "kept\r\n")
	if err != nil {
		t.Fatal(err)
	}
	dropped, err := h.spoolSmall(t, s, false, "dropped\r\n")
	if err != nil {
		t.Fatal(err)
	}
	chunked := h.spoolOne(t, s, []string{"r@x.example"}, "a\r\n", "b\r\n")
	if err := s.Drop(dropped); err != nil {
		t.Fatal(err)
	}
	s.Close()
	seg := filepath.Join(dir, "queue", segmentsIn(queueFiles(t, dir))[0])
	f, err := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte(recLive + "00000000000fffff\ntorn"))
	f.Close()
	before, _ := os.ReadFile(seg)

	got := map[string]string{}
	if err := Scan(dir, func(env *Envelope, body []byte) error {
		got[env.ID] = string(body)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[keep] != "kept\r\n" || got[chunked] != "a\r\nb\r\n" {
		t.Fatalf("Scan found %q", got)
	}
	if after, _ := os.ReadFile(seg); !bytes.Equal(before, after) {
		t.Fatal("Scan changed the segment")
	}
	stop := errors.New("stop")
	if err := Scan(dir, func(*Envelope, []byte) error { return stop }); err != stop {
		t.Fatalf("Scan returned %v, want fn's error", err)
	}
}

// FuzzScanSegment: whatever a segment file holds, the scan never panics,
// never reads past the end, reports records in increasing order inside the
// part it accepted, and returns only records whose payload checks.
func FuzzScanSegment(f *testing.F) {
	env := &Envelope{ID: "A-1", Rcpts: []string{"r@x"}}
	body := []byte("hi\r\n")
	e := appendEnvelope(nil, env)
	payload := appendTrailer(append(append([]byte(nil), body...), e...), int64(len(body)), len(e), crc32IEEE(append(append([]byte(nil), body...), e...)))
	rec := append(appendRecHeader(nil, int64(len(payload))), payload...)
	f.Add(rec)
	f.Add(append(append([]byte(nil), rec...), rec[:30]...))
	f.Add(append([]byte(recDropped), rec[len(recDropped):]...))
	f.Add([]byte(recLive + "ffffffffffffffff\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, bad, tail := scanSegment(data)
		if tail < 0 || tail > int64(len(data)) {
			t.Fatalf("tail %d outside 0..%d", tail, len(data))
		}
		last := int64(-1)
		for _, r := range recs {
			if r.off <= last || r.off >= tail {
				t.Fatalf("record at %d after %d, tail %d", r.off, last, tail)
			}
			last = r.off
			if r.env == nil {
				t.Fatalf("record at %d returned without its envelope", r.off)
			}
		}
		for _, off := range bad {
			if off < 0 || off >= tail {
				t.Fatalf("bad record at %d, tail %d", off, tail)
			}
		}
	})
}
