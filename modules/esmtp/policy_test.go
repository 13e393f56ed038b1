package esmtp

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

const policyConf = baseConf + "\ntestpolicy { }\n"

func TestPolicyPhases(t *testing.T) {
	var enqueued atomic.Int64
	var sawHeader atomic.Value
	policy := func(reg *hooks.Registry) error {
		for _, err := range []error{
			ValidateConnect.RegisterLast(reg, "testpolicy", func(ac *Accept, vc *VCtx) Result {
				vc.Set(ConnContext, "seen", "connect")
				return Cont
			}),
			ValidateEHLO.RegisterLast(reg, "testpolicy", func(helo string, ac *Accept, vc *VCtx) Result {
				if helo == "bad.example" {
					vc.SetCode(550, "5.7.0 go away")
					return Done
				}
				return Cont
			}),
			ValidateMailFrom.RegisterLast(reg, "testpolicy", func(from string, ac *Accept, vc *VCtx) Result {
				if v, _ := vc.Get(ConnContext, "seen"); v != "connect" {
					vc.SetCode(451, "connection context lost")
				}
				if strings.HasSuffix(from, "@spammer.example") {
					vc.SetCode(550, "sender refused")
				}
				return Cont
			}),
			ValidateRcptTo.RegisterLast(reg, "testpolicy", func(msg *Message, rcpt string, ac *Accept, vc *VCtx) Result {
				if strings.HasPrefix(rcpt, "nobody@") {
					vc.SetCodeFrom("testpolicy", 550, "5.1.1 no such user")
				}
				return Cont
			}),
			ValidateData.RegisterLast(reg, "testpolicy", func(msg *Message, ac *Accept, vc *VCtx) Result {
				if msg.MailFrom == "nodata@b.example" {
					vc.SetCode(554, "no data for you")
				}
				return Cont
			}),
			ValidateDataSpool.RegisterLast(reg, "testpolicy", func(msg *Message, ac *Accept, vc *VCtx) Result {
				if subj := msg.Header("subject"); len(subj) > 0 {
					sawHeader.Store(subj[0])
					if subj[0] == "reject me" {
						vc.SetCode(550, "5.7.1 content refused")
					}
				}
				return Cont
			}),
			ValidateDataSpoolEachRcpt.RegisterLast(reg, "testpolicy", func(msg *Message, ac *Accept, vc *VCtx) Result {
				if strings.HasPrefix(msg.Rcpt, "drop@") {
					vc.SetCode(550, "dropped")
				}
				return Cont
			}),
			ValidateSetBinding.RegisterLast(reg, "testpolicy", func(msg *Message) Result {
				msg.SetBinding("outbound")
				return Done
			}),
			MessageEnqueue.RegisterLast(reg, "testpolicy", func(msg *Message, now time.Time) { enqueued.Add(1) }),
		} {
			if err != nil {
				return err
			}
		}
		return nil
	}
	s := startServer(t, policyConf, policy)
	c := s.dial()
	c.expect("220 ")
	c.cmd("EHLO bad.example", "550 5.7.0 go away")
	c.cmd("EHLO good.example", "250 ")
	c.cmd("MAIL FROM:<x@spammer.example>", "550 5.7.1 sender refused")
	c.cmd("MAIL FROM:<nodata@b.example>", "250 ")
	c.cmd("RCPT TO:<u@example.com>", "250 ")
	c.cmd("DATA", "554 5.7.1 no data for you")
	c.cmd("RSET", "250 ")
	c.cmd("MAIL FROM:<a@b.example>", "250 ")
	c.cmd("RCPT TO:<nobody@example.com>", "550 5.1.1 no such user")
	c.cmd("RCPT TO:<u@example.com>", "250 ")
	c.cmd("RCPT TO:<drop@example.com>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: reject\r\n me\r\n\r\nbody\r\n.\r\n")
	c.expect("550 5.7.1 content refused")
	if got := sawHeader.Load(); got != "reject me" {
		t.Fatalf("Header(subject) = %v, want the unfolded value", got)
	}
	c.cmd("MAIL FROM:<a@b.example>", "250 ")
	c.cmd("RCPT TO:<u@example.com>", "250 ")
	c.cmd("RCPT TO:<drop@example.com>", "250 ")
	c.cmd("DATA", "354 ")
	c.send("Subject: fine\r\n\r\nbody\r\n.\r\n")
	id := idOf(t, c.expect("250 2.0.0"))
	env, _, err := s.module().Spool().Load(id)
	if err != nil {
		t.Fatal(err)
	}
	if fmtLines(env.Rcpts) != fmtLines([]string{"u@example.com"}) || env.Binding != "outbound" {
		t.Fatalf("spooled envelope %+v", env)
	}
	if enqueued.Load() != 1 {
		t.Fatalf("ec_message_enqueue called %d times", enqueued.Load())
	}
	c.cmd("QUIT", "221 ")
	s.logs.Close()
	rl := s.reject.String()
	for _, want := range []string{`P="awaiting ehlo" E=550`, `P="awaiting mailfrom" E=550`, `P="awaiting rcptto" E=550 M=testpolicy`, `P="awaiting data_spool" E=550`, `P="awaiting data_spool_each_rcpt" E=550`, `CTXCONN=[ehlo_domain=good.example,ehlo_string=EHLO good.example,seen=connect]`} {
		if !strings.Contains(rl, want) {
			t.Errorf("rejectlog lacks %q:\n%s", want, rl)
		}
	}
	if ml := s.mainlog.String(); !strings.Contains(ml, "@esmtp@default@outbound\n") {
		t.Errorf("mainlog %q lacks the binding", ml)
	}
}

func TestConnectRejected(t *testing.T) {
	policy := func(reg *hooks.Registry) error {
		return ValidateConnect.RegisterLast(reg, "testpolicy", func(ac *Accept, vc *VCtx) Result {
			vc.Disconnect(554, "5.7.1 you are not welcome")
			return Done
		})
	}
	s := startServer(t, policyConf, policy)
	c := s.dial()
	c.expect("554 5.7.1 you are not welcome")
	if !c.closed() {
		t.Fatal("rejected connection kept")
	}
}

func TestDisconnectFromRcpt(t *testing.T) {
	policy := func(reg *hooks.Registry) error {
		return ValidateRcptTo.RegisterLast(reg, "testpolicy", func(msg *Message, rcpt string, ac *Accept, vc *VCtx) Result {
			vc.Disconnect(421, "4.7.0 bye")
			return Done
		})
	}
	s := startServer(t, policyConf, policy)
	c := s.dial()
	c.expect("220 ")
	c.cmd("MAIL FROM:<a@b.example>", "250 ")
	c.cmd("RCPT TO:<u@example.com>", "421 4.7.0 bye")
	if !c.closed() {
		t.Fatal("session kept after Disconnect")
	}
}

func TestProviderPanicIsTemporaryFailure(t *testing.T) {
	policy := func(reg *hooks.Registry) error {
		return ValidateMailFrom.RegisterLast(reg, "testpolicy", func(string, *Accept, *VCtx) Result { panic("boom") })
	}
	s := startServer(t, policyConf, policy)
	c := s.dial()
	c.expect("220 ")
	c.cmd("MAIL FROM:<a@b.example>", "451 4.3.0")
	c.cmd("NOOP", "250 ")
}

// TestAgainSuspendsAndResumes checks VALIDATE_AGAIN: the provider starts a
// pool job that resumes the context; meanwhile the session is out of the
// loop's kernel set and other sessions are served; then the phase runs again
// and its decision applies.
func TestAgainSuspendsAndResumes(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	var pools *threadpool.Manager
	policy := func(reg *hooks.Registry) error {
		return ValidateMailFrom.RegisterLast(reg, "testpolicy", func(from string, ac *Accept, vc *VCtx) Result {
			calls.Add(1)
			if v, ok := vc.Get(MessContext, "#lookup"); ok {
				if v == "bad" {
					vc.SetCode(550, "5.7.1 looked up and refused")
				}
				return Cont
			}
			if from != "slow@b.example" {
				return Cont
			}
			class, _ := pools.Class(threadpool.PoolIO)
			job := &threadpool.Job{Name: "lookup", Class: class, Mode: threadpool.CompleteModule, Resumer: vc.Resumer(),
				Work: func(*threadpool.Job) error { <-release; return nil }}
			// The answer is recorded on the loop when the job completes:
			// the context is loop-only.
			job.Resumer = resumerFunc(func(now time.Time) {
				vc.Set(MessContext, "#lookup", "bad")
				vc.Resumer().Resume(now)
			})
			if err := pools.Submit(job); err != nil {
				vc.SetCode(451, "cannot look up")
				return Cont
			}
			return Again
		})
	}
	s := startServer(t, policyConf, policy)
	pools = s.pools
	slow := s.dial()
	slow.expect("220 ")
	slow.send("MAIL FROM:<slow@b.example>\r\n")
	// While the slow session waits, another is served.
	other := s.dial()
	other.expect("220 ")
	other.cmd("MAIL FROM:<fast@b.example>", "250 ")
	close(release)
	slow.expect("550 5.7.1 looked up and refused")
	if n := calls.Load(); n != 3 {
		t.Fatalf("provider called %d times, want 3 (slow, fast, slow again)", n)
	}
	slow.cmd("NOOP", "250 ")
}

type resumerFunc func(now time.Time)

func (f resumerFunc) Resume(now time.Time) { f(now) }
