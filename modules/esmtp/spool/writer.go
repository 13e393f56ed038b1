package spool

import (
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"sync"
	"time"

	"github.com/ecelerity-go/ecelerity/threadpool"
)

// bodyBufSize is the capacity of the body buffers kept in bufPool: a 1 KiB
// message and the first part of a 100 KiB one fit without growing.
const bodyBufSize = 64 << 10

// maxPooledBuf bounds the buffers given back to bufPool, so that one huge
// message does not pin its memory.
const maxPooledBuf = 1 << 20

// bufPool holds body and envelope buffers, boxPool the empty boxes that
// carry them in and out of bufPool. A sync.Pool takes a pointer; boxing a
// slice anew at each putBuf would cost an allocation per buffer, twice per
// message. getBuf empties the box it takes a buffer out of and keeps it for
// the next putBuf, so the boxes go round with the buffers.
var (
	bufPool = sync.Pool{New: func() any { b := make([]byte, 0, bodyBufSize); return &b }}
	boxPool sync.Pool
)

func getBuf() []byte {
	box := bufPool.Get().(*[]byte)
	b := (*box)[:0]
	*box = nil // the buffer is out: the box must not keep it alive
	boxPool.Put(box)
	return b
}

func putBuf(b []byte) {
	if cap(b) == 0 || cap(b) > maxPooledBuf {
		return
	}
	box, _ := boxPool.Get().(*[]byte)
	if box == nil {
		box = new([]byte)
	}
	*box = b[:0]
	bufPool.Put(box)
}

type opKind uint8

const (
	opAppend opKind = iota
	opCommit
	opAbort
)

// op is one request to the writer. The loop fills it; the worker sets err;
// the completion, back on the loop, calls done.
type op struct {
	kind opKind
	msg  *Message
	data []byte
	done func(error)
	err  error
}

// Message is a message being spooled. Begin creates it on the loop; Write,
// Flush, Commit and Abort are loop-only. Between Commit (or Abort) and the
// end of the message's last completion, nothing may touch it.
type Message struct {
	s   *Spool
	env *Envelope

	// Loop-only.
	buf      []byte // body bytes not yet handed to the writer
	size     int64  // body bytes written so far
	inflight int    // Flushes not completed
	ended    bool   // Commit or Abort called
	flushed  bool   // a Flush handed bytes to the writer

	// Writer-only (one writer job at a time, so no lock).
	fd      int
	name    string // the file's name in the queue directory; "" before it is created
	inPlace bool   // set by CommitNow (Inline: the loop is the writer): no temporary name
	crc     uint32
	written int64
	failed  error

	// end is the op of Commit or Abort, whichever ends the message: part of
	// the message, not an allocation of its own.
	end op
}

// Begin starts a message with its envelope. env.ID should come from NewID;
// the envelope may still change (recipients, binding) until Commit. Loop-only.
func (s *Spool) Begin(env *Envelope) *Message {
	return &Message{s: s, env: env, buf: getBuf(), fd: -1}
}

// Envelope returns the message's envelope (loop-only until Commit).
func (m *Message) Envelope() *Envelope { return m.env }

// Write appends body bytes in memory. Loop-only.
func (m *Message) Write(p []byte) {
	m.buf = append(m.buf, p...)
	m.size += int64(len(p))
}

// Size returns the body bytes written so far.
func (m *Message) Size() int64 { return m.size }

// Buffered returns the body bytes held in memory, not yet handed to the
// writer. A caller bounding its memory calls Flush above its chunk size.
func (m *Message) Buffered() int { return len(m.buf) }

// InFlight returns the number of Flushes whose completion has not run yet.
func (m *Message) InFlight() int { return m.inflight }

// Flush hands the buffered body bytes to the writer, which appends them to
// the message's temporary file; done (optional) runs on the loop once they are
// written (not yet durable: only Commit is). Loop-only.
func (m *Message) Flush(done func(error)) {
	if len(m.buf) == 0 {
		if done != nil {
			m.s.opts.Loop.Dispatch(func(time.Time) { done(nil) })
		}
		return
	}
	m.flushed = true
	data := m.buf
	m.buf = getBuf()
	if m.s.Inline() {
		err := m.writeData(data)
		if done != nil {
			m.s.opts.Loop.Dispatch(func(time.Time) { done(err) })
		}
		return
	}
	m.inflight++
	m.s.enqueue(&op{kind: opAppend, msg: m, data: data, done: func(err error) {
		m.inflight--
		if done != nil {
			done(err)
		}
	}})
}

// Commit writes the rest of the body and the envelope and puts the message in
// the spool; done runs on the loop once the message is in place, and durable
// when Fsync is on: only then may the listener answer 250. A nil error means
// the message is spooled. Loop-only; done is never called before Commit
// returns.
func (m *Message) Commit(done func(error)) {
	m.ended = true
	data := m.buf
	m.buf = nil
	m.end = op{kind: opCommit, msg: m, data: data, done: done}
	m.s.enqueue(&m.end)
}

// CommitNow is Commit for an Inline spool: it writes the message and renames
// it into place before it returns, and its error says whether the message is
// spooled. Loop-only; on a spool that is not Inline it fails.
func (m *Message) CommitNow() error {
	if !m.s.Inline() {
		return fmt.Errorf("%w: CommitNow on a durable spool", ErrOptions)
	}
	m.ended = true
	data := m.buf
	m.buf = nil
	m.s.mu.Lock()
	closed := m.s.closed
	m.s.mu.Unlock()
	if closed {
		putBuf(data)
		return ErrClosed
	}
	if !m.flushed && m.s.opts.SegmentSize > 0 {
		// Nothing written yet: the message is one record appended to the
		// current segment (see "Segments" in doc.go).
		if err := m.s.checkNewID(m.env.ID, nil); err != nil {
			putBuf(data)
			return err
		}
		s := m.s
		s.oneMsg[0], s.oneBody[0] = m, data
		err := s.commitRecords(s.oneMsg[:], s.oneBody[:])
		s.oneMsg[0], s.oneBody[0] = nil, nil
		return err
	}
	if !m.flushed {
		// Nothing written yet and no segments: the whole file goes out in one
		// writev under its final name, with no rename (see "Writing in place"
		// in doc.go).
		m.inPlace = true
	}
	if err := m.finish(data); err != nil {
		m.discard()
		return err
	}
	if !m.inPlace {
		if err := m.s.rename(m.name, m.env.ID); err != nil {
			m.discard()
			return fmt.Errorf("spool: commit %s: %w", m.env.ID, err)
		}
	}
	m.s.mu.Lock()
	m.s.index[m.env.ID] = entryOf(m.env, m.written)
	m.s.mu.Unlock()
	return nil
}

// Abort discards the message and its temporary file. Loop-only.
func (m *Message) Abort() {
	if m.ended {
		return
	}
	m.ended = true
	putBuf(m.buf)
	m.buf = nil
	if !m.flushed {
		// Nothing reached the writer: no file to remove.
		return
	}
	if m.s.Inline() {
		m.discard()
		return
	}
	m.end = op{kind: opAbort, msg: m}
	m.s.enqueue(&m.end)
}

// enqueue hands op to the writer, starting a job if none runs. Loop-only.
func (s *Spool) enqueue(o *op) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.fail([]*op{o}, ErrClosed)
		return
	}
	if s.pending == nil {
		// The writer took the last batch: start the next one in the slice
		// that a completed batch left, not in a new one.
		s.pending, s.spare = s.spare, nil
	}
	s.pending = append(s.pending, o)
	s.mu.Unlock()
	if !s.busy {
		s.submit()
	}
}

// submit starts the writer job. Loop-only.
func (s *Spool) submit() {
	s.busy = true
	if err := s.opts.Pools.Submit(&s.job); err != nil {
		s.busy = false
		s.mu.Lock()
		ops := s.pending
		s.pending = nil
		s.mu.Unlock()
		s.fail(ops, fmt.Errorf("spool: writer job: %w", err))
	}
}

// fail completes ops with err on a later loop iteration, so that no done runs
// inside the call that queued it.
func (s *Spool) fail(ops []*op, err error) {
	s.opts.Loop.Dispatch(func(time.Time) {
		for _, o := range ops {
			if o.done != nil {
				o.done(err)
			}
		}
	})
}

// work is the writer job: it takes every queued op, writes, flushes and
// renames the batch, hands the batch's completions to the loop, and goes on
// with whatever was queued meanwhile until nothing is. Worker goroutine; one
// at a time.
//
// The job does not end after each batch because the next batch would then
// wait for the loop to run this job's completion and submit a new job, and
// for a worker to wake up for it: on a busy machine that hand-over took as
// long as the flush itself. Staying, the writer starts the next batch as
// soon as a flush returns, while the loop replies to the last one.
func (s *Spool) work(*threadpool.Job) error {
	for {
		if s.opts.Fsync && s.opts.GroupCommit && s.opts.Window > 0 {
			time.Sleep(s.opts.Window)
		}
		s.mu.Lock()
		batch := s.pending
		s.pending, s.spare = s.spare, nil
		s.mu.Unlock()
		if len(batch) == 0 {
			s.mu.Lock()
			if s.spare == nil {
				s.spare = batch
			}
			s.mu.Unlock()
			return nil
		}
		s.writeBatch(batch)
		if s.afterBatch != nil {
			s.afterBatch()
		}
		s.mu.Lock()
		s.written = append(s.written, batch)
		s.mu.Unlock()
		s.opts.Loop.Dispatch(s.completeFn)
	}
}

// writeBatch writes, flushes and renames the ops of batch, setting each
// op's err. Writer job.
func (s *Spool) writeBatch(batch []*op) {
	commits, recOps := s.commitOps[:0], s.recOps[:0]
	defer func() {
		// Kept for the next batch, emptied (to their capacity: the batch
		// may have shortened them) so that they hold no message.
		clear(commits[:cap(commits)])
		clear(recOps[:cap(recOps)])
		s.commitOps, s.recOps = commits[:0], recOps[:0]
	}()
	for _, o := range batch {
		m := o.msg
		switch o.kind {
		case opAppend:
			o.err = m.writeData(o.data)
		case opAbort:
			m.discard()
		case opCommit:
			if !m.flushed && s.opts.SegmentSize > 0 {
				recOps = append(recOps, o)
				continue
			}
			if o.err = m.finish(o.data); o.err != nil {
				m.discard()
				continue
			}
			commits = append(commits, o)
		}
	}
	s.commitRecordOps(recOps)
	if len(commits) == 0 {
		return
	}
	if s.opts.Fsync && s.opts.GroupCommit {
		if s.opts.SyncFS {
			if err := syncfs(s.dirfd); err != nil {
				for _, o := range commits {
					o.err = fmt.Errorf("spool: commit %s: %w", o.msg.env.ID, err)
				}
			}
		} else {
			s.syncBatch(commits)
		}
		for _, o := range commits {
			m := o.msg
			fd := m.fd
			m.fd = -1
			if err := closeFD(fd); err != nil && o.err == nil {
				o.err = fmt.Errorf("spool: %s: %w", m.env.ID, err)
			}
		}
		kept := commits[:0]
		for _, o := range commits {
			if o.err != nil {
				o.msg.discard()
				continue
			}
			kept = append(kept, o)
		}
		commits = kept
	}
	renamed := commits[:0] // commits[i] is read before renamed[i] is written
	for _, o := range commits {
		m := o.msg
		if err := s.rename(m.name, m.env.ID); err != nil {
			o.err = fmt.Errorf("spool: commit %s: %w", m.env.ID, err)
			m.discard()
			continue
		}
		renamed = append(renamed, o)
	}
	if s.opts.Fsync && len(renamed) > 0 {
		if err := fsync(s.dirfd); err != nil {
			// Not known durable: fail the batch and take the files back, so
			// that a message the client will send again is not kept twice.
			for _, o := range renamed {
				o.err = fmt.Errorf("spool: commit %s: %w", o.msg.env.ID, err)
				_ = unlinkAt(s.dirfd, o.msg.env.ID)
			}
			return
		}
	}
	s.mu.Lock()
	for _, o := range renamed {
		s.index[o.msg.env.ID] = entryOf(o.msg.env, o.msg.written)
	}
	s.mu.Unlock()
	return
}

// complete runs the completions of the written batches, in the order they
// were written. The writer dispatches it once per batch, as one function
// value made at Open, not a closure per batch; a call that finds no batch
// (an earlier one ran them all) does nothing. Loop-only.
func (s *Spool) complete(time.Time) {
	s.mu.Lock()
	batches := s.written
	s.written = s.doneBatches[:0]
	s.mu.Unlock()
	for i, batch := range batches {
		for j, o := range batch {
			if o.done != nil {
				o.done(o.err)
			}
			batch[j] = nil
		}
		batches[i] = nil
		s.mu.Lock()
		if s.spare == nil {
			s.spare = batch[:0]
		}
		s.mu.Unlock()
	}
	s.doneBatches = batches[:0]
}

// done is the writer job's completion, on the loop, after the completions of
// its batches: it starts a new job if work arrived after the job last looked.
func (s *Spool) done(*threadpool.Job) {
	s.mu.Lock()
	more := len(s.pending) > 0
	s.mu.Unlock()
	s.busy = false
	if more {
		s.submit()
	}
}

// commitRecordOps appends the messages of ops, whose bodies never left
// memory, to the current segment: all in one write and one flush with group
// commit, else one write and one flush each. Each op's err says whether its
// message is spooled. Writer job only.
func (s *Spool) commitRecordOps(ops []*op) {
	if len(ops) == 0 {
		return
	}
	// An id already spooled, or twice in the batch, is refused, as a file
	// named by it would be (O_EXCL).
	seen := s.seen
	if seen == nil {
		seen = map[string]bool{}
		s.seen = seen
	}
	defer clear(seen)
	kept := ops[:0] // ops[i] is read before kept[i] is written
	for _, o := range ops {
		if o.err = s.checkNewID(o.msg.env.ID, seen); o.err != nil {
			putBuf(o.data)
			continue
		}
		seen[o.msg.env.ID] = true
		kept = append(kept, o)
	}
	ops = kept
	one := s.opts.Fsync && !s.opts.GroupCommit
	msgs, bodies := s.recMsgs[:0], s.recBodies[:0]
	for i, o := range ops {
		msgs, bodies = append(msgs, o.msg), append(bodies, o.data)
		if !one && i < len(ops)-1 {
			continue
		}
		err := s.commitRecords(msgs, bodies)
		for _, o := range ops[i+1-len(msgs) : i+1] {
			o.err = err
		}
		clear(msgs)
		clear(bodies)
		msgs, bodies = msgs[:0], bodies[:0]
	}
	s.recMsgs, s.recBodies = msgs, bodies
}

// checkNewID fails if id is in the index or in batch.
func (s *Spool) checkNewID(id string, batch map[string]bool) error {
	s.mu.Lock()
	_, dup := s.index[id]
	s.mu.Unlock()
	if dup || batch[id] {
		return fmt.Errorf("spool: commit %s: %w", id, ErrDuplicate)
	}
	return nil
}

// commitRecords appends the records of msgs, whose whole bodies are bodies,
// to the current segment, starting a new one if it is full, and flushes
// them when Fsync is on; then they are in the index. The bodies go back to
// the buffer pool. Writer only (the loop for an Inline spool).
func (s *Spool) commitRecords(msgs []*Message, bodies [][]byte) error {
	recs := s.recs[:0]
	defer func() {
		for _, r := range recs {
			putBuf(r.tail)
		}
		clear(recs)
		s.recs = recs[:0]
		for _, b := range bodies {
			putBuf(b)
		}
	}()
	var n int64
	for _, m := range msgs {
		r, err := m.encodeRecord(bodies[len(recs)])
		if err != nil {
			return err
		}
		recs = append(recs, r)
		n += r.len()
	}
	seg, err := s.segmentFor(n)
	if err != nil {
		return err
	}
	if err := s.appendRecords(seg, recs, msgs); err != nil {
		return err
	}
	for _, m := range msgs {
		m.written = m.size
	}
	return nil
}

// open creates the message's temporary file. Writer only.
func (m *Message) open() error {
	if m.fd >= 0 {
		return nil
	}
	name := m.env.ID
	if !m.inPlace {
		name = tmpPrefix + m.env.ID
	}
	fd, err := createAt(m.s.dirfd, name, uint32(m.s.opts.Mode.Perm()))
	if err != nil {
		return fmt.Errorf("spool: %s: %w", m.env.ID, err)
	}
	m.name = name
	m.fd = fd
	return nil
}

// writeData appends body bytes to the temporary file. Writer only.
func (m *Message) writeData(data []byte) error {
	defer putBuf(data)
	if m.failed != nil {
		return m.failed
	}
	if err := m.open(); err != nil {
		m.failed = err
		return err
	}
	if err := writeAll(m.fd, data); err != nil {
		m.failed = fmt.Errorf("spool: %s: %w", m.env.ID, err)
		return m.failed
	}
	m.crc = crc32.Update(m.crc, crc32.IEEETable, data)
	m.written += int64(len(data))
	return nil
}

// finish writes the last body bytes, the envelope and the trailer, flushes
// the file when each message syncs alone, and closes it. Writer only.
func (m *Message) finish(data []byte) error {
	defer putBuf(data)
	if m.failed != nil {
		return m.failed
	}
	if err := m.open(); err != nil {
		return err
	}
	m.crc = crc32.Update(m.crc, crc32.IEEETable, data)
	m.written += int64(len(data))
	if m.written != m.size {
		return fmt.Errorf("spool: %s: wrote %d of %d body bytes", m.env.ID, m.written, m.size)
	}
	tail := getBuf()
	defer func() { putBuf(tail) }()
	tail = appendEnvelope(tail, m.env)
	envLen := len(tail)
	m.crc = crc32.Update(m.crc, crc32.IEEETable, tail)
	tail = appendTrailer(tail, m.written, envLen, m.crc)
	// The rest of the body and the tail in one system call.
	if err := writeAll(m.fd, data, tail); err != nil {
		return fmt.Errorf("spool: %s: %w", m.env.ID, err)
	}
	if m.s.opts.Fsync && m.s.opts.GroupCommit {
		// The batch flushes it with the others and closes it (syncBatch).
		return nil
	}
	if m.s.opts.Fsync {
		if err := fdatasync(m.fd); err != nil {
			return fmt.Errorf("spool: %s: %w", m.env.ID, err)
		}
	}
	fd := m.fd
	m.fd = -1
	if err := closeFD(fd); err != nil {
		return fmt.Errorf("spool: %s: %w", m.env.ID, err)
	}
	return nil
}

// discard closes and removes the message's unfinished file, if any. Writer
// only (or the loop, for an Inline spool).
func (m *Message) discard() {
	if m.fd >= 0 {
		_ = closeFD(m.fd)
		m.fd = -1
	}
	if m.name != "" {
		if err := unlinkAt(m.s.dirfd, m.name); err != nil && !errors.Is(err, os.ErrNotExist) {
			m.s.opts.Logger.Warn("spool: cannot remove unfinished file", "file", m.name, "err", err)
		}
		m.name = ""
	}
}

// syncBatch flushes the data of every file of a batch, recording each
// failure in its op. It first starts the writeback of every file, so that
// their data goes to the device together, then has the kernel flush them all
// concurrently (syncer). Writer only.
func (s *Spool) syncBatch(ops []*op) {
	fds, errs := s.fds[:0], s.errs[:0]
	for _, o := range ops {
		startWriteback(o.msg.fd)
		fds = append(fds, o.msg.fd)
		errs = append(errs, nil)
	}
	s.syncer.fdatasyncAll(fds, errs)
	for i, o := range ops {
		if errs[i] != nil {
			o.err = fmt.Errorf("spool: %s: %w", o.msg.env.ID, errs[i])
		}
		errs[i] = nil
	}
	s.fds, s.errs = fds, errs
}
