package hooks

// Policy decides, after each provider of a valued hook has returned, whether
// the call stops there and returns that result. When no provider stops the
// call, it returns the zero R. The zero Policy is FirstNonZero.
type Policy[R comparable] struct {
	name string
	// stop is nil for FirstNonZero, which the call path tests inline rather
	// than through a func value.
	stop func(R) bool
}

// FirstNonZero returns the common policy: the first provider that returns a
// non-zero result stops the call and its result is returned; when all return
// zero, the call returns zero.
func FirstNonZero[R comparable]() Policy[R] {
	return Policy[R]{}
}

// StopWhen returns a policy that stops the call at the first result for which
// stop reports true. name is what introspection shows. stop runs on the
// calling goroutine after every provider, so it must be cheap and must not
// block. A nil stop is a programmer error and panics.
func StopWhen[R comparable](name string, stop func(R) bool) Policy[R] {
	if stop == nil || name == "" {
		panic("hooks: StopWhen needs a name and a stop func")
	}
	return Policy[R]{name: name, stop: stop}
}

// Name returns the policy's name for introspection.
func (p Policy[R]) Name() string {
	if p.stop == nil {
		return "first-non-zero"
	}
	return p.name
}
