package logging

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Reception is an R record: a message received, one per recipient.
type Reception struct {
	Time                   time.Time
	MsgID, BatchID, ConnID string // ids look like 00/00-25004-31B987F3
	RcptLocal, RcptDomain  string
	FromLocal, FromDomain  string
	IP                     string // the client's address
	Size                   int64
	Proto                  string // esmtp, rest, xfer or internal
	BindingGroup, Binding  string
}

// Delivery is a D record (or, with Transfer, an X record: a cluster transfer).
type Delivery struct {
	Time                   time.Time
	MsgID, BatchID, ConnID string
	Domain                 string
	Size                   int64
	BindingGroup, Binding  string
	Retries                int
	Elapsed                time.Duration // written in whole seconds
	RemoteIP               string
	Transfer               bool
}

// Failure is a T record (transient failure) or, with Permanent, a P record.
type Failure struct {
	Time                   time.Time
	MsgID, BatchID, ConnID string
	Permanent              bool
	Domain                 string
	Size                   int64
	BindingGroup, Binding  string
	Stage                  string
	Retries                int
	Elapsed                time.Duration
	IP                     string
	Reply                  string
}

// Mainlog writes the message events of REFERENCE section 7 as `@`-separated lines,
// field 4 the record type. Fields are cleaned so that a line always splits into the
// same number of fields: CR, LF and other control characters become spaces and `@`
// becomes %40. With no file configured every write is a no-op. Any goroutine.
type Mainlog struct {
	file atomic.Pointer[logFile]
}

func (m *Mainlog) setFile(f *logFile) { m.file.Store(f) }

// Enabled reports whether a mainlog file is configured, so that a caller can skip
// building a record nobody writes.
func (m *Mainlog) Enabled() bool { return m.file.Load() != nil }

// Reception writes an R line:
// ts@msgid@batchid@connid@R@rcpt_local@rcpt_dom@from_local@from_dom@ip@size@proto@bgroup@binding
func (m *Mainlog) Reception(r Reception) error {
	return m.write(r.Time, r.MsgID, r.BatchID, r.ConnID, "R", r.RcptLocal, r.RcptDomain,
		r.FromLocal, r.FromDomain, r.IP, strconv.FormatInt(r.Size, 10), r.Proto, r.BindingGroup, r.Binding)
}

// Delivery writes a D (or X) line:
// ts@msgid@batch@conn@D@domain@size@bgroup@binding@retries@secs@remote_ip
func (m *Mainlog) Delivery(d Delivery) error {
	typ := "D"
	if d.Transfer {
		typ = "X"
	}
	return m.write(d.Time, d.MsgID, d.BatchID, d.ConnID, typ, d.Domain, strconv.FormatInt(d.Size, 10),
		d.BindingGroup, d.Binding, strconv.Itoa(d.Retries), seconds(d.Elapsed), d.RemoteIP)
}

// Failure writes a T (or P) line:
// ts@msgid@batch@conn@T@domain@bytes@bgroup@binding@stage@retries@secs@ip@reply
func (m *Mainlog) Failure(f Failure) error {
	typ := "T"
	if f.Permanent {
		typ = "P"
	}
	return m.write(f.Time, f.MsgID, f.BatchID, f.ConnID, typ, f.Domain, strconv.FormatInt(f.Size, 10),
		f.BindingGroup, f.Binding, f.Stage, strconv.Itoa(f.Retries), seconds(f.Elapsed), f.IP, f.Reply)
}

// Heartbeat writes the M line `ts@@@@M`.
func (m *Mainlog) Heartbeat(t time.Time) error {
	return m.write(t, "", "", "", "M")
}

func (m *Mainlog) write(t time.Time, fields ...string) error {
	if m.file.Load() == nil {
		return nil
	}
	var b strings.Builder
	b.WriteString(strconv.FormatInt(t.Unix(), 10))
	for _, s := range fields {
		b.WriteByte('@')
		writeField(&b, s, "@", "%40")
	}
	b.WriteByte('\n')
	return writeVia(&m.file, []byte(b.String()))
}

func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) }

// writeField writes s with control characters as spaces and sep as repl.
func writeField(b *strings.Builder, s, sep, repl string) {
	for _, r := range s {
		switch {
		case r < ' ' || r == 0x7f:
			b.WriteByte(' ')
		case strings.ContainsRune(sep, r):
			b.WriteString(repl)
		default:
			b.WriteRune(r)
		}
	}
}
