package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// Options configure a Spool.
type Options struct {
	// Dir is the spool directory (Spoolbase); it is created if missing.
	Dir string
	// Mode is the mode of message files; zero means 0640.
	Mode fs.FileMode
	// Fsync makes every commit durable before it completes (Force_Fsync).
	Fsync bool
	// GroupCommit makes one flush cover every message queued meanwhile.
	GroupCommit bool
	// Window is how long a writer job waits for more messages before it
	// flushes a batch (group commit only); zero flushes what is queued at once,
	// which already batches every message that arrived during the last flush.
	Window time.Duration
	// SyncFS flushes a group-commit batch with one syncfs(2) of the spool's
	// file system instead of one fdatasync(2) per file: fewer flushes, but it
	// also flushes every other dirty file of that file system, so it pays off
	// only for a spool on a file system of its own.
	SyncFS bool
	// SegmentSize is the size at which the writer starts a new segment file
	// (see "Segments" in doc.go); zero means DefaultSegmentSize. A negative
	// value turns segments off: every message gets a file of its own.
	SegmentSize int64
	// Pools and Class name the pool the writer jobs run in (SPOOLIN).
	Pools *threadpool.Manager
	Class threadpool.ClassID
	// Loop is the event loop where completions run.
	Loop *sched.Loop
	// Logger receives recovery reports; nil means slog.Default().
	Logger *slog.Logger
}

// Entry is one spooled message as Count and List see it.
type Entry struct {
	ID       string
	Size     int64 // body bytes
	Received time.Time
	MailFrom string
	Rcpts    []string

	// Where the message is: a record at off in segment seg, or its own file
	// (named by ID) when seg is nil.
	seg *segment
	off int64
}

// Report says what Open found in the spool directory.
type Report struct {
	Messages    int      // whole messages now in the index
	TempRemoved int      // temporary files of unfinished writes removed
	Corrupt     []string // files moved aside to corrupt/, and records skipped ("segment@offset")
	Segments    int      // segment files holding live messages
	TornTails   int      // segments whose unfinished tail was cut off
}

// Spool is a spool directory with its writer. Create it with Open.
type Spool struct {
	opts     Options
	queueDir string
	dirfd    int    // the queue directory, for fsync
	pidPart  string // "-<pid, 5 digits>-", the middle of every id
	seq      atomic.Uint32

	// mu guards index, segs (and the live and current fields of each
	// segment), pending, spare and closed. The loop appends to pending; the writer
	// job takes it whole.
	mu      sync.Mutex
	index   map[string]Entry
	segs    map[string]*segment
	pending []*op
	spare   []*op   // an emptied batch, for pending to reuse
	written [][]*op // batches written, their completions not yet run
	closed  bool

	// Writer-only (the loop for an Inline spool, else the one writer job):
	// the segment records are appended to, the number of the next one, and
	// the scratch of the records' vectored writes.
	cur       *segment
	nextSeg   uint64
	recs      []record
	recMsgs   []*Message
	recBodies [][]byte
	iov       [][]byte
	// Scratch of one batch, kept between batches: its commits of files and
	// of records, and the ids seen in it.
	commitOps, recOps []*op
	seen              map[string]bool
	zeros             []byte      // preallocChunk zero bytes, made on first use
	oneMsg            [1]*Message // CommitNow's message and body, without allocating slices
	oneBody           [1][]byte

	// Loop-only: whether a writer job is submitted, and the job itself,
	// reused (the threadpool lets its owner resubmit it once it completed).
	busy bool
	job  threadpool.Job
	// completeFn is s.complete as a function value, made once: the writer
	// dispatches it after each batch. doneBatches is complete's emptied
	// list of batches, which the writer's list reuses.
	completeFn  func(time.Time)
	doneBatches [][]*op
	// afterBatch, when set (by tests, before the first commit), is called by
	// the writer job after each batch is written, before its completions
	// are handed to the loop.
	afterBatch func()

	// Writer-only (one writer job at a time): the batch flusher and its
	// scratch slices, reused from batch to batch.
	syncer syncer
	fds    []int
	errs   []error
}

// Open opens (creating if needed) the spool at opts.Dir and recovers it:
// temporary files of writes that never finished are removed, every message
// file is checked whole (trailer lengths and checksum) and indexed, and a
// file that does not check is moved to corrupt/. It does file IO: call it
// off the event loop.
func Open(opts Options) (*Spool, Report, error) {
	var rep Report
	if opts.Dir == "" || opts.Pools == nil || opts.Loop == nil {
		return nil, rep, fmt.Errorf("%w: Dir, Pools and Loop are required", ErrOptions)
	}
	if opts.Mode == 0 {
		opts.Mode = 0o640
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SegmentSize == 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	s := &Spool{
		opts: opts, queueDir: filepath.Join(opts.Dir, "queue"), pidPart: fmt.Sprintf("-%05d-", os.Getpid()),
		index: map[string]Entry{}, segs: map[string]*segment{},
	}
	for _, d := range []string{s.queueDir, filepath.Join(opts.Dir, "corrupt")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, rep, fmt.Errorf("spool: open: %w", err)
		}
	}
	if err := s.recover(&rep); err != nil {
		return nil, rep, err
	}
	fd, err := openDir(s.queueDir)
	if err != nil {
		return nil, rep, fmt.Errorf("spool: open: %w", err)
	}
	s.dirfd = fd
	s.completeFn = s.complete
	s.job = threadpool.Job{Name: "spool commit", Class: opts.Class, Work: s.work, Mode: threadpool.CompleteCallbackSched, Done: s.done, Loop: opts.Loop}
	s.seq.Store(s.lastSeq())
	rep.Messages = len(s.index)
	rep.Segments = len(s.segs)
	if rep.TempRemoved > 0 || len(rep.Corrupt) > 0 || rep.TornTails > 0 {
		opts.Logger.Warn("spool recovered", "dir", opts.Dir, "messages", rep.Messages, "temp_removed", rep.TempRemoved, "corrupt", len(rep.Corrupt))
	}
	return s, rep, nil
}

func (s *Spool) recover(rep *Report) error {
	des, err := os.ReadDir(s.queueDir)
	if err != nil {
		return fmt.Errorf("spool: recover: %w", err)
	}
	for _, de := range des {
		name := de.Name()
		path := filepath.Join(s.queueDir, name)
		if strings.HasPrefix(name, tmpPrefix) {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("spool: recover: %w", err)
			}
			rep.TempRemoved++
			continue
		}
		if !de.Type().IsRegular() {
			continue
		}
		if n, ok := segNumber(name); ok {
			if err := s.recoverSegment(name, n, rep); err != nil {
				return err
			}
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("spool: recover: %w", err)
		}
		env, body, err := decodeFile(data)
		if err == nil && env.ID != name {
			err = fmt.Errorf("%w: file %s holds id %s", ErrCorrupt, name, env.ID)
		}
		if err != nil {
			s.opts.Logger.Error("spool: corrupt message file moved aside", "file", name, "err", err)
			if err := os.Rename(path, filepath.Join(s.opts.Dir, "corrupt", name)); err != nil {
				return fmt.Errorf("spool: recover: %w", err)
			}
			rep.Corrupt = append(rep.Corrupt, name)
			continue
		}
		if _, dup := s.index[name]; dup {
			continue // kept from a segment already; see recoverSegment
		}
		s.index[name] = entryOf(env, int64(len(body)))
	}
	return nil
}

// lastSeq returns the highest counter of the recovered ids that carry this
// process's id, so that a spool opened again by the same process (or by a
// later one that was given the same pid) does not hand out an id again.
func (s *Spool) lastSeq() uint32 {
	var last uint32
	for id := range s.index {
		i := strings.Index(id, s.pidPart)
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseUint(id[i+len(s.pidPart):], 16, 32); err == nil && uint32(v) > last {
			last = uint32(v)
		}
	}
	return last
}

// tmpPrefix starts the name of a file still being written; recovery removes
// such files.
const tmpPrefix = ".tmp-"

// rename moves a finished file from its temporary name to its id. Writer
// only.
func (s *Spool) rename(tmp, id string) error { return renameAt(s.dirfd, tmp, id) }

func entryOf(env *Envelope, size int64) Entry {
	return Entry{ID: env.ID, Size: size, Received: env.Received, MailFrom: env.MailFrom, Rcpts: append([]string(nil), env.Rcpts...)}
}

// NewID returns a message id unique to this spool: the time in seconds, the
// process id and a counter, e.g. "6741A2B3-25004-0000001F". Any goroutine.
func (s *Spool) NewID(now time.Time) string {
	// One allocation (the string): the bytes are built on the stack.
	var a [32]byte
	b := appendHexUpper(a[:0], uint64(now.Unix())&0xffffffff, 8)
	b = append(b, s.pidPart...)
	b = appendHexUpper(b, uint64(s.seq.Add(1)), 8)
	return string(b)
}

func appendHexUpper(dst []byte, v uint64, width int) []byte {
	var b [16]byte
	for i := width - 1; i >= 0; i-- {
		b[i] = "0123456789ABCDEF"[v&0xf]
		v >>= 4
	}
	return append(dst, b[:width]...)
}

// Inline reports whether the spool writes on the caller's goroutine (the
// loop): it does when Fsync is off, since such a spool belongs on tmpfs,
// where a write is a memory copy, and a round trip through a pool would cost
// more than the write. Commit then completes at once (see CommitNow).
func (s *Spool) Inline() bool { return !s.opts.Fsync }

// Dir returns the spool directory.
func (s *Spool) Dir() string { return s.opts.Dir }

// Count returns the number of messages in the spool. Any goroutine.
func (s *Spool) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.index)
}

// List returns the spooled messages sorted by id. Any goroutine.
func (s *Spool) List() []Entry {
	s.mu.Lock()
	out := make([]Entry, 0, len(s.index))
	for _, e := range s.index {
		out = append(out, e)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func validID(id string) bool {
	return id != "" && !strings.ContainsAny(id, "/\\\x00") && !strings.HasPrefix(id, ".")
}

// Drop removes a message from the spool, durably when Fsync is on. It does
// file IO: any goroutine but the loop.
func (s *Spool) Drop(id string) error {
	if !validID(id) {
		return fmt.Errorf("%w: %q", ErrBadID, id)
	}
	// Taken out of the index first, so that two drops of one id do not both
	// reach the file; put back if the drop fails.
	s.mu.Lock()
	e, ok := s.index[id]
	delete(s.index, id)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err := s.drop(e); err != nil {
		s.mu.Lock()
		s.index[id] = e
		s.mu.Unlock()
		return err
	}
	return nil
}

// drop removes the message of e, which the caller took out of the index.
func (s *Spool) drop(e Entry) error {
	id := e.ID
	if e.seg != nil {
		if err := s.dropRecord(e); err != nil {
			return fmt.Errorf("spool: drop %s: %w", id, err)
		}
		return nil
	}
	if err := os.Remove(filepath.Join(s.queueDir, id)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			err = fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return fmt.Errorf("spool: drop: %w", err)
	}
	if s.opts.Fsync {
		if err := fsync(s.dirfd); err != nil {
			return fmt.Errorf("spool: drop %s: %w", id, err)
		}
	}
	return nil
}

// Load reads and checks one spooled message. It does file IO: any goroutine
// but the loop.
func (s *Spool) Load(id string) (*Envelope, []byte, error) {
	if !validID(id) {
		return nil, nil, fmt.Errorf("%w: %q", ErrBadID, id)
	}
	s.mu.Lock()
	e, ok := s.index[id]
	s.mu.Unlock()
	if ok && e.seg != nil {
		env, body, err := s.loadRecord(e)
		if err != nil {
			return nil, nil, fmt.Errorf("spool: load %s: %w", id, err)
		}
		return env, body, nil
	}
	data, err := os.ReadFile(filepath.Join(s.queueDir, id))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return nil, nil, fmt.Errorf("spool: load: %w", err)
	}
	env, body, err := decodeFile(data)
	if err != nil {
		return nil, nil, fmt.Errorf("spool: load %s: %w", id, err)
	}
	return env, body, nil
}

// Close stops taking work: later commits fail with ErrClosed. Work already
// handed to the writer still completes. Call it after the loop's sessions are
// gone and the pools drained; it closes the directory descriptor. Any
// goroutine but the loop.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.syncer.close()
	if c := s.cur; c != nil {
		// No writer runs any more (see above): the segment is sealed.
		s.cur = nil
		c.current = false
		_ = closeFD(c.fd)
		c.fd = -1
	}
	return closeFD(s.dirfd)
}

// Scan calls fn for every whole message in the spool at dir (Spoolbase): the
// message files and the live records of the segments, in no set order. It
// only reads, so it may run beside a daemon that writes the spool (a message
// being written may or may not be seen) and changes nothing that recovery
// would: files and records that do not check are skipped. It is for tools and
// tests that look at a spool from outside the process that owns it. fn's
// error stops the scan and is returned.
func Scan(dir string, fn func(env *Envelope, body []byte) error) error {
	q := filepath.Join(dir, "queue")
	des, err := os.ReadDir(q)
	if err != nil {
		return fmt.Errorf("spool: scan: %w", err)
	}
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") || !de.Type().IsRegular() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(q, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // dropped meanwhile
		}
		if err != nil {
			return fmt.Errorf("spool: scan: %w", err)
		}
		if _, ok := segNumber(name); ok {
			recs, _, _ := scanSegment(data)
			for _, r := range recs {
				if !r.live {
					continue
				}
				if err := fn(r.env, r.body); err != nil {
					return err
				}
			}
			continue
		}
		env, body, err := decodeFile(data)
		if err != nil || env.ID != name {
			continue
		}
		if err := fn(env, body); err != nil {
			return err
		}
	}
	return nil
}
