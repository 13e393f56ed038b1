package sched

// Ops is an operator set: the non-blocking read, write and close of one
// connection, under the IO helpers (WriteState, ReadState). FDConn implements it
// for a plain descriptor and TLSConn for TLS over one; modules may add others.
// Operations are called on the loop goroutine only and never block.
//
// Read fills p and returns n > 0; or returns n == 0 and err == nil when nothing
// can be read now, need then naming the readiness to wait for before trying
// again (TLS may need Write to make progress on a read); or returns io.EOF at the
// orderly end of input, or another error.
//
// Write takes bytes from p and returns how many it accepted. When it could not
// finish (n < len(p), or bytes it accepted are still queued inside the operator
// set) it returns the readiness to wait for in need; the caller then calls Write
// again, with the rest or with nothing, once that readiness fired. Write(nil)
// only pushes out what is queued.
//
// Close releases the connection, the descriptor included.
type Ops interface {
	Read(p []byte) (n int, need Mask, err error)
	Write(p []byte) (n int, need Mask, err error)
	Close() error
}
