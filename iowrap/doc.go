// Package iowrap gives modules one POSIX-like IO interface over files, memory and the
// network: open, read, write, lseek, close and fstat, on drivers chosen by the URL
// scheme of the name opened, after Momentum's IO wrappers.
//
// A Registry maps schemes to Drivers. The built-in drivers are
//
//   - "file" (FileDriver): "file:///abs/path", and plain paths, which are not URLs;
//   - "mem" (MemDriver): named in-memory files, "mem://name", shared by name, with
//     POSIX open flags, seek and truncate semantics;
//   - "http" and "https" (HTTPDriver): read-only GETs through a net/http client with
//     connect and overall timeouts and a bound on the response size.
//
// Modules add synthetic drivers at run time with Register (a DriverFunc and
// NewBytesFile make a small one easy) and take them away with Unregister. The
// package-level Open, Register, Unregister and ReadJob use the process-wide registry
// returned by Default.
//
// Errors are *fs.PathError values naming the operation and the URL, with a POSIX errno
// (unix.ENOENT, EEXIST, EACCES, EBADF, EINVAL, EROFS, EFBIG, ETIMEDOUT, ...) or one of
// the package's sentinel errors inside, so errors.Is(err, fs.ErrNotExist) works across
// drivers: an HTTP 404 is a not-exist error too (see StatusError).
//
// All of this blocks, like the system calls it imitates, and so never runs on the
// master loop. ReadJob is the bridge: a loop callback suspends its event, ReadJob
// fetches a URL into memory in the IO thread pool, and its completion, back on the
// loop, hands over the content and resumes the event.
package iowrap
