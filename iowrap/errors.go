package iowrap

import "errors"

// Sentinel errors of the package. POSIX conditions are reported with the errno a C
// caller would see (unix.ENOENT, unix.EBADF, unix.EROFS, ...) inside an *fs.PathError,
// so errors.Is(err, fs.ErrNotExist) and friends work as they do for package os; the
// sentinels below cover what has no errno.
var (
	// ErrNoDriver reports a URL whose scheme no driver is registered for.
	ErrNoDriver = errors.New("iowrap: no driver for scheme")
	// ErrDriverExists reports a second registration of a scheme.
	ErrDriverExists = errors.New("iowrap: scheme already registered")
	// ErrBadScheme reports a scheme that is not [a-z][a-z0-9+.-]*, or a nil driver.
	ErrBadScheme = errors.New("iowrap: invalid scheme")
	// ErrTooLarge reports content beyond a driver's or a reader's size bound. Errors
	// wrapping it also wrap unix.EFBIG.
	ErrTooLarge = errors.New("iowrap: content too large")
)
