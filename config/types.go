package config

import (
	"fmt"
	"io/fs"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Type turns a written Value into a typed value and back. Parse's error says
// what was expected; the caller adds the position and the option name.
// Implementations must be safe for concurrent use (they are stateless).
type Type[T any] interface {
	// Name is the type as an operator reads it: "integer", "boolean", ...
	Name() string
	Parse(v Value) (T, error)
	Format(v T) string
}

// The built-in types. Each constructor returns a stateless value.

// StringType is any scalar, kept as written.
func StringType() Type[string] { return stringType{} }

// IntType is a signed 64-bit integer; a leading 0 means octal, 0x hex.
func IntType() Type[int64] { return intType{} }

// Uint64Type is an unsigned 64-bit integer; a leading 0 means octal, 0x hex.
func Uint64Type() Type[uint64] { return uintType{} }

// PermsType is a file mode written in octal, such as 0640 (at most 07777).
func PermsType() Type[fs.FileMode] { return permsType{} }

// BoolType accepts on/off, true/false, yes/no, enabled/disabled and 1/0, in
// any case, quoted or not.
func BoolType() Type[bool] { return boolType{} }

// FloatType is a 64-bit float.
func FloatType() Type[float64] { return floatType{} }

// SockAddrType is an address with a port: "1.2.3.4:25", "[::1]:25",
// "*:25" and ":25" (IPv4 any), "[*]:25" and "[::]:25" (IPv6 any).
func SockAddrType() Type[netip.AddrPort] { return sockAddrType{} }

// AddrType is an address without a port: "1.2.3.4", "::1" or "[::1]", "*"
// (IPv4 any).
func AddrType() Type[netip.Addr] { return addrType{} }

// ThrottleType is a rate "count/seconds" such as 100/60; a bare count means
// per second.
func ThrottleType() Type[Throttle] { return throttleType{} }

// DictType is a dictionary "[ k = v  k2 = v2 ]".
func DictType() Type[Dict] { return dictType{} }

// SizeType is a byte count with an optional unit k, m, g or t (powers of
// 1024), in any case, optionally followed by "b" or "ib": 10k, 5MB, 2GiB.
func SizeType() Type[uint64] { return sizeType{} }

// RegexType is a Go regular expression (RE2 syntax), optionally written in
// slashes: "/^a.*$/".
func RegexType() Type[*regexp.Regexp] { return regexType{} }

// ArrayOf is an array "( a b c )" of elem; a single scalar is taken as an
// array of one.
func ArrayOf[T any](elem Type[T]) Type[[]T] { return arrayType[T]{elem: elem} }

// Throttle is a rate: Count events per Per.
type Throttle struct {
	Count uint64
	Per   time.Duration
}

// DictEntry is one key and value of a Dict.
type DictEntry struct {
	Key, Value string
}

// Dict is a dictionary value in the order written.
type Dict []DictEntry

// Get returns the value for key (exact match) and whether it is present.
func (d Dict) Get(key string) (string, bool) {
	for _, e := range d {
		if e.Key == key {
			return e.Value, true
		}
	}
	return "", false
}

func scalar(v Value, want string) (string, error) {
	if v.Kind != ScalarValue {
		return "", fmt.Errorf("expected %s, got %s", want, kindName(v.Kind))
	}
	return v.Text, nil
}

func kindName(k ValueKind) string {
	switch k {
	case ArrayValue:
		return "an array"
	case DictValue:
		return "a dictionary"
	}
	return "a single value"
}

func bad(want, got string) error { return fmt.Errorf("expected %s, got %q", want, got) }

type stringType struct{}

func (stringType) Name() string                  { return "string" }
func (stringType) Parse(v Value) (string, error) { return scalar(v, "a string") }
func (stringType) Format(s string) string        { return formatScalar(Value{Text: s}) }

type intType struct{}

func (intType) Name() string { return "integer" }
func (intType) Parse(v Value) (int64, error) {
	s, err := scalar(v, "an integer")
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		return 0, bad("an integer", s)
	}
	return n, nil
}
func (intType) Format(n int64) string { return strconv.FormatInt(n, 10) }

type uintType struct{}

func (uintType) Name() string { return "unsigned integer" }
func (uintType) Parse(v Value) (uint64, error) {
	s, err := scalar(v, "an unsigned integer")
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		return 0, bad("an unsigned integer", s)
	}
	return n, nil
}
func (uintType) Format(n uint64) string { return strconv.FormatUint(n, 10) }

type permsType struct{}

func (permsType) Name() string { return "octal permissions" }
func (permsType) Parse(v Value) (fs.FileMode, error) {
	s, err := scalar(v, "octal permissions")
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil || n > 0o7777 {
		return 0, bad("octal permissions such as 0640", s)
	}
	return fs.FileMode(n), nil
}
func (permsType) Format(m fs.FileMode) string { return fmt.Sprintf("%04o", uint32(m)) }

type boolType struct{}

func (boolType) Name() string { return "boolean" }
func (boolType) Parse(v Value) (bool, error) {
	s, err := scalar(v, "a boolean")
	if err != nil {
		return false, err
	}
	switch strings.ToLower(s) {
	case "on", "true", "yes", "enabled", "1":
		return true, nil
	case "off", "false", "no", "disabled", "0":
		return false, nil
	}
	return false, bad("a boolean (on/off, true/false, yes/no, enabled/disabled, 1/0)", s)
}
func (boolType) Format(b bool) string { return strconv.FormatBool(b) }

type floatType struct{}

func (floatType) Name() string { return "number" }
func (floatType) Parse(v Value) (float64, error) {
	s, err := scalar(v, "a number")
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, bad("a number", s)
	}
	return f, nil
}
func (floatType) Format(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

type sockAddrType struct{}

func (sockAddrType) Name() string { return "address with port" }
func (sockAddrType) Parse(v Value) (netip.AddrPort, error) {
	const want = `an address with port ("1.2.3.4:25", "[::1]:25", "*:25", ":25")`
	s, err := scalar(v, want)
	if err != nil {
		return netip.AddrPort{}, err
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, bad(want, s)
	}
	host, portText := s[:i], s[i+1:]
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return netip.AddrPort{}, bad(want, s)
	}
	var addr netip.Addr
	switch {
	case host == "" || host == "*":
		addr = netip.IPv4Unspecified()
	case host == "[*]":
		addr = netip.IPv6Unspecified()
	case strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]"):
		addr, err = netip.ParseAddr(host[1 : len(host)-1])
		if err != nil || !addr.Is6() {
			return netip.AddrPort{}, bad(want, s)
		}
	default:
		addr, err = netip.ParseAddr(host)
		if err != nil || !addr.Is4() {
			// An IPv6 address needs brackets before a port.
			return netip.AddrPort{}, bad(want, s)
		}
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}
func (sockAddrType) Format(a netip.AddrPort) string { return a.String() }

type addrType struct{}

func (addrType) Name() string { return "address" }
func (addrType) Parse(v Value) (netip.Addr, error) {
	const want = `an address without port ("1.2.3.4", "::1")`
	s, err := scalar(v, want)
	if err != nil {
		return netip.Addr{}, err
	}
	switch s {
	case "*":
		return netip.IPv4Unspecified(), nil
	case "[*]":
		return netip.IPv6Unspecified(), nil
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, bad(want, v.Text)
	}
	return a, nil
}
func (addrType) Format(a netip.Addr) string { return a.String() }

type throttleType struct{}

func (throttleType) Name() string { return "throttle" }
func (throttleType) Parse(v Value) (Throttle, error) {
	const want = `a throttle "count/seconds" such as 100/60`
	s, err := scalar(v, want)
	if err != nil {
		return Throttle{}, err
	}
	countText, perText, slash := strings.Cut(s, "/")
	count, err := strconv.ParseUint(countText, 10, 64)
	if err != nil {
		return Throttle{}, bad(want, s)
	}
	per := uint64(1)
	if slash {
		per, err = strconv.ParseUint(perText, 10, 32)
		if err != nil || per == 0 {
			return Throttle{}, bad(want, s)
		}
	}
	return Throttle{Count: count, Per: time.Duration(per) * time.Second}, nil
}
func (throttleType) Format(t Throttle) string {
	return fmt.Sprintf("%d/%d", t.Count, int64(t.Per/time.Second))
}

type dictType struct{}

func (dictType) Name() string { return "dictionary" }
func (dictType) Parse(v Value) (Dict, error) {
	if v.Kind != DictValue {
		return nil, fmt.Errorf(`expected a dictionary [ key = "value" ], got %s`, kindName(v.Kind))
	}
	d := make(Dict, len(v.Pairs))
	for i, p := range v.Pairs {
		d[i] = DictEntry{Key: p.Key, Value: p.Value.Text}
	}
	return d, nil
}
func (dictType) Format(d Dict) string {
	v := Value{Kind: DictValue}
	for _, e := range d {
		v.Pairs = append(v.Pairs, Pair{Key: e.Key, Value: Value{Text: e.Value}})
	}
	return formatValue(v)
}

type sizeType struct{}

func (sizeType) Name() string { return "size" }
func (sizeType) Parse(v Value) (uint64, error) {
	const want = "a size such as 512, 10k, 5MB or 2GiB"
	s, err := scalar(v, want)
	if err != nil {
		return 0, err
	}
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	t = strings.TrimSuffix(t, "i")
	shift := 0
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			shift = 10
		case 'm':
			shift = 20
		case 'g':
			shift = 30
		case 't':
			shift = 40
		}
		if shift != 0 {
			t = strings.TrimSpace(t[:n-1])
		}
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || n > math.MaxUint64>>shift {
		return 0, bad(want, s)
	}
	return n << shift, nil
}
func (sizeType) Format(n uint64) string { return strconv.FormatUint(n, 10) }

type regexType struct{}

func (regexType) Name() string { return "regular expression" }
func (regexType) Parse(v Value) (*regexp.Regexp, error) {
	s, err := scalar(v, "a regular expression")
	if err != nil {
		return nil, err
	}
	if len(s) >= 2 && s[0] == '/' && s[len(s)-1] == '/' {
		s = s[1 : len(s)-1]
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("expected a regular expression: %v", err)
	}
	return re, nil
}
func (regexType) Format(re *regexp.Regexp) string { return quote(re.String()) }

type arrayType[T any] struct{ elem Type[T] }

func (a arrayType[T]) Name() string { return "array of " + a.elem.Name() }
func (a arrayType[T]) isArray()     {}
func (a arrayType[T]) Parse(v Value) ([]T, error) {
	switch v.Kind {
	case ScalarValue:
		x, err := a.elem.Parse(v)
		if err != nil {
			return nil, err
		}
		return []T{x}, nil
	case ArrayValue:
		out := make([]T, 0, len(v.Items))
		for _, it := range v.Items {
			x, err := a.elem.Parse(it)
			if err != nil {
				// Name the item, not the array, when the item has a position.
				return nil, &Error{Pos: it.Pos, Kind: ErrBadValue, Msg: err.Error()}
			}
			out = append(out, x)
		}
		return out, nil
	}
	return nil, fmt.Errorf("expected an array ( a b c ) of %s, got a dictionary", a.elem.Name())
}
func (a arrayType[T]) Format(xs []T) string {
	var b strings.Builder
	b.WriteByte('(')
	for _, x := range xs {
		b.WriteByte(' ')
		b.WriteString(a.elem.Format(x))
	}
	b.WriteString(" )")
	return b.String()
}
