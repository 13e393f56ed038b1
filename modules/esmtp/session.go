package esmtp

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"sync"
	"time"

	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/modules/esmtp/smtpproto"
	"github.com/ecelerity-go/ecelerity/modules/esmtp/spool"
	"github.com/ecelerity-go/ecelerity/sched"
)

// inBufSize is a session's read buffer: several pipelined commands or a good
// part of a message per read(2). It comes from inPool while the session has
// unread bytes and goes back when it is idle, so idle sessions hold none.
const inBufSize = 32 << 10

var inPool = sync.Pool{New: func() any { b := make([]byte, inBufSize); return &b }}

// maxBadCommands is how many refused commands a session may send in a row
// before it is disconnected, so that a client sending garbage cannot keep a
// session forever.
const maxBadCommands = 20

type sessState uint8

const (
	stConnect sessState = iota // the connect phase has not passed yet
	stCommand
	stData
)

// waitKind says what a suspended session waits for.
type waitKind uint8

const (
	waitNone   waitKind = iota
	waitPolicy          // a provider returned Again
	waitSpool           // the spool commit of the message
	waitFlush           // spool writes of a large body, for back-pressure
	waitTLS             // the TLS handshake
)

// pendKind is the phase to run again once a suspended validation resumes.
type pendKind uint8

const (
	pendNone pendKind = iota
	pendConnect
	pendCommand
	pendDataEnd
)

// session is one SMTP connection. Everything in it is loop-only: it lives in
// the callbacks of its fd event, its timer and the completions of its spool
// writes and validations, all on the master loop.
type session struct {
	m    *Module
	ls   *listenSock
	loop *sched.Loop
	prev *session // the module's open sessions (Module.live)
	next *session
	mg   *modules.Generation // held: the session's generation
	gs   *genState
	lp   *listenPlan
	set  *settings

	ev    *sched.Event // the live event, or the suspended duplicate
	fd    int
	conn  sched.Ops
	tlsc  *sched.TLSConn
	timer *sched.Timer

	ac   Accept
	vc   VCtx
	peer string // ac.Remote as text, for the envelopes; "" until the first

	in   []byte  // read buffer; nil while idle
	inp  *[]byte // in's box from inPool, put back as it came (no allocation)
	r, w int     // in[r:w] is unread
	out  sched.WriteState
	rep  []byte // replies produced by this callback, written at its end

	state    sessState
	wait     waitKind
	pend     pendKind
	pendCmd  smtpproto.Command
	inPhase  bool // a validation provider is running
	resumed  bool // Resume arrived during the provider call that asked for Again
	closing  bool // close once the replies are out
	hardStop bool // close even if the replies cannot all go out
	closed   bool
	eof      bool
	short    bool // the last read did not fill the buffer
	skipLine bool // dropping the rest of an over-long command line
	startTLS bool
	bad      int // refused commands in a row

	msg        *Message
	sm         *spool.Message // the message being received
	committing *spool.Message // the message whose commit the session waits for
	okText     string         // success text a data_spool provider set
	rcptsConn  int
	received   int

	dataSkip, dataTooLong, dataBareLF, dataOversize bool
	dataErr                                         error

	rec Reception // reused for every R line
}

// startSession sets up a session for an accepted connection. Loop goroutine.
func (m *Module) startSession(ls *listenSock, fd int, remote netip.AddrPort, now time.Time) {
	remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	g := m.env.Generations.Current()
	var gs *genState
	if g != nil {
		gs = m.genState(g.ID())
	}
	var lp *listenPlan
	if gs != nil {
		lp = gs.plan.listens[ls.key]
	}
	if lp == nil {
		// The current generation no longer listens here: the socket lives on
		// only until the generations that do are gone.
		writeNow(fd, []byte("421 4.3.2 Service not available\r\n"))
		closeFD(fd)
		if g != nil {
			g.Release()
		}
		return
	}
	set := lp.settingsFor(remote.Addr())
	refuse := func(text string) {
		writeNow(fd, smtpproto.AppendReply(nil, 421, "4.7.0", set.host+" "+text))
		closeFD(fd)
		g.Release()
		if m.env.Logs != nil {
			m.env.Logs.Rejection(&Rejection{Time: now, Remote: remote, Local: ls.bound, Phase: "connect", Code: 421, Module: ModuleName, Text: text})
		}
	}
	if lp.sessions > 0 && ls.sessions >= lp.sessions {
		refuse("too many sessions on this listener")
		return
	}
	if set.peerSessions > 0 && m.peers[remote.Addr()] >= set.peerSessions {
		refuse("too many sessions from your address")
		return
	}
	local := ls.bound
	if local.Addr().IsUnspecified() {
		local = localAddr(fd)
	}
	s := &session{m: m, ls: ls, loop: m.env.Loop, mg: g, gs: gs, lp: lp, set: set, fd: fd}
	// Accept made the descriptor non-blocking.
	s.conn = sched.NewNonblockingFDConn(fd)
	s.ac = Accept{ConnID: m.connSeq.Add(1), Remote: remote, Local: local, Listen: lp.name}
	s.vc.s = s
	for _, kv := range set.context {
		s.vc.Set(ConnContext, kv.Key, kv.Value)
	}
	s.timer = sched.NewTimer(s.onTimeout, s)
	m.link(s)
	ls.sessions++
	m.peers[remote.Addr()]++
	gs.sessions.Add(1)
	s.loop.Reset(s.timer, set.greeting)
	// The first callback runs the connect phase and sends the greeting: it
	// runs now, on a socket that is writable at once, registered for the
	// client's answer, which is what the callback then waits for. The session
	// may be closed or suspended when this returns; onEvent keeps s.ev.
	if _, err := s.loop.AddAndCall(fd, sched.Read, sched.Write, s.onEvent, s); err != nil {
		m.env.Logger.Error("esmtp: cannot watch connection", "remote", remote, "err", err)
		s.close()
	}
}

// onEvent is the session's fd callback. Loop goroutine.
func (s *session) onEvent(ev *sched.Event, fired sched.Mask, now time.Time) sched.Mask {
	s.ev = ev
	if s.closed {
		return 0
	}
	if s.wait == waitTLS {
		s.wait = waitNone
		if _, err := s.tlsc.HandshakeErr(); err != nil {
			s.m.env.Logger.Debug("esmtp: TLS handshake failed", "remote", s.ac.Remote, "err", err)
			return s.close()
		}
		s.tlsEstablished()
	}
	return s.run(now)
}

// run processes what is buffered, writes the replies, reads more, and returns
// the interest mask. It is the only place a session closes or suspends.
func (s *session) run(now time.Time) sched.Mask {
	// greeting: this call may send the greeting, to which the client cannot
	// have answered yet; reading after it would only find the socket empty.
	greeting := s.state == stConnect
	for {
		s.process(now)
		var need sched.Mask
		var err error
		if len(s.rep) > 0 {
			need, err = s.out.Write(s.conn, s.rep)
			s.rep = s.rep[:0]
		} else {
			need, err = s.out.Flush(s.conn)
		}
		if err != nil {
			s.m.env.Logger.Debug("esmtp: write", "remote", s.ac.Remote, "err", err)
			return s.close()
		}
		switch {
		case need != 0 && s.hardStop:
			return s.close()
		case need != 0:
			// Stop reading until the client reads its replies: pipelining
			// clients are bounded by their own reading.
			s.armTimer()
			return need
		case s.closing:
			return s.close()
		case s.startTLS:
			return s.beginTLS()
		case s.wait != waitNone:
			s.ev = s.loop.Suspend(s.ev)
			s.armTimer()
			return 0
		case s.eof:
			return s.close()
		case s.state != stConnect && s.short && s.tlsc == nil:
			// The last read emptied the socket; epoll says when more comes.
			// (TLS may hold decrypted bytes the kernel does not know of, so
			// it always reads until it would block.)
			s.short = false
			s.idle()
			return sched.Read
		case s.state == stConnect:
			continue
		case greeting && s.tlsc == nil:
			// The greeting went out: wait for epoll to say the answer came.
			s.idle()
			return sched.Read
		}
		n, need, err := s.read()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.m.env.Logger.Debug("esmtp: read", "remote", s.ac.Remote, "err", err)
				return s.close()
			}
			s.eof = true
			continue
		}
		if n == 0 {
			s.idle()
			return need
		}
	}
}

// read reads once into the input buffer.
func (s *session) read() (int, sched.Mask, error) {
	if s.in == nil {
		s.inp = inPool.Get().(*[]byte)
		s.in = *s.inp
		s.r, s.w = 0, 0
	}
	if s.r == s.w {
		s.r, s.w = 0, 0
	} else if s.r > 0 && s.w == len(s.in) {
		s.w = copy(s.in, s.in[s.r:s.w])
		s.r = 0
	}
	space := s.in[s.w:]
	n, need, err := s.conn.Read(space)
	s.w += n
	s.short = n > 0 && n < len(space)
	return n, need, err
}

// putIn gives the read buffer back to inPool.
func (s *session) putIn() {
	inPool.Put(s.inp)
	s.in, s.inp = nil, nil
}

// idle arms the timer for the wait ahead and gives back an empty buffer.
func (s *session) idle() {
	if s.in != nil && s.r == s.w {
		s.putIn()
		s.r, s.w = 0, 0
	}
	s.armTimer()
}

// armTimer sets the timeout of what the session waits for now.
func (s *session) armTimer() {
	d := s.set.idle
	switch {
	case s.state == stConnect:
		d = s.set.greeting
	case s.wait == waitSpool:
		d = s.set.dataTerm
	case s.state == stData:
		d = s.set.dataBlock
	}
	if d <= 0 {
		s.loop.Cancel(s.timer)
		return
	}
	s.loop.Reset(s.timer, d)
}

// onTimeout closes a session that waited too long, with a 421. Loop goroutine.
func (s *session) onTimeout(_ *sched.Timer, now time.Time) {
	if s.closed || s.wait == waitTLS {
		// A handshake has its own deadline (sched.TLSConn).
		return
	}
	// The callback runs once more, on the next iteration, and closes.
	s.abort(421, "4.4.2", s.set.host+" Error: timeout exceeded")
}

// Resume implements threadpool.Resumer for VCtx.Resumer: a validation that
// returned Again may go on. Loop goroutine.
func (s *session) Resume(time.Time) {
	if s.closed {
		return
	}
	if s.inPhase {
		s.resumed = true
		return
	}
	if s.wait != waitPolicy {
		return
	}
	s.wait = waitNone
	s.loop.Resume(s.ev, sched.Read)
}

// close ends the session. It returns 0, the mask of a freed event.
func (s *session) close() sched.Mask {
	if s.closed {
		return 0
	}
	s.closed = true
	s.loop.Cancel(s.timer)
	if s.sm != nil {
		s.sm.Abort()
	}
	s.sm, s.msg, s.committing = nil, nil, nil
	_ = s.conn.Close()
	if s.in != nil {
		s.putIn()
	}
	s.ls.sessions--
	a := s.ac.Remote.Addr()
	if s.m.peers[a]--; s.m.peers[a] <= 0 {
		delete(s.m.peers, a)
	}
	s.gs.sessions.Add(-1)
	s.mg.Release()
	s.mg = nil
	s.m.unlink(s)
	return 0
}

// process runs the phases and commands whose input is buffered, appending
// their replies to s.rep, until it runs out of input or must wait.
func (s *session) process(now time.Time) {
	for !s.closing && s.wait == waitNone && !s.startTLS {
		switch {
		case s.m.drain != nil && s.msg == nil:
			// The daemon stops: a session that was inside a transaction
			// when it began has finished it.
			r := s.set.shutdown
			s.reply(r.Code, r.Enhanced, r.Text)
			s.closing = true
		case s.pend != pendNone:
			s.rerun(now)
		case s.state == stConnect:
			s.connect(now)
		case s.r == s.w:
			return
		case s.state == stData:
			if !s.processData(now) {
				return
			}
		default:
			line, ok := s.nextLine()
			if !ok {
				return
			}
			s.command(line, now)
		}
	}
}

// rerun calls again the phase a resumed validation suspended.
func (s *session) rerun(now time.Time) {
	switch s.pend {
	case pendConnect:
		s.connect(now)
	case pendCommand:
		s.execute(s.pendCmd, now)
	case pendDataEnd:
		s.spoolPhases(now)
	}
}

// nextLine returns the next complete command line, refusing over-long ones.
func (s *session) nextLine() ([]byte, bool) {
	limit := s.set.mailLineLimit
	for s.r < s.w {
		buf := s.in[s.r:s.w]
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			if len(buf) >= limit || s.skipLine {
				if !s.skipLine {
					s.refuse(500, "5.5.2", "line too long")
				}
				s.skipLine = true
				s.r = s.w
			}
			return nil, false
		}
		line := buf[:i+1]
		s.r += i + 1
		if s.skipLine {
			s.skipLine = false
			continue
		}
		if len(line) > limit {
			s.refuse(500, "5.5.2", "line too long")
			continue
		}
		if (i == 0 || line[i-1] != '\r') && !s.set.acceptBareLF {
			s.refuse(500, "5.5.2", "bare LF not allowed; end lines with CRLF")
			continue
		}
		return line, true
	}
	return nil, false
}

// reply appends a reply, with its enhanced code when the session offers
// ENHANCEDSTATUSCODES.
func (s *session) reply(code int, enhanced, text string) {
	if s.set.ext&extEnhanced == 0 {
		enhanced = ""
	}
	s.rep = smtpproto.AppendReply(s.rep, code, enhanced, text)
}

// refuse replies to a bad command and counts it.
func (s *session) refuse(code int, enhanced, text string) {
	s.reply(code, enhanced, text)
	if s.bad++; s.bad >= maxBadCommands {
		s.reply(421, "4.7.0", s.set.host+" too many errors; closing connection")
		s.closing = true
	}
}

// rejectLog writes a rejection to the rejectlog.
func (s *session) rejectLog(phase string, code int, module, text string) {
	logs := s.m.env.Logs
	if logs == nil {
		return
	}
	if module == "" {
		module = ModuleName
	}
	logs.Rejection(&Rejection{
		Time: s.loop.Now(), Remote: s.ac.Remote, Local: s.ac.Local, ConnID: s.ac.ConnID,
		Phase: phase, Code: code, Module: module, CtxConn: s.vc.conn, CtxMess: s.vc.mess, Text: text,
	})
}

// outcome turns a phase's result into the session's next step: true to go
// on; false when the phase rejected (reply queued), failed, or is waiting.
func (s *session) outcome(res Result, phase string, pend pendKind) bool {
	switch res {
	case Again:
		s.pend = pend
		if s.resumed {
			// Resumed before it even returned: call the phase again at once.
			s.resumed = false
			return false
		}
		s.wait = waitPolicy
		return false
	case Failed:
		s.pend = pendNone
		s.reply(451, "4.3.0", "temporary failure in policy; try again later")
		s.rejectLog(phase, 451, "", "validation provider failed")
		return false
	}
	s.pend = pendNone
	if s.vc.code >= 400 {
		code, text, enh := s.vc.code, s.vc.text, s.vc.enhanced
		if enh == "" {
			enh = string(smtpproto.Class(code)) + ".7.1"
		}
		if text == "" {
			text = "rejected by policy"
		}
		s.reply(code, enh, text)
		s.rejectLog(phase, code, s.vc.module, text)
		if s.vc.disconnect || code == 421 {
			s.closing = true
		}
		return false
	}
	return true
}

// connect runs the connect phase and sends the greeting.
func (s *session) connect(now time.Time) {
	s.vc.clearCode()
	reg := s.mg.Hooks()
	res := Cont
	if ValidateConnect.HasIn(reg) {
		s.inPhase = true
		res = hooks.Call2In(ValidateConnect, reg, &s.ac, &s.vc)
		s.inPhase = false
	}
	if !s.outcome(res, "connect", pendConnect) {
		if s.wait == waitNone && s.pend == pendNone {
			s.closing = true // refused at the door
		}
		return
	}
	s.state = stCommand
	if s.set.banner != "" {
		s.rep = append(s.rep, s.set.banner...)
		s.rep = append(s.rep, '\r', '\n')
		return
	}
	s.rep = append(s.rep, "220 "...)
	s.rep = append(s.rep, s.set.host...)
	s.rep = append(s.rep, " ESMTP ecelerity "...)
	s.rep = append(s.rep, s.set.version...)
	s.rep = append(s.rep, ' ')
	s.rep = now.AppendFormat(s.rep, time.RFC1123Z)
	s.rep = append(s.rep, '\r', '\n')
}

// command parses and executes one command line.
func (s *session) command(line []byte, now time.Time) {
	cmd, err := smtpproto.ParseCommand(line)
	if err != nil {
		switch {
		case errors.Is(err, smtpproto.ErrUnknownCommand):
			s.refuse(500, "5.5.1", "command unrecognized")
		case errors.Is(err, smtpproto.ErrBadChar):
			s.refuse(500, "5.5.2", "bad character in command")
		case errors.Is(err, smtpproto.ErrBadParam):
			s.refuse(555, "5.5.4", "unsupported or malformed parameter")
		case errors.Is(err, smtpproto.ErrBadPath), errors.Is(err, smtpproto.ErrTooLong):
			if len(line) >= 4 && (line[0]|0x20) == 'r' {
				s.refuse(501, "5.1.3", "bad recipient address syntax")
			} else {
				s.refuse(501, "5.1.7", "bad sender address syntax")
			}
		default:
			s.refuse(501, "5.5.2", "syntax error")
		}
		return
	}
	if cmd.Verb != smtpproto.MAIL && len(line) > smtpproto.MaxCommandLine {
		s.refuse(500, "5.5.2", "line too long")
		return
	}
	s.execute(cmd, now)
}

// execute runs a parsed command. A command that validates changes the
// session only after its phase passed, so that a suspended phase can run it
// again from the start.
func (s *session) execute(cmd smtpproto.Command, now time.Time) {
	s.pendCmd = cmd
	reg := s.mg.Hooks()
	switch cmd.Verb {
	case smtpproto.HELO, smtpproto.EHLO:
		s.vc.clearCode()
		res := Cont
		if ValidateEHLO.HasIn(reg) {
			s.inPhase = true
			res = hooks.Call3In(ValidateEHLO, reg, cmd.Arg, &s.ac, &s.vc)
			s.inPhase = false
		}
		if !s.outcome(res, "ehlo", pendCommand) {
			return
		}
		s.bad = 0
		s.resetTx()
		s.ac.Helo, s.ac.ESMTP = cmd.Arg, cmd.Verb == smtpproto.EHLO
		s.vc.Set(ConnContext, "ehlo_domain", cmd.Arg)
		s.vc.Set(ConnContext, "ehlo_string", cmd.Verb.String()+" "+cmd.Arg)
		tail := s.set.ehloTail
		if s.ac.TLS {
			tail = s.set.ehloTailTLS
		}
		if !s.ac.ESMTP {
			tail = nil
		}
		s.rep = append(s.rep, "250"...)
		if len(tail) > 0 {
			s.rep = append(s.rep, '-')
		} else {
			s.rep = append(s.rep, ' ')
		}
		s.rep = append(s.rep, s.set.host...)
		s.rep = append(s.rep, " says "...)
		s.rep = append(s.rep, cmd.Verb.String()...)
		s.rep = append(s.rep, " to "...)
		s.rep = s.ac.Remote.Addr().AppendTo(s.rep)
		s.rep = append(s.rep, '\r', '\n')
		s.rep = append(s.rep, tail...)
	case smtpproto.MAIL:
		s.mail(cmd, now, reg)
	case smtpproto.RCPT:
		s.rcpt(cmd, reg)
	case smtpproto.DATA:
		s.data(now, reg)
	case smtpproto.RSET:
		if !s.refreshGeneration() {
			return
		}
		s.resetTx()
		s.bad = 0
		s.reply(250, "2.0.0", "ok")
	case smtpproto.NOOP:
		s.reply(250, "2.0.0", "ok")
	case smtpproto.QUIT:
		s.reply(221, "2.0.0", s.set.host+" closing connection")
		s.closing = true
	case smtpproto.VRFY:
		s.reply(252, "2.5.2", "cannot VRFY user, but will accept message and attempt delivery")
	case smtpproto.EXPN:
		s.refuse(502, "5.5.1", "EXPN not supported")
	case smtpproto.HELP:
		s.reply(214, "2.0.0", "commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP STARTTLS\nsee RFC 5321")
	case smtpproto.STARTTLS:
		switch {
		case s.ac.TLS:
			s.refuse(503, "5.5.1", "TLS already active")
		case s.set.ext&extStartTLS == 0 || s.set.tls == nil:
			s.refuse(502, "5.5.1", "STARTTLS not available")
		default:
			s.reply(220, "2.0.0", "ready to start TLS")
			s.startTLS = true
		}
	}
}

// refreshGeneration moves a session between transactions to the newest
// generation. If that generation no longer listens where the session came
// in, the session gets the Reconfig_Message and is closed.
func (s *session) refreshGeneration() bool {
	cur := s.m.env.Generations.Current()
	if cur == nil {
		return true
	}
	if cur.ID() == s.mg.ID() {
		cur.Release()
		return true
	}
	gs := s.m.genState(cur.ID())
	var lp *listenPlan
	if gs != nil {
		lp = gs.plan.listens[s.ls.key]
	}
	if lp == nil {
		cur.Release()
		r := s.set.reconfig
		s.reply(r.Code, r.Enhanced, r.Text)
		s.closing = true
		return false
	}
	s.gs.sessions.Add(-1)
	gs.sessions.Add(1)
	s.mg.Release()
	s.mg, s.gs, s.lp = cur, gs, lp
	s.set = lp.settingsFor(s.ac.Remote.Addr())
	return true
}

func (s *session) mail(cmd smtpproto.Command, now time.Time, reg *hooks.Registry) {
	switch {
	case s.msg != nil:
		s.refuse(503, "5.5.1", "sender already specified")
		return
	case s.set.requireEHLO && !s.ac.ESMTP:
		s.refuse(503, "5.5.1", "send EHLO first")
		return
	}
	if s.pend == pendNone && !s.refreshGeneration() {
		return
	}
	reg = s.mg.Hooks()
	if s.set.maxRecvConn > 0 && s.received >= s.set.maxRecvConn {
		s.reply(421, "4.7.0", s.set.host+" too many messages in this connection")
		s.rejectLog("mailfrom", 421, "", "Max_Receptions_Per_Connection reached")
		s.closing = true
		return
	}
	if s.set.maxSize > 0 && cmd.Size > 0 && uint64(cmd.Size) > s.set.maxSize {
		s.reply(552, "5.3.4", "message size exceeds fixed maximum message size")
		s.rejectLog("mailfrom", 552, "", "declared SIZE over Max_Message_Size")
		return
	}
	from := cmd.Path.Addr
	local, domain := cmd.Path.Local(), cmd.Path.Domain()
	s.vc.Set(MessContext, "mailfrom_string", from)
	s.vc.Set(MessContext, "mailfrom_localpart", local)
	s.vc.Set(MessContext, "mailfrom_domain", domain)
	s.vc.clearCode()
	res := Cont
	if ValidateMailFrom.HasIn(reg) {
		s.inPhase = true
		res = hooks.Call3In(ValidateMailFrom, reg, from, &s.ac, &s.vc)
		s.inPhase = false
	}
	if !s.outcome(res, "mailfrom", pendCommand) {
		if s.wait == waitNone && s.pend == pendNone {
			clear(s.vc.mess)
		}
		return
	}
	s.bad = 0
	s.msg = newMessage(from, now, &s.vc)
	text := "sender ok"
	if c, t := s.vc.Code(); c > 0 && t != "" {
		text = t
	}
	s.reply(250, "2.1.0", text)
}

// relayAllowed applies relay control to a recipient domain.
func (s *session) relayAllowed(domain string) bool {
	if domain == "" || s.set.openRelay {
		return true // the bare Postmaster is always local
	}
	if s.gs.plan.servesDomain(s.set, domain) {
		return true
	}
	a := s.ac.Remote.Addr()
	for _, p := range s.set.relayHosts {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (s *session) rcpt(cmd smtpproto.Command, reg *hooks.Registry) {
	switch {
	case s.msg == nil:
		s.refuse(503, "5.5.1", "need MAIL command")
		return
	case s.set.maxRcptMsg > 0 && len(s.msg.Rcpts) >= s.set.maxRcptMsg:
		s.reply(452, "4.5.3", "too many recipients")
		s.rejectLog("rcptto", 452, "", "Max_Recipients_Per_Message reached")
		return
	case s.set.maxRcptConn > 0 && s.rcptsConn >= s.set.maxRcptConn:
		s.reply(421, "4.5.3", s.set.host+" too many recipients in this connection")
		s.rejectLog("rcptto", 421, "", "Max_Recipients_Per_Connection reached")
		s.closing = true
		return
	}
	addr := cmd.Path.Addr
	if !s.relayAllowed(cmd.Path.Domain()) {
		s.refuse(550, "5.7.1", "relaying denied")
		s.rejectLog("rcptto", 550, "", "relaying denied: "+addr)
		return
	}
	s.msg.Rcpt = addr
	s.vc.Set(MessContext, "rcptto_string", addr)
	s.vc.Set(MessContext, "rcptto_localpart", cmd.Path.Local())
	s.vc.Set(MessContext, "rcptto_domain", cmd.Path.Domain())
	s.vc.clearCode()
	res := Cont
	if ValidateRcptTo.HasIn(reg) {
		s.inPhase = true
		res = hooks.Call4In(ValidateRcptTo, reg, s.msg, addr, &s.ac, &s.vc)
		s.inPhase = false
	}
	if !s.outcome(res, "rcptto", pendCommand) {
		return
	}
	s.bad = 0
	s.msg.Rcpts = append(s.msg.Rcpts, addr)
	s.rcptsConn++
	s.reply(250, "2.1.5", "recipient ok")
}

func (s *session) data(now time.Time, reg *hooks.Registry) {
	switch {
	case s.msg == nil:
		s.refuse(503, "5.5.1", "need MAIL command")
		return
	case len(s.msg.Rcpts) == 0:
		s.refuse(554, "5.5.1", "no valid recipients")
		return
	}
	s.vc.clearCode()
	res := Cont
	if ValidateData.HasIn(reg) {
		s.inPhase = true
		res = hooks.Call3In(ValidateData, reg, s.msg, &s.ac, &s.vc)
		s.inPhase = false
	}
	if !s.outcome(res, "data", pendCommand) {
		return
	}
	sp := s.m.Spool()
	if sp == nil {
		s.reply(451, "4.3.0", "spool not available")
		return
	}
	s.bad = 0
	s.msg.ID = sp.NewID(now)
	if s.peer == "" {
		// Once per session, not per message.
		s.peer = s.ac.Remote.String()
	}
	s.msg.env = spool.Envelope{ID: s.msg.ID, Received: s.msg.Received, Peer: s.peer, Helo: s.ac.Helo, MailFrom: s.msg.MailFrom}
	s.sm = sp.Begin(&s.msg.env)
	s.dataSkip, s.dataTooLong, s.dataBareLF, s.dataOversize, s.dataErr = false, false, false, false, nil
	s.okText = ""
	s.state = stData
	s.rep = append(s.rep, "354 end data with <CR><LF>.<CR><LF>\r\n"...)
}

// processData consumes body lines: dot un-stuffing, line limits, the bare LF
// policy, the size limit. It returns false when it needs more input or must
// wait, true when the message ended (or the loop should go on).
func (s *session) processData(now time.Time) bool {
	maxLine := s.set.maxLine
	for s.r < s.w {
		buf := s.in[s.r:s.w]
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			if s.dataSkip || len(buf) >= maxLine {
				// An over-long line: drop it as it arrives.
				s.dataTooLong, s.dataSkip = true, true
				s.r = s.w
			}
			return false
		}
		line := buf[:i+1]
		s.r += i + 1
		if s.dataSkip {
			s.dataSkip = false
			continue
		}
		if len(line) > maxLine {
			s.dataTooLong = true
			continue
		}
		crlf := i > 0 && line[i-1] == '\r'
		if !crlf && !s.set.acceptBareLF {
			// Never an end of data, never a line: RFC 5321 section 2.3.8.
			s.dataBareLF = true
		}
		if line[0] == '.' {
			if crlf && i == 2 || !crlf && s.set.acceptBareLF && i == 1 {
				s.endData(now)
				return true
			}
			line = line[1:]
		}
		if !crlf && s.set.acceptBareLF {
			s.body(line[:len(line)-1])
			s.body([]byte{'\r', '\n'})
			continue
		}
		s.body(line)
		if s.wait != waitNone {
			return false
		}
	}
	return false
}

// body adds message bytes, bounded by Max_Message_Size and, in memory, by
// Spool_Chunk_Size.
func (s *session) body(p []byte) {
	if s.dataOversize || s.dataErr != nil {
		return
	}
	if s.set.maxSize > 0 && uint64(s.sm.Size())+uint64(len(p)) > s.set.maxSize {
		s.dataOversize = true
		return
	}
	s.sm.Write(p)
	if !s.msg.hdrDone {
		s.msg.keepHeader(p)
	}
	if s.sm.Buffered() >= s.gs.plan.chunk {
		sm := s.sm
		sm.Flush(func(err error) { s.flushed(sm, err) })
		if sm.InFlight() >= 2 {
			s.wait = waitFlush
		}
	}
}

// flushed is the completion of a body chunk's write. Loop goroutine.
func (s *session) flushed(sm *spool.Message, err error) {
	if s.closed || s.sm != sm {
		return
	}
	if err != nil && s.dataErr == nil {
		s.dataErr = err
	}
	if s.wait == waitFlush && sm.InFlight() < 2 {
		s.wait = waitNone
		s.loop.Resume(s.ev, sched.Read)
	}
}

// endData handles the final dot: refuse a damaged message, or run the spool
// phases.
func (s *session) endData(now time.Time) {
	s.state = stCommand
	var code int
	var enh, text string
	switch {
	case s.dataOversize:
		code, enh, text = 552, "5.3.4", "message size exceeds fixed maximum message size"
	case s.dataTooLong:
		code, enh, text = 554, "5.6.0", "message has a line longer than the limit"
	case s.dataBareLF:
		code, enh, text = 554, "5.6.0", "bare LF in message; lines must end with CRLF"
	case s.dataErr != nil:
		s.m.env.Logger.Error("esmtp: spool write", "id", s.msg.ID, "err", s.dataErr)
		code, enh, text = 451, "4.3.0", "temporary spool failure"
	}
	if code != 0 {
		s.reply(code, enh, text)
		s.rejectLog("data", code, "", text)
		s.resetTx()
		return
	}
	s.msg.Size = s.sm.Size()
	s.spoolPhases(now)
}

// spoolPhases runs data_spool, data_spool_each_rcpt and set_binding, then
// commits the message to the spool; the reply waits for the commit.
func (s *session) spoolPhases(now time.Time) {
	reg := s.mg.Hooks()
	msg := s.msg
	s.vc.clearCode()
	res := Cont
	if ValidateDataSpool.HasIn(reg) {
		s.inPhase = true
		res = hooks.Call3In(ValidateDataSpool, reg, msg, &s.ac, &s.vc)
		s.inPhase = false
	}
	if !s.outcome(res, "data_spool", pendDataEnd) {
		if s.pend == pendNone {
			s.resetTx()
		}
		return
	}
	if c, t := s.vc.Code(); c > 0 && t != "" {
		s.okText = t
	}
	if ValidateDataSpoolEachRcpt.HasIn(reg) {
		kept := make([]string, 0, len(msg.Rcpts))
		var lastCode int
		var lastEnh, lastText string
		for _, r := range msg.Rcpts {
			msg.Rcpt = r
			s.vc.clearCode()
			s.inPhase = true
			res := hooks.Call3In(ValidateDataSpoolEachRcpt, reg, msg, &s.ac, &s.vc)
			s.inPhase = false
			switch {
			case res == Again:
				s.outcome(res, "data_spool_each_rcpt", pendDataEnd)
				return
			case res == Failed:
				s.outcome(res, "data_spool_each_rcpt", pendDataEnd)
				s.resetTx()
				return
			case s.vc.code >= 400:
				lastCode, lastEnh, lastText = s.vc.code, s.vc.enhanced, s.vc.text
				s.rejectLog("data_spool_each_rcpt", lastCode, s.vc.module, lastText+": "+r)
			default:
				kept = append(kept, r)
			}
		}
		s.pend = pendNone
		if len(kept) == 0 {
			if lastEnh == "" {
				lastEnh = string(smtpproto.Class(lastCode)) + ".7.1"
			}
			s.reply(lastCode, lastEnh, lastText)
			s.resetTx()
			return
		}
		msg.Rcpts = kept
	}
	if ValidateSetBinding.HasIn(reg) {
		s.inPhase = true
		hooks.Call1In(ValidateSetBinding, reg, msg)
		s.inPhase = false
		s.resumed = false
	}
	env := s.sm.Envelope()
	env.Rcpts = msg.Rcpts
	env.Binding = msg.Binding()
	sm := s.sm
	s.sm = nil // handed to the spool: no abort from here on
	if s.m.Spool().Inline() {
		// A tmpfs spool writes on the loop: no round trip, no suspension.
		err := sm.CommitNow()
		s.enqueued(msg, s.mg, err)
		s.answerCommit(msg, err)
		return
	}
	s.committing = sm
	s.wait = waitSpool
	// The enqueue hook runs on this generation even if the session closes
	// before the commit completes.
	mg := s.mg.Acquire()
	sm.Commit(func(err error) { s.committed(sm, msg, mg, err) })
}

// committed is the durable spool commit's completion: the 250 goes out only
// now. A spooled message is logged and enqueued whether or not its session
// is still there to be told. Loop goroutine.
func (s *session) committed(sm *spool.Message, msg *Message, mg *modules.Generation, err error) {
	s.enqueued(msg, mg, err)
	mg.Release()
	if s.closed || s.committing != sm || s.wait != waitSpool {
		return // timed out meanwhile: the client was told 421
	}
	s.committing = nil
	s.wait = waitNone
	s.answerCommit(msg, err)
	s.loop.Resume(s.ev, sched.Read)
}

// enqueued logs a spooled message and calls the enqueue hook.
func (s *session) enqueued(msg *Message, mg *modules.Generation, err error) {
	if err != nil {
		return
	}
	s.logReception(msg)
	if reg := mg.Hooks(); MessageEnqueue.HasIn(reg) {
		hooks.CallVoid2In(MessageEnqueue, reg, msg, s.loop.Now())
	}
}

// answerCommit replies to the final dot and ends the transaction.
func (s *session) answerCommit(msg *Message, err error) {
	if err != nil {
		s.m.env.Logger.Error("esmtp: spool commit", "id", msg.ID, "err", err)
		s.reply(451, "4.3.0", "temporary spool failure")
		s.rejectLog("data_spool", 451, "", "spool commit failed")
	} else {
		text := s.okText
		if text == "" {
			text = "OK " + msg.ID
		}
		s.reply(250, "2.0.0", text)
		s.received++
	}
	s.resetTx()
}

// logReception writes one R line per recipient.
func (s *session) logReception(msg *Message) {
	logs := s.m.env.Logs
	if logs == nil {
		return
	}
	proto := "esmtp"
	if !s.ac.ESMTP {
		proto = "smtp"
	}
	fl, fd := splitAddr(msg.MailFrom)
	for _, r := range msg.Rcpts {
		rl, rd := splitAddr(r)
		s.rec = Reception{
			Time: s.loop.Now(), MsgID: msg.ID, ConnID: s.ac.ConnID, RcptLocal: rl, RcptDomain: rd,
			FromLocal: fl, FromDomain: fd, IP: s.ac.Remote.Addr(), Size: msg.Size, Proto: proto,
			BindGroup: "default", Binding: msg.Binding(),
		}
		logs.Reception(&s.rec)
	}
}

// resetTx ends the current transaction.
func (s *session) resetTx() {
	if s.sm != nil {
		s.sm.Abort()
		s.sm = nil
	}
	s.msg = nil
	// Emptied, not dropped: the next transaction reuses the map.
	clear(s.vc.mess)
	s.state = stCommand
}

// beginTLS starts the STARTTLS handshake once the 220 is out. Bytes the
// client pipelined after STARTTLS are dropped: they were not protected.
func (s *session) beginTLS() sched.Mask {
	s.startTLS = false
	if s.in != nil {
		s.putIn()
	}
	s.r, s.w = 0, 0
	s.tlsc = sched.NewTLSServer(s.fd, s.set.tls)
	s.conn = s.tlsc
	s.wait = waitTLS
	s.loop.Cancel(s.timer)
	return s.tlsc.Handshake(s.ev, sched.Read)
}

// tlsEstablished forgets what the client said before TLS (RFC 3207).
func (s *session) tlsEstablished() {
	s.ac.TLS = true
	s.ac.Helo, s.ac.ESMTP = "", false
	s.resetTx()
	st := s.tlsc.ConnectionState()
	s.vc.Set(ConnContext, "tls", "1")
	s.vc.Set(ConnContext, "tls_version", tlsVersionName(st.Version))
	s.vc.Set(ConnContext, "tls_cipher", tlsCipherName(st.CipherSuite))
	delete(s.vc.conn, "ehlo_domain")
	delete(s.vc.conn, "ehlo_string")
	s.armTimer()
}
