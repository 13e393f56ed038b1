// Package spool keeps the messages the ESMTP listener accepted, durably,
// before the listener answers 250.
//
// # Layout and format
//
// A [Spool] owns a directory (the configuration's Spoolbase). Messages live in
// its "queue" subdirectory. A message is stored as the body (dot-unstuffed,
// CRLF lines) followed by the envelope (id, time, peer, HELO, sender,
// recipients, one per line) and a fixed-size trailer giving both lengths and
// a CRC-32 of everything before it. Where those bytes go depends on the
// message:
//
//   - a message whose body never left memory (no Flush: up to the listener's
//     chunk size) is a record in a segment (see "Segments");
//   - a message flushed in chunks while it arrived has a file of its own,
//     named by its id, written under a temporary name (".tmp-<id>") and
//     renamed into place only once it is whole.
//
// Recovery ([Open]) removes temporary files, moves any message file whose
// trailer does not check into "corrupt", and checks every segment record, so
// a restart never treats half a message as whole.
//
// # Segments
//
// A segment ("seg-" and 16 hex digits, numbered in the order they were
// started) holds many messages, each as a record: a header ("ECREC1 " and 16
// hex digits of the payload length) and the payload, laid out as a message
// file is. Appending a record costs one write to a file already open, where a
// file per message costs a create, a write and a close, and with Fsync one
// flush per file plus the directory's: on tmpfs the create alone cost more
// than the rest of the listener's work on a small message, and on a disk a
// batch of records is flushed with one fdatasync of one file. The writer
// appends to one current segment at explicit offsets (pwritev) and starts a
// new one when a batch would take it past Options.SegmentSize; with Fsync the
// new segment's directory entry is flushed before any record in it is
// acknowledged. Drop overwrites a record's magic with "ECDEL1 " in place (and
// flushes it with Fsync); a segment is removed when its last live record is
// dropped and the writer has moved on. Recovery never appends to an old
// segment. It reads each segment record by record: a record whose header
// parses but whose payload does not check is skipped and reported; the first
// header that does not parse, or a length that runs past the end, ends the
// segment. What follows it was never acknowledged, since a batch is written
// only after the one before it is durable, and a failed write or flush seals
// the segment; it is saved as corrupt/<segment>.tail and reported (unless it
// is all zero bytes, see below) and cut off. [Scan] reads a spool without changing it, for tools and
// tests outside the owning process.
//
// # Durability and group commit
//
// With Options.Fsync (the configuration's Force_Fsync, on by default) a
// message is durable before its commit completes: a record is flushed with
// its segment; a message file's data is flushed, it is renamed into place and
// the queue directory is flushed. All of that happens in one writer job at a
// time in the SPOOLIN thread pool, never on the event loop. With
// Options.GroupCommit the job takes every message queued while it flushed the
// previous batch (waiting up to Options.Window for more), appends the batch's
// records to the segment with one pwritev(2) and flushes them with one
// fdatasync(2), flushes the data of the batch's files, renames them all, and
// makes the renames durable with one fsync(2) of the directory; the commits
// of the batch then complete together, on the loop. The batch's files are
// flushed together, not one after the other: the job starts the writeback of
// every file (sync_file_range(2)), then hands all their fdatasync(2) calls to
// the kernel at once through native AIO (io_submit(2), IOCB_CMD_FDSYNC), so
// that the data writes, device cache flushes and journal commits of the batch
// overlap and are shared instead of paid once per file. A kernel without that
// falls back to plain fdatasync. With Options.SyncFS one syncfs(2) replaces
// the per-file flushes: one flush for the whole batch, but of every dirty file
// of the file system, so it is for a spool on a file system of its own.
// Without group commit every message gets its own fdatasync, one message
// after the other. The job hands each batch's completions to the loop and
// goes on with the next batch at once, ending only when nothing is queued.
//
// With Fsync a segment is filled with zeros up to a megabyte ahead of its
// records, in the flush of the batch that crosses the mark, so that the
// flushes between marks write data alone, never a new file length (which
// costs an inode write or a journal commit, and a wait for it). Recovery and
// Scan read those zeros as the end of the segment; recovery cuts them off
// without reporting anything.
//
// With Fsync off nothing is flushed: a message is renamed into place as soon
// as it is written and the 250 goes out while it may still be only in the
// page cache. A crash of the machine (not of the process) can then lose
// accepted mail. That is for tmpfs spools and benchmarks only, so such a
// spool is Inline: it writes on the loop (Message.CommitNow), where a tmpfs
// write is a memory copy, instead of paying a pool round trip per message.
//
// # Writing in place
//
// An Inline spool without segments (Options.SegmentSize negative) writes a
// message whose body never left memory under its final name, body, envelope
// and trailer in one writev(2), and does not rename it: open, writev, close.
// The rename exists to make a whole file appear at once; here the trailer
// already says whether a file is whole, and no durability waits on the name.
// If the process dies inside that writev, the file it leaves has no trailer
// that checks, so recovery moves it to corrupt/ like any other damaged file
// and never treats it as a message; no 250 was sent for it. A message that was
// flushed in chunks (a large one) keeps the temporary name until it is whole,
// because its file stays unfinished across many loop callbacks. Files are
// opened, renamed and removed relative to the queue directory's descriptor;
// created with O_EXCL and renamed with RENAME_NOREPLACE, so that an id used
// twice fails instead of replacing a message (a segment record checks the
// index for the same reason).
//
// # Threads
//
// A [Message] is built on the event loop (Write, Flush, Commit, Abort) and
// its completions run there. The index behind Count, List and Drop is guarded
// and may be read from any goroutine (the console).
package spool
