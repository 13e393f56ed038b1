package spool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// makeFiles creates n files of size bytes each in dir and returns their
// open descriptors.
func makeFiles(dir string, n, size int) ([]int, error) {
	data := bytes.Repeat([]byte("m"), size)
	fds := make([]int, 0, n)
	for i := 0; i < n; i++ {
		fd, err := createAt(unix.AT_FDCWD, filepath.Join(dir, fmt.Sprintf("f%d", i)), 0o600)
		if err == nil {
			fds = append(fds, fd)
			err = writeAll(fd, data)
		}
		if err != nil {
			for _, fd := range fds {
				unix.Close(fd)
			}
			return nil, err
		}
	}
	return fds, nil
}

// openFiles is makeFiles for a test, which closes them at its end; an entry
// set to -1 is not closed.
func openFiles(t testing.TB, dir string, n, size int) []int {
	t.Helper()
	fds, err := makeFiles(dir, n, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, fd := range fds {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	})
	return fds
}

// TestSyncerFlushesEveryFile flushes batches through AIO and through the
// plain fdatasync fallback, with a batch larger than one AIO round and with
// descriptors that cannot be flushed among good ones: each descriptor gets
// its own result, and a bad one never hides or spoils the others.
func TestSyncerFlushesEveryFile(t *testing.T) {
	cases := []struct {
		name  string
		n     int
		bad   []int // indexes replaced by a closed descriptor
		plain bool
	}{
		{name: "empty", n: 0},
		{name: "one", n: 1},
		{name: "two rounds", n: aioDepth + 5},
		{name: "bad first", n: 4, bad: []int{0}},
		{name: "bad middle and last", n: 6, bad: []int{2, 5}},
		{name: "plain", n: 5, plain: true},
		{name: "plain bad", n: 3, bad: []int{1}, plain: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fds := openFiles(t, t.TempDir(), c.n, 1024)
			isBad := map[int]bool{}
			for _, i := range c.bad {
				// A descriptor number that is certainly closed.
				fd, err := unix.Dup(fds[i])
				if err != nil {
					t.Fatal(err)
				}
				unix.Close(fd)
				fds[i] = fd
				isBad[i] = true
			}
			var y syncer
			y.noAIO = c.plain
			defer y.close()
			errs := make([]error, len(fds))
			y.fdatasyncAll(fds, errs)
			if !c.plain && c.n > 0 && y.noAIO {
				t.Error("the AIO path fell back to plain fdatasync")
			}
			for i, err := range errs {
				switch {
				case isBad[i] && !errors.Is(err, unix.EBADF):
					t.Errorf("descriptor %d (closed): %v, want EBADF", i, err)
				case !isBad[i] && err != nil:
					t.Errorf("descriptor %d: %v", i, err)
				}
			}
			for _, i := range c.bad {
				fds[i] = -1
			}
		})
	}
}

// TestSyncBatchReportsPerMessage checks that the writer's batch flush puts a
// failure on the message whose file failed, and only there.
func TestSyncBatchReportsPerMessage(t *testing.T) {
	dir := t.TempDir()
	fds := openFiles(t, dir, 3, 100)
	fd, err := unix.Dup(fds[1])
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fd)
	s := &Spool{}
	defer s.syncer.close()
	ops := make([]*op, 3)
	for i := range ops {
		m := &Message{env: &Envelope{ID: fmt.Sprintf("m%d", i)}, fd: fds[i]}
		if i == 1 {
			m.fd = fd
		}
		ops[i] = &op{kind: opCommit, msg: m}
	}
	s.syncBatch(ops)
	if ops[0].err != nil || ops[2].err != nil {
		t.Fatalf("good files: %v, %v", ops[0].err, ops[2].err)
	}
	if !errors.Is(ops[1].err, unix.EBADF) {
		t.Fatalf("bad file: %v, want EBADF", ops[1].err)
	}
}

// BenchmarkBatchSync measures making a batch of 50 new 1 KiB files durable
// the ways the writer can: one fdatasync after the other (the peer: what
// group commit did before), writeback started for all then flushed
// concurrently through AIO (syncBatch), and one syncfs. Run it on the disk a
// spool would use (TMPDIR), not on tmpfs, where every flush is free.
func BenchmarkBatchSync(b *testing.B) {
	const batch = 50
	ways := []struct {
		name string
		sync func(y *syncer, fds []int, errs []error) error
	}{
		{"fdatasync-each", func(_ *syncer, fds []int, _ []error) error {
			for _, fd := range fds {
				if err := fdatasync(fd); err != nil {
					return err
				}
			}
			return nil
		}},
		{"writeback+aio", func(y *syncer, fds []int, errs []error) error {
			for _, fd := range fds {
				startWriteback(fd)
			}
			y.fdatasyncAll(fds, errs)
			return errors.Join(errs...)
		}},
		{"syncfs", func(_ *syncer, fds []int, _ []error) error { return syncfs(fds[0]) }},
	}
	for _, w := range ways {
		b.Run(w.name, func(b *testing.B) {
			var y syncer
			defer y.close()
			errs := make([]error, batch)
			round := 0
			dir := b.TempDir()
			for b.Loop() {
				b.StopTimer()
				sub := filepath.Join(dir, fmt.Sprint(round))
				round++
				if err := os.Mkdir(sub, 0o700); err != nil {
					b.Fatal(err)
				}
				fds, err := makeFiles(sub, batch, 1024)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				clear(errs)
				err = w.sync(&y, fds, errs)
				for _, fd := range fds {
					unix.Close(fd)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/file")
		})
	}
}
