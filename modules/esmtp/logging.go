package esmtp

import (
	"sort"
	"strconv"

	"github.com/ecelerity-go/ecelerity/logging"
)

// LoggingLogs writes the listener's records to the daemon's log files
// (package logging): R lines to its mainlog, rejections to its rejectlog.
// Those writes go straight to the files, which package logging allows from
// the loop.
type LoggingLogs struct{ L *logging.Logs }

var _ Logs = LoggingLogs{}

// Reception implements Logs.
func (l LoggingLogs) Reception(r *Reception) {
	if !l.L.Mainlog.Enabled() {
		return
	}
	ip := ""
	if r.IP.IsValid() {
		ip = r.IP.String()
	}
	_ = l.L.Mainlog.Reception(logging.Reception{
		Time: r.Time, MsgID: r.MsgID, BatchID: r.BatchID, ConnID: strconv.FormatUint(r.ConnID, 10),
		RcptLocal: r.RcptLocal, RcptDomain: r.RcptDomain, FromLocal: r.FromLocal, FromDomain: r.FromDomain,
		IP: ip, Size: r.Size, Proto: r.Proto, BindingGroup: r.BindGroup, Binding: r.Binding,
	})
}

// Rejection implements Logs.
func (l LoggingLogs) Rejection(r *Rejection) {
	if !l.L.Rejectlog.Enabled() {
		return
	}
	_ = l.L.Rejectlog.Reject(logging.Rejection{
		Time: r.Time, Remote: r.Remote.String(), Local: r.Local.String(), ConnID: strconv.FormatUint(r.ConnID, 10),
		Phase: "awaiting " + r.Phase, Code: r.Code, Module: r.Module,
		ConnContext: kvs(r.CtxConn), MsgContext: kvs(r.CtxMess), Message: r.Text,
	})
}

// kvs turns a context dictionary into sorted pairs, without the internal
// '#' keys.
func kvs(d map[string]string) []logging.KV {
	out := make([]logging.KV, 0, len(d))
	for k, v := range d {
		if len(k) > 0 && k[0] == '#' {
			continue
		}
		out = append(out, logging.KV{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}
