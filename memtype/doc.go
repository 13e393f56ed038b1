// Package memtype accounts for memory by named type, so that operators can see where
// the server's memory goes (the console's `memory` command) and so that a module that
// frees memory with the wrong type is caught instead of corrupting someone else's pool.
//
// A Registry holds the types. Modules register theirs once, in conf_setup, in the
// process-wide registry returned by Default; a second registration of a name fails.
// A Type is fixed-size (every object the same size) or variable-size. Names follow the
// "module:description" convention, e.g. "esmtp:session".
//
// There are three ways to allocate, all counted the same way per type (live
// allocations, bytes in use, peaks, allocations since registration):
//
//   - Pool[T], made by NewFixed, hands out *T objects of a fixed-size type and reuses
//     them (it is built on sync.Pool; see Pool for why), so hot paths do not leave one
//     fresh object per operation to the garbage collector.
//   - Type.Alloc, Realloc, Free, Strdup and Strndup manage accounted []byte buffers on
//     the Go heap.
//   - Type.AllocRaw, ReallocRaw and FreeRaw manage memory outside the Go heap, mapped
//     from the system in slabs of size classes (large blocks mapped one by one), for
//     native C modules that must not hold Go pointers.
//
// Every allocation records its owner in a few bytes beside it (a trailer for pool
// objects, a 16-byte header in front of buffers and raw blocks). Freeing with the
// wrong type, freeing twice or freeing something memtype did not hand out is a misuse:
// it is reported through Options.Report (slog's default logger otherwise) naming both
// types, returned as an error wrapping ErrWrongType, ErrDoubleFree or ErrNotOwned, and
// the memory is left alone. With Options.Debug the misuse panics instead of returning;
// with Options.Fill fresh memory is filled with FillByte (0xA5) so that reads of memory
// nobody wrote show up as garbage.
//
// Registry.Snapshot returns the counters sorted by name, and WriteTable and
// Registry.WriteMemory render them as the `memory` command's tables.
//
// Everything in this package is safe for concurrent use from any goroutine. Counters
// are atomics, padded per type so that busy types do not share cache lines.
package memtype
