package logging

import (
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// KV is one entry of a validation context dictionary, in the order it is written.
type KV struct{ Key, Value string }

// Rejection is one rejectlog line: a command the listener refused.
type Rejection struct {
	Time          time.Time
	Remote, Local string // "ip:port"
	ConnID        string
	Pathway       string // "default" when empty
	PathwayGroup  string // "default" when empty
	Phase         string // e.g. "awaiting mailfrom"
	Code          int    // the SMTP reply code, e.g. 550
	Module        string // who refused
	ConnContext   []KV
	MsgContext    []KV
	Message       string // the reply text
}

// Rejectlog writes rejection lines in the reference's format:
//
//	ts: R="ip:port" L="ip:port" C="connid" PATH="default" PATH_GRP="default" P="awaiting mailfrom" E=550 M=<module> CTXCONN=[k=v,...] CTXMESS=[...] <message>
//
// Quoted values have `"` and `\` escaped, context keys and values have `,` `=` `]`
// escaped with a backslash, and control characters become spaces, so a line always
// parses back. With no file configured every write is a no-op. Any goroutine.
type Rejectlog struct {
	file atomic.Pointer[logFile]
}

func (r *Rejectlog) setFile(f *logFile) { r.file.Store(f) }

// Enabled reports whether a rejectlog file is configured.
func (r *Rejectlog) Enabled() bool { return r.file.Load() != nil }

// Reject writes x as one line.
func (r *Rejectlog) Reject(x Rejection) error {
	if r.file.Load() == nil {
		return nil
	}
	var b strings.Builder
	b.WriteString(strconv.FormatInt(x.Time.Unix(), 10))
	b.WriteString(":")
	quoted := func(key, v string) {
		b.WriteString(" " + key + `="`)
		writeField(&b, strings.ReplaceAll(v, `\`, `\\`), `"`, `\"`)
		b.WriteByte('"')
	}
	quoted("R", x.Remote)
	quoted("L", x.Local)
	quoted("C", x.ConnID)
	quoted("PATH", orDefault(x.Pathway))
	quoted("PATH_GRP", orDefault(x.PathwayGroup))
	quoted("P", x.Phase)
	b.WriteString(" E=" + strconv.Itoa(x.Code))
	b.WriteString(" M=")
	writeField(&b, x.Module, " ", "_")
	ctx := func(key string, kvs []KV) {
		b.WriteString(" " + key + "=[")
		for i, kv := range kvs {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCtx(&b, kv.Key)
			b.WriteByte('=')
			writeCtx(&b, kv.Value)
		}
		b.WriteByte(']')
	}
	ctx("CTXCONN", x.ConnContext)
	ctx("CTXMESS", x.MsgContext)
	b.WriteByte(' ')
	writeField(&b, x.Message, "", "")
	b.WriteByte('\n')
	return writeVia(&r.file, []byte(b.String()))
}

// Heartbeat writes the marker line `ts: Marker 1`.
func (r *Rejectlog) Heartbeat(t time.Time) error {
	return writeVia(&r.file, []byte(strconv.FormatInt(t.Unix(), 10)+": Marker 1\n"))
}

func orDefault(s string) string {
	if s == "" {
		return "default"
	}
	return s
}

func writeCtx(b *strings.Builder, s string) {
	for _, c := range s {
		switch {
		case c < ' ' || c == 0x7f:
			b.WriteByte(' ')
		case c == ',' || c == '=' || c == ']' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		default:
			b.WriteRune(c)
		}
	}
}
