// Package spool keeps the messages the ESMTP listener accepted, durably,
// before the listener answers 250.
//
// # Layout and format
//
// A [Spool] owns a directory (the configuration's Spoolbase). Messages live in
// its "queue" subdirectory, one file each, named by message id. A file holds
// the body (dot-unstuffed, CRLF lines) followed by the envelope (id, time,
// peer, HELO, sender, recipients, one per line) and a fixed-size trailer
// giving both lengths and a CRC-32 of everything before it. A file is written
// under a temporary name (".tmp-<id>") and renamed into place only once it is
// whole (except on an Inline spool, see "Writing in place"); recovery
// ([Open]) removes temporary files and moves any file whose trailer does not
// check into "corrupt", so a restart never treats half a message as whole.
//
// # Durability and group commit
//
// With Options.Fsync (the configuration's Force_Fsync, on by default) a
// message is durable before its commit completes: its data is flushed, it is
// renamed into place and the queue directory is flushed. All of that happens
// in one writer job at a time in the SPOOLIN thread pool, never on the event
// loop. With Options.GroupCommit the job takes every message queued while the
// previous job ran (waiting up to Options.Window for more), flushes the data
// of the batch's files, renames them all, and makes the renames durable with
// one fsync(2) of the directory; the commits of the batch then complete
// together, on the loop. The batch's files are flushed together, not one after
// the other: the job starts the writeback of every file (sync_file_range(2)),
// then hands all their fdatasync(2) calls to the kernel at once through native
// AIO (io_submit(2), IOCB_CMD_FDSYNC), so that the data writes, device cache
// flushes and journal commits of the batch overlap and are shared instead of
// paid once per file. A kernel without that falls back to plain fdatasync.
// With Options.SyncFS one syncfs(2) replaces the per-file flushes: one flush
// for the whole batch, but of every dirty file of the file system, so it is
// for a spool on a file system of its own. Without group commit every message
// gets its own fdatasync, one message after the other.
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
// An Inline spool writes a message whose body never left memory (no Flush:
// a small one) under its final name, body, envelope and trailer in one
// writev(2), and does not rename it: open, writev, close. The rename exists
// to make a whole file appear at once; here the trailer already says whether
// a file is whole, and no durability waits on the name. If the process dies
// inside that writev, the file it leaves has no trailer that checks, so
// recovery moves it to corrupt/ like any other damaged file and never treats
// it as a message; no 250 was sent for it. A message that was flushed in
// chunks (a large one) keeps the temporary name until it is whole, because
// its file stays unfinished across many loop callbacks. Files are opened,
// renamed and removed relative to the queue directory's descriptor; created
// with O_EXCL and renamed with RENAME_NOREPLACE, so that an id used twice
// fails instead of replacing a message.
//
// # Threads
//
// A [Message] is built on the event loop (Write, Flush, Commit, Abort) and
// its completions run there. The index behind Count, List and Drop is guarded
// and may be read from any goroutine (the console).
package spool
