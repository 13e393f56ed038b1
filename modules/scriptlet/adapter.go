package scriptlet

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ecelerity-go/ecelerity/hooks"
)

// This file is the facade other packages use to let Lua scripts provide their hooks and to
// hand their objects to Lua, without importing gopher-lua: no Lua type appears here.
//
// A hook's declaring package binds it once, next to the declaration:
//
//	var ValidateRcptto = hooks.DeclareValued[func(m *Message, rcpt string, ac *Conn, v *VCtx) int](
//		hooks.Scope("esmtp"), "validate_rcptto", hooks.FirstNonZero[int](), scriptlet.ValidateCont)
//
//	func init() {
//		scriptlet.Bind(ValidateRcptto, "validate_rcptto",
//			func(p *scriptlet.Provider) func(m *Message, rcpt string, ac *Conn, v *VCtx) int {
//				return func(m *Message, rcpt string, ac *Conn, v *VCtx) int {
//					r, out := p.Call(v, scriptlet.Object(MessageClass, m), scriptlet.String(rcpt),
//						scriptlet.Object(ConnClass, ac), scriptlet.Object(VCtxClass, v))
//					switch out {
//					case scriptlet.Suspended:
//						return scriptlet.ValidateAgain
//					case scriptlet.Returned:
//						if n, ok := r.Int(); ok {
//							return int(n)
//						}
//					}
//					return scriptlet.ValidateCont // the hook's failure value
//				}
//			})
//	}
//
// A script method named after the binding (mod:validate_rcptto, or <scope>_<name> when the
// binding gives no name) then becomes a provider of the hook when the script calls
// msys.registerModule.

// Values returned to Lua by msys.core and meant for hook bindings: a validation provider
// returns one of them.
const (
	// ValidateCont: keep going with the next provider of the phase.
	ValidateCont = 0
	// ValidateDone: skip the remaining providers of the phase.
	ValidateDone = 1
	// ValidateAgain: the provider is blocked; the caller suspends and calls it again once
	// resumed (see Suspender).
	ValidateAgain = 2
)

// The validation-context dictionaries a vctx:get/set names, as msys.core exposes them.
const (
	VctxMess = 0
	VctxConn = 1
)

// Kind says which form a Value has.
type Kind uint8

// The forms of a Value.
const (
	NilKind Kind = iota
	BoolKind
	NumberKind
	StringKind
	// ObjectKind is a Go value exposed through a Class.
	ObjectKind
	// TableKind is a Lua table copied into a Table (Lua to Go) or built from one (Go to Lua).
	TableKind
	// FunctionKind is a Go Function that Lua calls as a function (Go to Lua only: a Lua
	// function handed to Go becomes nil).
	FunctionKind
)

// Value is a Lua value as the facade passes it: nil, a boolean, a number, a string, an
// object (a Go value with a Class) or a table. The zero Value is nil. Values are small and
// passed by value; building one allocates nothing except a Table.
type Value struct {
	kind Kind
	num  float64 // NumberKind; BoolKind: 1 for true
	str  string  // StringKind
	ref  any     // ObjectKind: the Go value; TableKind: *Table; FunctionKind: Function
	cls  *Class  // ObjectKind
}

// Nil returns the nil Value.
func Nil() Value { return Value{} }

// Bool returns a boolean Value.
func Bool(b bool) Value {
	if b {
		return Value{kind: BoolKind, num: 1}
	}
	return Value{kind: BoolKind}
}

// Int returns a number Value holding n (Lua numbers are float64: exact up to 2^53).
func Int(n int64) Value { return Value{kind: NumberKind, num: float64(n)} }

// Number returns a number Value.
func Number(f float64) Value { return Value{kind: NumberKind, num: f} }

// String returns a string Value.
func String(s string) Value { return Value{kind: StringKind, str: s} }

// Object returns a Value that Lua sees as an object of class c wrapping v: its methods
// (obj:name(...)) and fields (obj.name) are c's. A nil c or v gives the nil Value.
func Object(c *Class, v any) Value {
	if c == nil || v == nil {
		return Value{}
	}
	return Value{kind: ObjectKind, ref: v, cls: c}
}

// TableOf returns a table Value. Lua receives a new table each time the Value is pushed.
func TableOf(t *Table) Value {
	if t == nil {
		return Value{}
	}
	return Value{kind: TableKind, ref: t}
}

// Func returns a Value that Lua sees as a function: calling it calls f with the
// arguments. A nil f gives the nil Value. It is how Go hands scripts a library of functions
// (see Options.Msys).
func Func(f Function) Value {
	if f == nil {
		return Value{}
	}
	return Value{kind: FunctionKind, ref: f}
}

// Kind returns v's form.
func (v Value) Kind() Kind { return v.kind }

// IsNil reports whether v is nil.
func (v Value) IsNil() bool { return v.kind == NilKind }

// Truthy reports whether Lua treats v as true: anything but nil and false.
func (v Value) Truthy() bool {
	return v.kind != NilKind && !(v.kind == BoolKind && v.num == 0)
}

// AsBool returns a boolean Value's value and reports whether v is a boolean.
func (v Value) AsBool() (bool, bool) { return v.num != 0, v.kind == BoolKind }

// Number returns a number Value's value and reports whether v is a number.
func (v Value) Number() (float64, bool) { return v.num, v.kind == NumberKind }

// Int returns a number Value truncated to an integer and reports whether v is a number
// with no fractional part.
func (v Value) Int() (int64, bool) {
	n := int64(v.num)
	return n, v.kind == NumberKind && float64(n) == v.num
}

// Str returns a string Value's text and reports whether v is a string. (A number is not
// converted: callers that want Lua's coercion format the number themselves.)
func (v Value) Str() (string, bool) { return v.str, v.kind == StringKind }

// ObjectOf returns the Go value of an object of class c and reports whether v is one.
func (v Value) ObjectOf(c *Class) (any, bool) {
	if v.kind != ObjectKind || v.cls != c {
		return nil, false
	}
	return v.ref, true
}

// Table returns a table Value's contents and reports whether v is a table.
func (v Value) Table() (*Table, bool) {
	t, ok := v.ref.(*Table)
	return t, ok && v.kind == TableKind
}

// String formats v for logs and messages.
func (v Value) String() string {
	switch v.kind {
	case BoolKind:
		if v.num != 0 {
			return "true"
		}
		return "false"
	case NumberKind:
		return formatNumber(v.num)
	case StringKind:
		return v.str
	case ObjectKind:
		return fmt.Sprintf("%s: %p", v.cls.name, v.ref)
	case TableKind:
		return "table"
	case FunctionKind:
		return "function"
	}
	return "nil"
}

// Table is a Lua table as a Go value: its array part (keys 1..n) and its other keys,
// rendered as strings (numbers outside the array part as Lua formats them), sorted by key
// when it comes from Lua.
type Table struct {
	List   []Value
	Fields []Field
}

// Field is one key of a Table.
type Field struct {
	Key   string
	Value Value
}

// Get returns the value of a field, or nil.
func (t *Table) Get(key string) Value {
	for _, f := range t.Fields {
		if f.Key == key {
			return f.Value
		}
	}
	return Value{}
}

// Method is a Go method callable from Lua as obj:name(args...). self is the object's Go
// value; args are the arguments after self. It returns the values Lua receives; a non-nil
// error is raised in Lua as a runtime error (with the script's file:line). It runs on the
// goroutine that runs the script (the master loop for a hook called there) and must not
// block: work that blocks goes through c.InPool.
type Method func(c *Call, self any, args []Value) ([]Value, error)

// Function is a Go function callable from Lua as f(args...) (see Func): args are its
// arguments, and it returns the values Lua receives; a non-nil error is raised in Lua as a
// runtime error. Same goroutine rules as Method; c.InPool works as in a Method.
type Function func(c *Call, args []Value) ([]Value, error)

// Getter returns the value of a field read from Lua as obj.name. Same goroutine rules as
// Method.
type Getter func(self any) Value

// CallMethod is the name of the method that makes a Class's objects callable: a method
// named "__call" is not reachable as obj:__call(...) but runs when a script calls the
// object itself, obj(args...), with the object as self (Lua's __call metamethod).
const CallMethod = "__call"

// Class describes a Go type exposed to Lua: a name (shown by tostring and in errors), its
// methods, its read-only fields and, optionally, what calling an object does
// (CallMethod). Create classes once, at package initialisation; a Class is immutable and
// safe for concurrent use.
type Class struct {
	name    string
	methods map[string]Method
	fields  map[string]Getter
	call    Method   // CallMethod, or nil: the objects are not callable
	names   []string // methods then fields, sorted, for errors
}

// NewClass returns a class. Method and field names must be Lua identifiers and may not
// collide; breaking that is a programmer error and panics. A method named CallMethod
// makes the objects callable.
func NewClass(name string, methods map[string]Method, fields map[string]Getter) *Class {
	c := &Class{name: name, methods: map[string]Method{}, fields: map[string]Getter{}}
	for n, m := range methods {
		if !isIdent(n) || m == nil {
			panic(fmt.Sprintf("scriptlet: NewClass %s: bad method %q", name, n))
		}
		if n == CallMethod {
			c.call = m
			continue
		}
		c.methods[n] = m
		c.names = append(c.names, n)
	}
	for n, g := range fields {
		if !isIdent(n) || g == nil {
			panic(fmt.Sprintf("scriptlet: NewClass %s: bad field %q", name, n))
		}
		if _, dup := c.methods[n]; dup {
			panic(fmt.Sprintf("scriptlet: NewClass %s: %q is both a method and a field", name, n))
		}
		c.fields[n] = g
		c.names = append(c.names, n)
	}
	sort.Strings(c.names)
	return c
}

// Name returns the class name.
func (c *Class) Name() string { return c.name }

// Outcome says how a provider call ended.
type Outcome uint8

// The outcomes of Provider.Call.
const (
	// Returned: the Lua method returned; the Value is its first result.
	Returned Outcome = iota
	// Failed: the call raised an error, overran its deadline, or was skipped because its
	// provider is quarantined or its generation closed. It has been logged and counted;
	// the binding returns the hook's failure value.
	Failed
	// Suspended: the method is waiting for pool work (a synchronous msys.runInPool or a
	// Method's Call.InPool) and the call was parked in the Suspender's Parking. The binding
	// returns its "again" value (ValidateAgain); see Suspender for what follows.
	Suspended
)

func (o Outcome) String() string {
	switch o {
	case Returned:
		return "returned"
	case Failed:
		return "failed"
	case Suspended:
		return "suspended"
	}
	return "outcome?"
}

// Suspender is implemented by what the caller of a suspendable hook hands to its Lua
// providers: the listener's validation context. It is how a Lua provider blocked on pool
// work suspends the session instead of the master loop.
//
// The protocol, for one provider p and one Suspender s:
//
//  1. The binding calls p.Call(s, args...). If the Lua method waits for pool work, the call
//     is parked in s.Parking() and Call returns Suspended; the binding returns its "again"
//     value and the caller suspends the session (it must not call p with s again until
//     step 2; if it does, Call returns Suspended again and runs nothing).
//  2. When the work is done the method resumes, on the master loop (on the completing
//     goroutine when the runtime has no loop), and runs to its end; then s.Resume(now) is
//     called there.
//  3. The caller calls the hook again (Momentum's VALIDATE_AGAIN contract). p.Call(s, ...)
//     finds the finished call in s.Parking(), removes it and returns its result without
//     running Lua again; the arguments are ignored.
//
// A Suspender whose session ended before step 3 simply drops its Parking: the parked call
// holds no server resource once it has finished.
type Suspender interface {
	// Parking returns the Suspender's slot for parked calls; it must return the same
	// pointer every time. Embed a Parking in the context object and return its address.
	Parking() *Parking
	// Resume is called once per parked call when it has finished (see above). It must not
	// block.
	Resume(now time.Time)
}

// Parking holds the Lua calls parked on one Suspender. The zero value is ready to use.
// Safe for concurrent use; only this package reads or writes it.
type Parking struct {
	mu sync.Mutex
	// mu guards calls.
	calls []*parked
}

// parked is one call parked in a Parking.
type parked struct {
	p        *Provider
	finished bool
	result   Value
	outcome  Outcome
}

// take removes and returns the finished call of p, or reports whether one is still
// waiting.
func (pk *Parking) take(p *Provider) (r *parked, waiting bool) {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	for i, c := range pk.calls {
		if c.p != p {
			continue
		}
		if !c.finished {
			return nil, true
		}
		pk.calls = append(pk.calls[:i], pk.calls[i+1:]...)
		return c, false
	}
	return nil, false
}

// add parks a call of p.
func (pk *Parking) add(c *parked) {
	pk.mu.Lock()
	pk.calls = append(pk.calls, c)
	pk.mu.Unlock()
}

// finish records c's result.
func (pk *Parking) finish(c *parked, r Value, out Outcome) {
	pk.mu.Lock()
	c.finished, c.result, c.outcome = true, r, out
	pk.mu.Unlock()
}

// Pending returns how many calls are parked, finished or not (for introspection).
func (pk *Parking) Pending() int {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	return len(pk.calls)
}

// hookBinding is what Bind records for registerModule: how to register a Lua provider on
// one hook.
type hookBinding struct {
	method string // the Lua method name
	hook   string // scope.name
	// register registers p into reg for module, at the Lua function's site.
	register func(reg *hooks.Registry, module string, p *Provider, site string) error
}

// bindings is the process-wide table of Lua-bound hooks, by method name: the guarded
// registry that Bind fills from init functions, like hooks' own declarations.
var bindings struct {
	mu sync.RWMutex
	// mu guards byMethod.
	byMethod map[string]*hookBinding
}

// Bindable is the part of a declared hook (hooks.Valued or hooks.Void) that Bind needs.
type Bindable[F any] interface {
	SetAdapter(kind hooks.Kind, a hooks.Adapter[F])
	RegisterForeign(reg *hooks.Registry, pos hooks.Position, kind hooks.Kind, module string, foreign any, opts ...hooks.RegisterOption) error
	FullName() string
	Scope() hooks.Scope
	Name() string
}

// Bind declares the Lua adapter of hook h: a script method named method (when empty,
// "<scope>_<name>", e.g. core_ec_message_enqueue) becomes a provider of h, and make builds
// the hook's provider func around the script's Provider. make runs at registration, on the
// goroutine building the generation; the func it returns runs on whichever goroutine calls
// the hook. Call Bind once per hook, from init, in the package that declares the hook.
// Binding a hook twice, or two hooks to one method name, is a programmer error and panics.
// Safe for concurrent use.
func Bind[F any](h Bindable[F], method string, make func(p *Provider) F) {
	if make == nil {
		panic("scriptlet: Bind " + h.FullName() + ": nil make")
	}
	if method == "" {
		method = string(h.Scope()) + "_" + h.Name()
	}
	if !isIdent(method) {
		panic(fmt.Sprintf("scriptlet: Bind %s: bad method name %q", h.FullName(), method))
	}
	bindings.mu.Lock()
	defer bindings.mu.Unlock()
	if prev, dup := bindings.byMethod[method]; dup {
		panic(fmt.Sprintf("scriptlet: Bind %s: method %q is already bound to %s", h.FullName(), method, prev.hook))
	}
	h.SetAdapter(hooks.KindLua, hooks.AdapterFunc[F](func(foreign any) (F, error) {
		p, ok := foreign.(*Provider)
		if !ok || p == nil {
			var zero F
			return zero, fmt.Errorf("scriptlet: the Lua adapter of %s takes a *scriptlet.Provider, not %T", h.FullName(), foreign)
		}
		return make(p), nil
	}))
	if bindings.byMethod == nil {
		bindings.byMethod = map[string]*hookBinding{}
	}
	bindings.byMethod[method] = &hookBinding{
		method: method,
		hook:   h.FullName(),
		register: func(reg *hooks.Registry, module string, p *Provider, site string) error {
			return h.RegisterForeign(reg, hooks.Last, hooks.KindLua, module, p, hooks.Site(site))
		},
	}
}

// bindingFor returns the binding of a method name, or nil.
func bindingFor(method string) *hookBinding {
	bindings.mu.RLock()
	defer bindings.mu.RUnlock()
	return bindings.byMethod[method]
}

// BoundMethods lists the method names bound to hooks, sorted: what a script may provide.
func BoundMethods() []string {
	bindings.mu.RLock()
	defer bindings.mu.RUnlock()
	out := make([]string, 0, len(bindings.byMethod))
	for m := range bindings.byMethod {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// isIdent reports whether s is a Lua identifier (ASCII).
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// formatNumber formats a Lua number as Lua's tostring does for the common cases: integers
// without a fraction, others in %.14g.
func formatNumber(f float64) string {
	if f == float64(int64(f)) && f < 1e15 && f > -1e15 {
		return fmt.Sprintf("%d", int64(f))
	}
	return strings.TrimSpace(fmt.Sprintf("%.14g", f))
}

// remove drops a parked call that finished before it had to wait.
func (pk *Parking) remove(c *parked) {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	for i, x := range pk.calls {
		if x == c {
			pk.calls = append(pk.calls[:i], pk.calls[i+1:]...)
			return
		}
	}
}
