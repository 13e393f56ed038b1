package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// checkType defines an option of typ, builds "X = <value>" and returns the
// fetched value formatted, or the error text.
func checkType[T any](t *testing.T, typ Type[T], value string) (string, error) {
	t.Helper()
	r := NewRegistry()
	o := MustDefine(r, Spec[T]{Name: "X"}, typ)
	tree, err := Parse("types.conf", []byte("\nX = "+value+"\n"))
	if err != nil {
		return "", err
	}
	g, err := r.Build(tree)
	if err != nil {
		return "", err
	}
	defer g.Release()
	return fmt.Sprint(o.Global(g)), nil
}

type typeCase struct {
	value string
	want  string // formatted value; empty when an error is expected
	err   string // substring of the error, after "types.conf:2:5: X: "
}

func runTypeCases[T any](t *testing.T, typ Type[T], cases []typeCase) {
	for _, c := range cases {
		t.Run(typ.Name()+"/"+c.value, func(t *testing.T) {
			got, err := checkType(t, typ, c.value)
			if c.err == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if got != c.want {
					t.Fatalf("got %q, want %q", got, c.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %q, want error %q", got, c.err)
			}
			if !errors.Is(err, ErrBadValue) {
				t.Errorf("%v is not ErrBadValue", err)
			}
			if !strings.Contains(err.Error(), "types.conf:2:5: X: ") || !strings.Contains(err.Error(), c.err) {
				t.Errorf("got %q, want types.conf:2:5: X: ...%s...", err, c.err)
			}
		})
	}
}

func TestTypes(t *testing.T) {
	runTypeCases(t, StringType(), []typeCase{
		{value: "abc", want: "abc"},
		{value: `"a b"`, want: "a b"},
		{value: "( a )", err: "expected a string, got an array"},
	})
	runTypeCases(t, IntType(), []typeCase{
		{value: "42", want: "42"},
		{value: "-7", want: "-7"},
		{value: "0666", want: "438"},
		{value: "0x10", want: "16"},
		{value: "4x", err: `expected an integer, got "4x"`},
		{value: "99999999999999999999", err: "expected an integer"},
	})
	runTypeCases(t, Uint64Type(), []typeCase{
		{value: "18446744073709551615", want: "18446744073709551615"},
		{value: "-1", err: "expected an unsigned integer"},
	})
	runTypeCases(t, PermsType(), []typeCase{
		{value: "0640", want: "-rw-r-----"},
		{value: "755", want: "-rwxr-xr-x"},
		{value: "0988", err: "expected octal permissions"},
		{value: "077777", err: "expected octal permissions"},
	})
	for _, v := range []string{"on", "true", "yes", "enabled", "1", `"ON"`, "Enabled"} {
		runTypeCases(t, BoolType(), []typeCase{{value: v, want: "true"}})
	}
	for _, v := range []string{"off", "false", "no", "disabled", "0", "'Off'"} {
		runTypeCases(t, BoolType(), []typeCase{{value: v, want: "false"}})
	}
	runTypeCases(t, BoolType(), []typeCase{{value: "maybe", err: "expected a boolean"}})
	runTypeCases(t, FloatType(), []typeCase{
		{value: "1.5", want: "1.5"},
		{value: "NaN", err: "expected a number"},
		{value: "x", err: "expected a number"},
	})
	runTypeCases(t, SockAddrType(), []typeCase{
		{value: "1.2.3.4:25", want: "1.2.3.4:25"},
		{value: `"*:25"`, want: "0.0.0.0:25"},
		{value: `":25"`, want: "0.0.0.0:25"},
		{value: `"[*]:25"`, want: "[::]:25"},
		{value: `"[::]:2525"`, want: "[::]:2525"},
		{value: `"[::1]:25"`, want: "[::1]:25"},
		{value: "1.2.3.4", err: "expected an address with port"},
		{value: `"::1:25"`, err: "expected an address with port"},
		{value: "1.2.3.4:70000", err: "expected an address with port"},
		{value: "host:25", err: "expected an address with port"},
	})
	runTypeCases(t, AddrType(), []typeCase{
		{value: "10.0.0.1", want: "10.0.0.1"},
		{value: `"::1"`, want: "::1"},
		{value: `"[::1]"`, want: "::1"},
		{value: "10.0.0.1:25", err: "expected an address without port"},
	})
	runTypeCases(t, ThrottleType(), []typeCase{
		{value: "100/60", want: fmt.Sprint(Throttle{Count: 100, Per: time.Minute})},
		{value: "5", want: fmt.Sprint(Throttle{Count: 5, Per: time.Second})},
		{value: "5/0", err: "expected a throttle"},
		{value: "a/b", err: "expected a throttle"},
	})
	runTypeCases(t, DictType(), []typeCase{
		{value: `[ a = "1" b = 2 ]`, want: "[{a 1} {b 2}]"},
		{value: "x", err: "expected a dictionary"},
	})
	runTypeCases(t, SizeType(), []typeCase{
		{value: "512", want: "512"},
		{value: "10k", want: "10240"},
		{value: "10K", want: "10240"},
		{value: "5MB", want: "5242880"},
		{value: "2GiB", want: "2147483648"},
		{value: "1t", want: "1099511627776"},
		{value: "5x", err: "expected a size"},
		{value: "99999999999t", err: "expected a size"},
	})
	runTypeCases(t, RegexType(), []typeCase{
		{value: `"^a.*$"`, want: "^a.*$"},
		{value: `"/b+/"`, want: "b+"},
		{value: `"("`, err: "expected a regular expression"},
	})
	runTypeCases(t, ArrayOf(IntType()), []typeCase{
		{value: "( 1 2 3 )", want: "[1 2 3]"},
		{value: "7", want: "[7]"},
		{value: "( )", want: "[]"},
		{value: "[ a = b ]", err: "expected an array"},
	})
	runTypeCases(t, ArrayOf(SockAddrType()), []typeCase{
		{value: `( ":25" "[::]:26" )`, want: fmt.Sprint([]netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:25"), netip.MustParseAddrPort("[::]:26")})},
	})
}

func TestArrayItemErrorNamesItem(t *testing.T) {
	_, err := checkType(t, ArrayOf(IntType()), "( 1\n  x )")
	if err == nil || !strings.Contains(err.Error(), "types.conf:3:3: X: expected an integer") {
		t.Fatalf("got %v, want the item's position", err)
	}
}

func TestValidateRejectsWithPosition(t *testing.T) {
	r := NewRegistry()
	MustDefine(r, Spec[int64]{Name: "Pct", Validate: func(v int64) error {
		if v > 100 {
			return errors.New("must be at most 100")
		}
		return nil
	}}, IntType())
	tree, _ := Parse("v.conf", []byte("Pct = 101"))
	_, err := r.Build(tree)
	if err == nil || !strings.Contains(err.Error(), "v.conf:1:7: Pct: must be at most 100") {
		t.Fatalf("got %v", err)
	}
}

func TestDefineErrors(t *testing.T) {
	r := NewRegistry()
	if err := r.DefineScope(ScopeDef{Keyword: "mod", Named: true, Parents: []string{"Global"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.DefineScope(ScopeDef{Keyword: "other", Parents: []string{"Global"}}); err != nil {
		t.Fatal(err)
	}
	MustDefine(r, Spec[int64]{Name: "A"}, IntType())
	MustDefine(r, Spec[bool]{Name: "enabled", Fallback: "mod"}, BoolType())
	tests := []struct {
		name string
		err  error
		def  func() error
	}{
		{"same name same scope", ErrDuplicate, func() error { _, err := Define(r, Spec[int64]{Name: "a"}, IntType()); return err }},
		{"same name same module", ErrDuplicate, func() error {
			_, err := Define(r, Spec[bool]{Name: "Enabled", Fallback: "mod"}, BoolType())
			return err
		}},
		{"unknown scope in fallback", ErrBadDefinition, func() error {
			_, err := Define(r, Spec[int64]{Name: "B", Fallback: "Nope>Global"}, IntType())
			return err
		}},
		{"bad default", ErrBadDefinition, func() error {
			_, err := Define(r, Spec[int64]{Name: "C", Default: "x"}, IntType())
			return err
		}},
		{"singleton brackets on named scope", ErrBadDefinition, func() error {
			_, err := Define(r, Spec[int64]{Name: "D", Fallback: "[mod]"}, IntType())
			return err
		}},
		{"scopes of two modules", ErrBadDefinition, func() error {
			_, err := Define(r, Spec[int64]{Name: "E", Fallback: "mod>[other]>Global"}, IntType())
			if err != nil && !strings.Contains(err.Error(), "mixes the scopes of mod and other") {
				return fmt.Errorf("message %q does not name both modules", err)
			}
			return err
		}},
		{"name of a scope", ErrBadDefinition, func() error { _, err := Define(r, Spec[int64]{Name: "Domain"}, IntType()); return err }},
		{"scope redefined with other namedness", ErrDuplicate, func() error {
			return r.DefineScope(ScopeDef{Keyword: "MOD"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.def(); !errors.Is(err, tt.err) {
				t.Fatalf("got %v, want %v", err, tt.err)
			}
		})
	}
	// Another module may reuse a name.
	if _, err := Define(r, Spec[bool]{Name: "Enabled", Fallback: "[other]"}, BoolType()); err != nil {
		t.Errorf("a second module's Enabled: %v", err)
	}
	// A module's option may fall back through core scopes to Global.
	if _, err := Define(r, Spec[int64]{Name: "F", Fallback: "mod>Domain>Global"}, IntType()); err != nil {
		t.Errorf("a module option falling back to Domain and Global: %v", err)
	}
}
