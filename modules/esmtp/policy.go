package esmtp

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/modules/esmtp/spool"
	"github.com/ecelerity-go/ecelerity/modules/scriptlet"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// Result is what a validation provider returns, after Momentum's VALIDATE_*
// codes.
type Result int

// The results of a validation provider. The hooks use the FirstNonZero
// policy: Cont lets the next provider of the phase run; Done ends the phase
// (the session acts on the code the context holds, if any); Again ends it too
// and suspends the session until the context is resumed (see
// VCtx.Resumer), after which the whole phase is called again, so providers of
// a phase that may be repeated decide from the context, not from how often
// they were called. Failed is what a call returns when a provider panicked:
// the session answers a temporary failure.
const (
	Cont   Result = 0
	Done   Result = 1
	Again  Result = 2
	Failed Result = 3
)

// String returns the Momentum name of r.
func (r Result) String() string {
	switch r {
	case Cont:
		return "VALIDATE_CONT"
	case Done:
		return "VALIDATE_DONE"
	case Again:
		return "VALIDATE_AGAIN"
	case Failed:
		return "VALIDATE_FAILED"
	}
	return "VALIDATE_?"
}

// Scope is the hook scope of the listener's validation phases.
const Scope hooks.Scope = "esmtp"

// The validation phases, in the order a message meets them, as hooks in scope
// "esmtp" (REFERENCE section 3 and 6). Providers run on the event loop, on
// the session's generation (its registry is pinned while it is used) and must
// not block: blocking work goes to a pool job that resumes the context (see
// Result and VCtx.Resumer).
var (
	// ValidateConnect runs when a client connects, before the greeting.
	ValidateConnect = hooks.DeclareValued[func(ac *Accept, vc *VCtx) Result](Scope, "validate_connect", hooks.FirstNonZero[Result](), Failed)
	// ValidateEHLO runs for HELO and EHLO with the argument.
	ValidateEHLO = hooks.DeclareValued[func(helo string, ac *Accept, vc *VCtx) Result](Scope, "validate_ehlo", hooks.FirstNonZero[Result](), Failed)
	// ValidateMailFrom runs for MAIL with the reverse-path ("" for <>).
	ValidateMailFrom = hooks.DeclareValued[func(from string, ac *Accept, vc *VCtx) Result](Scope, "validate_mailfrom", hooks.FirstNonZero[Result](), Failed)
	// ValidateRcptTo runs for each RCPT with the forward-path, after relay
	// control accepted it.
	ValidateRcptTo = hooks.DeclareValued[func(msg *Message, rcpt string, ac *Accept, vc *VCtx) Result](Scope, "validate_rcptto", hooks.FirstNonZero[Result](), Failed)
	// ValidateData runs for DATA, before the 354.
	ValidateData = hooks.DeclareValued[func(msg *Message, ac *Accept, vc *VCtx) Result](Scope, "validate_data", hooks.FirstNonZero[Result](), Failed)
	// ValidateDataSpool runs once the body has arrived, before it is spooled.
	ValidateDataSpool = hooks.DeclareValued[func(msg *Message, ac *Accept, vc *VCtx) Result](Scope, "validate_data_spool", hooks.FirstNonZero[Result](), Failed)
	// ValidateDataSpoolEachRcpt runs once per recipient after
	// ValidateDataSpool, with Message.Rcpt naming the recipient; a rejection
	// code set here drops that recipient only.
	ValidateDataSpoolEachRcpt = hooks.DeclareValued[func(msg *Message, ac *Accept, vc *VCtx) Result](Scope, "validate_data_spool_each_rcpt", hooks.FirstNonZero[Result](), Failed)
	// ValidateSetBinding chooses the message's binding (Message.SetBinding);
	// it returns Cont or Done only.
	ValidateSetBinding = hooks.DeclareValued[func(msg *Message) Result](Scope, "validate_set_binding", hooks.FirstNonZero[Result](), Failed)
	// MessageEnqueue is called once a message is in the spool (durably when
	// Force_Fsync is on), before the 250 goes out, with the loop's time: the
	// place where a queue would take the message over.
	MessageEnqueue = hooks.DeclareVoid[func(msg *Message, now time.Time)](hooks.Core, "ec_message_enqueue")
)

// hookMsgACVC is the type of the hooks whose providers take the message, the
// connection and the context.
type hookMsgACVC = hooks.Valued[func(msg *Message, ac *Accept, vc *VCtx) Result, Result]

// Accept is the connection a validation phase runs for ("ac" in Momentum's
// scriptlets). Its fields are set by the session and read-only to providers.
type Accept struct {
	// ConnID numbers the connections of the process.
	ConnID uint64
	Remote netip.AddrPort
	Local  netip.AddrPort
	// Listen is the Listen scope the connection arrived on, as configured.
	Listen string
	// Helo is the last HELO/EHLO argument, "" before one.
	Helo string
	// ESMTP is set after EHLO.
	ESMTP bool
	// TLS is set once STARTTLS succeeded.
	TLS bool
}

// ContextKind selects one of the two dictionaries of a validation context.
type ContextKind int

// The dictionaries: Conn lasts the whole connection, Mess one message.
const (
	ConnContext ContextKind = iota
	MessContext
)

// VCtx is the validation context of a session ("vctx"): the connection and
// message dictionaries, the reply code a provider sets, and the way to
// suspend a phase. Loop-only, like the providers that use it.
type VCtx struct {
	s    *session
	conn map[string]string
	mess map[string]string

	code       int
	enhanced   string
	text       string
	module     string
	disconnect bool

	parking scriptlet.Parking // Lua calls waiting for pool work (see lua.go)
}

// Get returns a value of the connection or message dictionary.
func (v *VCtx) Get(kind ContextKind, key string) (string, bool) {
	d := v.conn
	if kind == MessContext {
		d = v.mess
	}
	val, ok := d[key]
	return val, ok
}

// Set sets a value of the connection or message dictionary.
func (v *VCtx) Set(kind ContextKind, key, value string) {
	if kind == MessContext {
		if v.mess == nil {
			v.mess = map[string]string{}
		}
		v.mess[key] = value
		return
	}
	if v.conn == nil {
		v.conn = map[string]string{}
	}
	v.conn[key] = value
}

// SetCode sets the reply of the phase: a code of 400 and above rejects what
// the phase validates (the connection for connect, the command otherwise, the
// message for data_spool, the recipient for data_spool_each_rcpt); a code
// below 400 replaces the text of the success reply. text may start with an
// enhanced status code ("5.7.1 no thanks"); otherwise one is derived.
func (v *VCtx) SetCode(code int, text string) {
	v.code, v.text = code, text
	v.enhanced = ""
	if e, rest, ok := strings.Cut(text, " "); ok && isEnhanced(e) {
		v.enhanced, v.text = e, rest
	} else if isEnhanced(text) {
		v.enhanced, v.text = text, ""
	}
}

// SetCodeFrom is SetCode recording the module that decided, for the
// rejectlog's M= field.
func (v *VCtx) SetCodeFrom(module string, code int, text string) {
	v.SetCode(code, text)
	v.module = module
}

// Code returns the code and text set in the current phase; code 0 when none.
func (v *VCtx) Code() (int, string) { return v.code, v.text }

// Disconnect sets the reply like SetCode and closes the connection once it is
// sent.
func (v *VCtx) Disconnect(code int, text string) {
	v.SetCode(code, text)
	v.disconnect = true
}

// Resumer returns what resumes the session once a provider returned Again:
// set it as the Resumer of a threadpool CompleteModule job (or call Resume
// on the loop). A resume that finds the session no longer waiting (it timed
// out or closed) does nothing.
func (v *VCtx) Resumer() threadpool.Resumer { return v }

// Keys returns the keys of one dictionary, sorted (for dumps and logs).
func (v *VCtx) Keys(kind ContextKind) []string {
	d := v.conn
	if kind == MessContext {
		d = v.mess
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (v *VCtx) clearCode() {
	v.code, v.enhanced, v.text, v.module, v.disconnect = 0, "", "", "", false
}

func isEnhanced(s string) bool {
	// class.subject.detail: "5.7.1", "4.3.2", digits only.
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(s) > 11 || (parts[0] != "2" && parts[0] != "4" && parts[0] != "5") {
		return false
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// Message is the message of the session's current transaction ("msg").
// Loop-only.
type Message struct {
	// ID is the spool id, set once DATA starts.
	ID string
	// MailFrom is the reverse-path, "" for the null sender.
	MailFrom string
	// Rcpts are the accepted forward-paths.
	Rcpts []string
	// Rcpt is the recipient a per-recipient phase runs for (validate_rcptto,
	// validate_data_spool_each_rcpt).
	Rcpt string
	// Size is the body size in bytes once the body has arrived.
	Size int64
	// Received is when the transaction began (MAIL).
	Received time.Time

	binding string
	header  []byte // the header section, kept in memory for Header
	hdrDone bool
	vc      *VCtx

	// Parts of the message that would otherwise be allocations of their own:
	// the spool's envelope, and the backing array of Rcpts while there is
	// one recipient, the common case.
	env   spool.Envelope
	rcpt1 [1]string
}

// newMessage starts a transaction's message.
func newMessage(from string, received time.Time, vc *VCtx) *Message {
	m := &Message{MailFrom: from, Received: received, vc: vc}
	m.Rcpts = m.rcpt1[:0]
	return m
}

// Binding returns the binding chosen by validate_set_binding, "default" when
// none was.
func (m *Message) Binding() string {
	if m.binding == "" {
		return "default"
	}
	return m.binding
}

// SetBinding chooses the message's binding.
func (m *Message) SetBinding(b string) { m.binding = b }

// ContextGet and ContextSet reach the session's validation context (Momentum's
// msg:context_get/set).
func (m *Message) ContextGet(kind ContextKind, key string) (string, bool) {
	return m.vc.Get(kind, key)
}

// ContextSet sets a value of the session's validation context.
func (m *Message) ContextSet(kind ContextKind, key, value string) { m.vc.Set(kind, key, value) }

// maxHeaderKept bounds the header section kept in memory for Header.
const maxHeaderKept = 64 << 10

// headerStart is the first capacity of the kept header section.
const headerStart = 512

// Header returns the values of the header field name (without case) in the
// order they appear, unfolded and trimmed; nil before the body arrived or when
// the field is absent. Only the first 64 KiB of the header section are kept.
func (m *Message) Header(name string) []string {
	var out []string
	lines := strings.Split(string(m.header), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], "\r")
		k, v, ok := strings.Cut(line, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), name) || line == "" || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		for i+1 < len(lines) && len(lines[i+1]) > 0 && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			v += " " + strings.TrimSpace(strings.TrimRight(lines[i], "\r"))
		}
		out = append(out, strings.TrimSpace(v))
	}
	return out
}

// keepHeader records a body line while the header section lasts.
func (m *Message) keepHeader(line []byte) {
	if m.hdrDone {
		return
	}
	if len(line) <= 2 && (len(line) == 0 || line[0] == '\r' || line[0] == '\n') {
		m.hdrDone = true
		return
	}
	if len(m.header)+len(line) > maxHeaderKept {
		m.hdrDone = true
		return
	}
	if m.header == nil {
		// One allocation for a small header section, not one per doubling.
		m.header = make([]byte, 0, headerStart)
	}
	m.header = append(m.header, line...)
}

// splitAddr splits "local@domain" at its last '@'.
func splitAddr(a string) (local, domain string) {
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		return a[:i], a[i+1:]
	}
	return a, ""
}
