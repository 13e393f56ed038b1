package esmtp

import (
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Logs receives the listener's records: one Reception (a mainlog R line) per
// recipient of every spooled message, and one Rejection (a rejectlog line)
// per refusal. Methods are called on the event loop and must not block: an
// implementation queues and writes elsewhere. The daemon adapts its logging
// package to this interface; LineLogs is a self-contained implementation.
type Logs interface {
	Reception(r *Reception)
	Rejection(r *Rejection)
}

// Reception is one mainlog R record (REFERENCE section 7):
// ts@msgid@batchid@connid@R@rcpt_local@rcpt_dom@from_local@from_dom@ip@size@proto@bgroup@binding.
type Reception struct {
	Time       time.Time
	MsgID      string
	BatchID    string
	ConnID     uint64
	RcptLocal  string
	RcptDomain string
	FromLocal  string
	FromDomain string
	IP         netip.Addr
	Size       int64
	Proto      string // "esmtp" (or "smtp" after HELO)
	BindGroup  string
	Binding    string
}

// Rejection is one rejectlog record:
// ts: R="ip:port" L="ip:port" C="connid" PATH="default" PATH_GRP="default"
// P="awaiting mailfrom" E=550 M=<module> CTXCONN=[k=v,...] CTXMESS=[...] text.
type Rejection struct {
	Time    time.Time
	Remote  netip.AddrPort
	Local   netip.AddrPort
	ConnID  uint64
	Phase   string // "connect", "ehlo", "mailfrom", "rcptto", "data", "data_spool", ...
	Code    int
	Module  string
	CtxConn map[string]string
	CtxMess map[string]string
	Text    string
}

// AppendReception formats r as a mainlog line, newline included.
func AppendReception(dst []byte, r *Reception) []byte {
	dst = strconv.AppendInt(dst, r.Time.Unix(), 10)
	dst = append(dst, '@')
	dst = append(dst, r.MsgID...)
	dst = append(dst, '@')
	dst = append(dst, r.BatchID...)
	dst = append(dst, '@')
	dst = strconv.AppendUint(dst, r.ConnID, 10)
	dst = append(dst, "@R@"...)
	for _, f := range []string{r.RcptLocal, r.RcptDomain, r.FromLocal, r.FromDomain} {
		dst = appendField(dst, f)
		dst = append(dst, '@')
	}
	if r.IP.IsValid() {
		dst = r.IP.AppendTo(dst)
	}
	dst = append(dst, '@')
	dst = strconv.AppendInt(dst, r.Size, 10)
	dst = append(dst, '@')
	dst = append(dst, r.Proto...)
	dst = append(dst, '@')
	dst = appendField(dst, r.BindGroup)
	dst = append(dst, '@')
	dst = appendField(dst, r.Binding)
	return append(dst, '\n')
}

// appendField keeps the mainlog's field separator and line breaks out of a
// field.
func appendField(dst []byte, f string) []byte {
	for i := 0; i < len(f); i++ {
		switch c := f[i]; c {
		case '@', '\n', '\r':
			dst = append(dst, '_')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendText keeps line breaks (and the dictionary separators, in a
// dictionary) out of a rejectlog field.
func appendText(dst []byte, f string, dict bool) []byte {
	for i := 0; i < len(f); i++ {
		switch c := f[i]; {
		case c == '\n' || c == '\r' || dict && (c == ',' || c == ']' || c == '='):
			dst = append(dst, '_')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// AppendRejection formats r as a rejectlog line, newline included.
func AppendRejection(dst []byte, r *Rejection) []byte {
	dst = strconv.AppendInt(dst, r.Time.Unix(), 10)
	dst = append(dst, `: R="`...)
	dst = r.Remote.AppendTo(dst)
	dst = append(dst, `" L="`...)
	dst = r.Local.AppendTo(dst)
	dst = append(dst, `" C="`...)
	dst = strconv.AppendUint(dst, r.ConnID, 10)
	dst = append(dst, `" PATH="default" PATH_GRP="default" P="awaiting `...)
	dst = append(dst, r.Phase...)
	dst = append(dst, `" E=`...)
	dst = strconv.AppendInt(dst, int64(r.Code), 10)
	dst = append(dst, " M="...)
	dst = append(dst, r.Module...)
	dst = append(dst, " CTXCONN="...)
	dst = appendDict(dst, r.CtxConn)
	dst = append(dst, " CTXMESS="...)
	dst = appendDict(dst, r.CtxMess)
	dst = append(dst, ' ')
	dst = appendText(dst, r.Text, false)
	return append(dst, '\n')
}

func appendDict(dst []byte, d map[string]string) []byte {
	keys := make([]string, 0, len(d))
	for k := range d {
		if !strings.HasPrefix(k, "#") { // '#' keys are internal (REFERENCE section 3)
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	dst = append(dst, '[')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendText(dst, k, true)
		dst = append(dst, '=')
		dst = appendText(dst, d[k], true)
	}
	return append(dst, ']')
}

// LineLogs writes the records as text lines to two writers, from a goroutine
// of its own, so that the loop never waits for a disk: Reception and Rejection
// only append to a buffer. Create it with NewLineLogs; Close flushes and stops
// it.
type LineLogs struct {
	main, reject io.Writer

	// mu guards bufs, closed; cond signals the writer goroutine.
	mu     sync.Mutex
	cond   *sync.Cond
	bufs   [2][]byte // pending mainlog and rejectlog bytes
	closed bool
	done   chan struct{}
}

// NewLineLogs starts a LineLogs writing R lines to main and rejections to
// reject (either may be nil to drop them).
func NewLineLogs(main, reject io.Writer) *LineLogs {
	l := &LineLogs{main: main, reject: reject, done: make(chan struct{})}
	l.cond = sync.NewCond(&l.mu)
	go l.run()
	return l
}

// Reception queues an R line. Any goroutine; never blocks on IO.
func (l *LineLogs) Reception(r *Reception) {
	l.queue(0, func(b []byte) []byte { return AppendReception(b, r) })
}

// Rejection queues a rejectlog line. Any goroutine; never blocks on IO.
func (l *LineLogs) Rejection(r *Rejection) {
	l.queue(1, func(b []byte) []byte { return AppendRejection(b, r) })
}

func (l *LineLogs) queue(i int, format func([]byte) []byte) {
	l.mu.Lock()
	if !l.closed {
		wake := len(l.bufs[0]) == 0 && len(l.bufs[1]) == 0
		l.bufs[i] = format(l.bufs[i])
		if wake {
			l.cond.Signal()
		}
	}
	l.mu.Unlock()
}

func (l *LineLogs) run() {
	defer close(l.done)
	var spare [2][]byte
	for {
		l.mu.Lock()
		for len(l.bufs[0]) == 0 && len(l.bufs[1]) == 0 && !l.closed {
			l.cond.Wait()
		}
		closed := l.closed
		out := l.bufs
		l.bufs = [2][]byte{spare[0][:0], spare[1][:0]}
		l.mu.Unlock()
		for i, w := range []io.Writer{l.main, l.reject} {
			if w != nil && len(out[i]) > 0 {
				_, _ = w.Write(out[i])
			}
		}
		spare = out
		if closed {
			return
		}
	}
}

// Close writes what is queued and stops the writer; later records are
// dropped. Any goroutine.
func (l *LineLogs) Close() {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		l.cond.Signal()
	}
	l.mu.Unlock()
	<-l.done
}
