package esmtp

import (
	"errors"
	"fmt"
	"time"

	"github.com/ecelerity-go/ecelerity/modules/scriptlet"
)

// The Lua side of the validation phases, through the scriptlet facade: a
// scriptlet method named validate_connect, validate_ehlo, ... (REFERENCE
// section 3) becomes a provider of the phase's hook, and core_ec_message_enqueue
// of MessageEnqueue. Scripts see the listener's objects as:
//
//	ac    fields conn_id, remote_ip, remote_port, local_ip, local_port, helo, tls
//	vctx  get(type, key), set(type, key, value), set_code(code, text),
//	      disconnect(code, text); type is msys.core.VCTX_CONN or VCTX_MESS
//	msg   header(name) -> table of values, mailfrom(), rcptto() (the recipient of a
//	      per-recipient phase, else the first), context_get(type, key),
//	      context_set(type, key, value), binding([name]); fields id, size
//
// A method returns msys.core.VALIDATE_CONT or VALIDATE_DONE. A method that
// waits for pool work (msys.runInPool) suspends the session, as VALIDATE_AGAIN
// does for a Go provider, and the phase runs again once the work is done; a
// VALIDATE_AGAIN returned without such a wait has nothing to resume the
// session and is taken as VALIDATE_CONT. An error, a deadline overrun or a
// quarantined provider answers a temporary failure (451).

var errArgs = errors.New("esmtp: bad arguments")

// Parking implements scriptlet.Suspender: where the Lua calls that wait for
// pool work on behalf of this session are parked.
func (v *VCtx) Parking() *scriptlet.Parking { return &v.parking }

// Resume implements scriptlet.Suspender and threadpool.Resumer: it resumes a
// session suspended by its validation. Loop goroutine.
func (v *VCtx) Resume(now time.Time) { v.s.Resume(now) }

var _ scriptlet.Suspender = (*VCtx)(nil)

func contextKind(v scriptlet.Value) (ContextKind, error) {
	n, ok := v.Int()
	switch {
	case ok && n == scriptlet.VctxConn:
		return ConnContext, nil
	case ok && n == scriptlet.VctxMess:
		return MessContext, nil
	}
	return 0, fmt.Errorf("%w: context type must be msys.core.VCTX_CONN or VCTX_MESS", errArgs)
}

func strArg(args []scriptlet.Value, i int, what string) (string, error) {
	if i < len(args) {
		if s, ok := args[i].Str(); ok {
			return s, nil
		}
		if _, ok := args[i].Number(); ok {
			return args[i].String(), nil
		}
	}
	return "", fmt.Errorf("%w: %s must be a string", errArgs, what)
}

func getCtx(get func(ContextKind, string) (string, bool), args []scriptlet.Value) ([]scriptlet.Value, error) {
	if len(args) < 2 {
		return nil, fmt.Errorf("%w: get(type, key)", errArgs)
	}
	kind, err := contextKind(args[0])
	if err != nil {
		return nil, err
	}
	key, err := strArg(args, 1, "key")
	if err != nil {
		return nil, err
	}
	if v, ok := get(kind, key); ok {
		return []scriptlet.Value{scriptlet.String(v)}, nil
	}
	return []scriptlet.Value{scriptlet.Nil()}, nil
}

func setCtx(set func(ContextKind, string, string), args []scriptlet.Value) ([]scriptlet.Value, error) {
	if len(args) < 3 {
		return nil, fmt.Errorf("%w: set(type, key, value)", errArgs)
	}
	kind, err := contextKind(args[0])
	if err != nil {
		return nil, err
	}
	key, err := strArg(args, 1, "key")
	if err != nil {
		return nil, err
	}
	val, err := strArg(args, 2, "value")
	if err != nil {
		return nil, err
	}
	set(kind, key, val)
	return nil, nil
}

func codeArgs(args []scriptlet.Value) (int, string, error) {
	if len(args) < 1 {
		return 0, "", fmt.Errorf("%w: (code, text)", errArgs)
	}
	code, ok := args[0].Int()
	if !ok || code < 200 || code > 599 {
		return 0, "", fmt.Errorf("%w: code must be a reply code 200..599", errArgs)
	}
	text := ""
	if len(args) > 1 && !args[1].IsNil() {
		t, err := strArg(args, 1, "text")
		if err != nil {
			return 0, "", err
		}
		text = t
	}
	return int(code), text, nil
}

var vctxClass = scriptlet.NewClass("vctx", map[string]scriptlet.Method{
	"get": func(_ *scriptlet.Call, self any, args []scriptlet.Value) ([]scriptlet.Value, error) {
		return getCtx(self.(*VCtx).Get, args)
	},
	"set": func(_ *scriptlet.Call, self any, args []scriptlet.Value) ([]scriptlet.Value, error) {
		return setCtx(self.(*VCtx).Set, args)
	},
	"set_code": func(c *scriptlet.Call, self any, args []scriptlet.Value) ([]scriptlet.Value, error) {
		code, text, err := codeArgs(args)
		if err != nil {
			return nil, err
		}
		self.(*VCtx).SetCodeFrom("scriptlet", code, text)
		return nil, nil
	},
	"disconnect": func(c *scriptlet.Call, self any, args []scriptlet.Value) ([]scriptlet.Value, error) {
		code, text, err := codeArgs(args)
		if err != nil {
			return nil, err
		}
		v := self.(*VCtx)
		v.Disconnect(code, text)
		v.module = "scriptlet"
		return nil, nil
	},
}, nil)

var acClass = scriptlet.NewClass("ac", nil, map[string]scriptlet.Getter{
	"conn_id":     func(self any) scriptlet.Value { return scriptlet.Int(int64(self.(*Accept).ConnID)) },
	"remote_ip":   func(self any) scriptlet.Value { return scriptlet.String(self.(*Accept).Remote.Addr().String()) },
	"remote_port": func(self any) scriptlet.Value { return scriptlet.Int(int64(self.(*Accept).Remote.Port())) },
	"local_ip":    func(self any) scriptlet.Value { return scriptlet.String(self.(*Accept).Local.Addr().String()) },
	"local_port":  func(self any) scriptlet.Value { return scriptlet.Int(int64(self.(*Accept).Local.Port())) },
	"helo":        func(self any) scriptlet.Value { return scriptlet.String(self.(*Accept).Helo) },
	"tls":         func(self any) scriptlet.Value { return scriptlet.Bool(self.(*Accept).TLS) },
})

var msgClass = scriptlet.NewClass("msg", map[string]scriptlet.Method{
	"header": func(_ *scriptlet.Call, self any, args []scriptlet.Value) ([]scriptlet.Value, error) {
		name, err := strArg(args, 0, "header name")
		if err != nil {
			return nil, err
		}
		t := &scriptlet.Table{}
		for _, v := range self.(*Message).Header(name) {
			t.List = append(t.List, scriptlet.String(v))
		}
		return []scriptlet.Value{scriptlet.TableOf(t)}, nil
	},
	"mailfrom": func(_ *scriptlet.Call, self any, _ []scriptlet.Value) ([]scriptlet.Value, error) {
		return []scriptlet.Value{scriptlet.String(self.(*Message).MailFrom)}, nil
	},
	"rcptto": func(_ *scriptlet.Call, self any, _ []scriptlet.Value) ([]scriptlet.Value, error) {
		m := self.(*Message)
		r := m.Rcpt
		if r == "" && len(m.Rcpts) > 0 {
			r = m.Rcpts[0]
		}
		return []scriptlet.Value{scriptlet.String(r)}, nil
	},
	"context_get": func(_ *scriptlet.Call, self any, args []scriptlet.Value) ([]scriptlet.Value, error) {
		return getCtx(self.(*Message).ContextGet, args)
	},
	"context_set": func(_ *scriptlet.Call, self any, args []scriptlet.Value) ([]scriptlet.Value, error) {
		return setCtx(self.(*Message).ContextSet, args)
	},
	"binding": func(_ *scriptlet.Call, self any, args []scriptlet.Value) ([]scriptlet.Value, error) {
		m := self.(*Message)
		if len(args) > 0 && !args[0].IsNil() {
			b, err := strArg(args, 0, "binding")
			if err != nil {
				return nil, err
			}
			m.SetBinding(b)
		}
		return []scriptlet.Value{scriptlet.String(m.Binding())}, nil
	},
}, map[string]scriptlet.Getter{
	"id":   func(self any) scriptlet.Value { return scriptlet.String(self.(*Message).ID) },
	"size": func(self any) scriptlet.Value { return scriptlet.Int(self.(*Message).Size) },
})

// luaResult maps a Lua provider's call to a Result.
func luaResult(r scriptlet.Value, out scriptlet.Outcome) Result {
	switch out {
	case scriptlet.Suspended:
		return Again
	case scriptlet.Failed:
		return Failed
	}
	if n, ok := r.Int(); ok && n == scriptlet.ValidateDone {
		return Done
	}
	return Cont
}

func init() {
	obj := scriptlet.Object
	scriptlet.Bind(ValidateConnect, "validate_connect", func(p *scriptlet.Provider) func(*Accept, *VCtx) Result {
		return func(ac *Accept, vc *VCtx) Result {
			return luaResult(p.Call(vc, obj(acClass, ac), obj(vctxClass, vc)))
		}
	})
	scriptlet.Bind(ValidateEHLO, "validate_ehlo", func(p *scriptlet.Provider) func(string, *Accept, *VCtx) Result {
		return func(helo string, ac *Accept, vc *VCtx) Result {
			return luaResult(p.Call(vc, scriptlet.String(helo), obj(acClass, ac), obj(vctxClass, vc)))
		}
	})
	scriptlet.Bind(ValidateMailFrom, "validate_mailfrom", func(p *scriptlet.Provider) func(string, *Accept, *VCtx) Result {
		return func(from string, ac *Accept, vc *VCtx) Result {
			return luaResult(p.Call(vc, scriptlet.String(from), obj(acClass, ac), obj(vctxClass, vc)))
		}
	})
	scriptlet.Bind(ValidateRcptTo, "validate_rcptto", func(p *scriptlet.Provider) func(*Message, string, *Accept, *VCtx) Result {
		return func(msg *Message, rcpt string, ac *Accept, vc *VCtx) Result {
			return luaResult(p.Call(vc, obj(msgClass, msg), scriptlet.String(rcpt), obj(acClass, ac), obj(vctxClass, vc)))
		}
	})
	for _, b := range []struct {
		h      *hookMsgACVC
		method string
	}{
		{ValidateData, "validate_data"},
		{ValidateDataSpool, "validate_data_spool"},
		{ValidateDataSpoolEachRcpt, "validate_data_spool_each_rcpt"},
	} {
		scriptlet.Bind(b.h, b.method, func(p *scriptlet.Provider) func(*Message, *Accept, *VCtx) Result {
			return func(msg *Message, ac *Accept, vc *VCtx) Result {
				return luaResult(p.Call(vc, obj(msgClass, msg), obj(acClass, ac), obj(vctxClass, vc)))
			}
		})
	}
	scriptlet.Bind(ValidateSetBinding, "validate_set_binding", func(p *scriptlet.Provider) func(*Message) Result {
		return func(msg *Message) Result {
			// set_binding cannot suspend: no Suspender.
			r, out := p.Call(nil, obj(msgClass, msg))
			if res := luaResult(r, out); res == Done {
				return Done
			}
			return Cont
		}
	})
	scriptlet.Bind(MessageEnqueue, "", func(p *scriptlet.Provider) func(*Message, time.Time) {
		return func(msg *Message, now time.Time) {
			p.Call(nil, obj(msgClass, msg), scriptlet.Int(now.Unix()))
		}
	})
}
