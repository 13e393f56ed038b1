package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// listenerFallback is the ESMTP listener's per-connection chain, ending in
// Global as issue 10 asks: Peer, then Listen, then the listener, then the
// top level.
const listenerFallback = "ESMTP_Listener:Listen:Peer>ESMTP_Listener:Listen>ESMTP_Listener>Global"

// scopedRegistry is a registry with a daemon-like ThreadPool scope and an
// ESMTP_Listener scope holding Listen and Peer.
func scopedRegistry(t *testing.T) *Registry {
	t.Helper()
	r := NewRegistry()
	for _, d := range []ScopeDef{
		{Keyword: "ThreadPool", Named: true, Parents: []string{"Global"}},
		{Keyword: "Control_Listener", Parents: []string{"Global"}, Children: []string{"Listen"}},
		{Keyword: "ESMTP_Listener", Parents: []string{"Global"}, Children: []string{"Listen", "Peer"}},
	} {
		if err := r.DefineScope(d); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// TestSameNameInDisjointScopes: one option name defined for the thread pools,
// the control listener and the ESMTP listener, none valid where another is;
// each definition gets the values written in its own scopes, the console
// resolves the right one, and a use where none is valid names every place
// the name is valid.
func TestSameNameInDisjointScopes(t *testing.T) {
	r := scopedRegistry(t)
	pool := MustDefine(r, Spec[int64]{Name: "Concurrency", Fallback: "ThreadPool"}, IntType())
	esmtp := MustDefine(r, Spec[int64]{Name: "Concurrency", Fallback: "ESMTP_Listener:Listen>ESMTP_Listener", Default: "100"}, IntType())
	ctlTimeout := MustDefine(r, Spec[int64]{Name: "Timeout", Fallback: "Control_Listener", Default: "60"}, IntType())
	esmtpTimeout := MustDefine(r, Spec[string]{Name: "Timeout", Fallback: "ESMTP_Listener", Default: "5m"}, StringType())

	tree, err := Parse("t.conf", []byte(`
ThreadPool "io" { Concurrency = 4 }
Control_Listener { Timeout = 30 }
ESMTP_Listener {
  Concurrency = 500
  Timeout = 2m
  Listen ":25" { Concurrency = 50 }
}
`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := r.Build(tree)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Release()
	listener, listen := ScopeRef{Keyword: "ESMTP_Listener"}, ScopeRef{Keyword: "Listen", Name: ":25"}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"ThreadPool io", pool.Fetch(g, ScopeRef{Keyword: "ThreadPool", Name: "io"}), int64(4)},
		{"ThreadPool other", pool.Fetch(g, ScopeRef{Keyword: "ThreadPool", Name: "other"}), int64(0)},
		{"ESMTP_Listener", esmtp.Fetch(g, listener), int64(500)},
		{"ESMTP_Listener Listen :25", esmtp.Fetch(g, listener, listen), int64(50)},
		{"ESMTP_Listener Listen :26", esmtp.Fetch(g, listener, ScopeRef{Keyword: "Listen", Name: ":26"}), int64(500)},
		{"Control_Listener Timeout", ctlTimeout.Fetch(g), int64(30)},
		{"ESMTP_Listener Timeout", esmtpTimeout.Fetch(g, listener), "2m"},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}

	s := NewStore(r, StoreOptions{})
	var sess Session
	defer sess.Close()
	for _, c := range []struct {
		args []string
		want string
		err  error
	}{
		{[]string{"set", "ThreadPool", "io", "Concurrency", "8"}, "Set", nil}, // a named module-like scope answers "Set"
		{[]string{"set", "ESMTP_Listener", "Timeout", "x"}, "Timeout = x", nil},
		{[]string{"set", "Control_Listener", "Timeout", "x"}, "", ErrBadValue}, // the control listener's is a number
		{[]string{"eval", "ESMTP_Listener", "Concurrency"}, "Concurrency = 100", nil},
		{[]string{"eval", "ThreadPool", "io", "Concurrency"}, "Concurrency = 8", nil},
		{[]string{"eval", "Control_Listener", "Timeout"}, "Timeout = 60", nil},
		{[]string{"set", "Concurrency", "1"}, "", ErrMisplaced},
	} {
		got, err := s.Command(&sess, c.args)
		if c.err != nil {
			if !errors.Is(err, c.err) {
				t.Errorf("%v: %q, %v; want %v", c.args, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%v: %q, %v; want %q", c.args, got, err, c.want)
		}
	}

	tests := []struct {
		name, src, want string
		kind            error
	}{
		{"valid nowhere here", "Concurrency = 5",
			"t.conf:1:1: option Concurrency is not valid in scope Global (valid in: ThreadPool, ESMTP_Listener:Listen, ESMTP_Listener)", ErrMisplaced},
		{"in the other listener", "Control_Listener { Listen \"/s\" { Concurrency = 5 } }",
			"t.conf:1:34: option Concurrency is not valid in scope Control_Listener Listen \"/s\" (valid in: ThreadPool, ESMTP_Listener:Listen, ESMTP_Listener)", ErrMisplaced},
		{"typo suggests what is valid here", "ESMTP_Listener { Timeot = 1 }",
			"t.conf:1:18: unknown option \"Timeot\" in scope ESMTP_Listener (did you mean Timeout?)", ErrUnknownOption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, err := Parse("t.conf", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = r.Build(tree)
			if !errors.Is(err, tt.kind) || err.Error() != tt.want {
				t.Fatalf("got %v\nwant %s (%v)", err, tt.want, tt.kind)
			}
		})
	}
	if got := r.OptionNames(); strings.Count(strings.Join(got, ","), "Concurrency") != 1 {
		t.Errorf("OptionNames lists Concurrency more than once: %v", got)
	}
}

// TestOverlappingDefinitionsConflict: two definitions of one name that are
// valid in a common scope are an error naming both and the scopes they share,
// whichever comes first; the registry keeps the first.
func TestOverlappingDefinitionsConflict(t *testing.T) {
	tests := []struct {
		name        string
		first, then func(r *Registry) error
		want        string
	}{
		{
			name: "core option, then a module option falling back to Global",
			first: func(r *Registry) error {
				_, err := Define(r, Spec[uint64]{Name: "Max_Message_Size"}, SizeType())
				return err
			},
			then: func(r *Registry) error {
				_, err := Define(r, Spec[uint64]{Name: "Max_Message_Size", Fallback: listenerFallback}, SizeType())
				return err
			},
			want: "config: already defined: option Max_Message_Size of scope ESMTP_Listener (valid in ESMTP_Listener:Listen:Peer, ESMTP_Listener:Listen, ESMTP_Listener, Global)" +
				" overlaps option Max_Message_Size of the core scopes (valid in Global), defined before: both are valid in Global",
		},
		{
			name: "module option falling back to Global, then a core option",
			first: func(r *Registry) error {
				_, err := Define(r, Spec[uint64]{Name: "Max_Message_Size", Fallback: listenerFallback}, SizeType())
				return err
			},
			then: func(r *Registry) error {
				_, err := Define(r, Spec[string]{Name: "max_message_size"}, StringType())
				return err
			},
			want: "config: already defined: option max_message_size of the core scopes (valid in Global)" +
				" overlaps option Max_Message_Size of scope ESMTP_Listener (valid in ESMTP_Listener:Listen:Peer, ESMTP_Listener:Listen, ESMTP_Listener, Global), defined before: both are valid in Global",
		},
		{
			name: "partly overlapping core chains",
			first: func(r *Registry) error {
				_, err := Define(r, Spec[int64]{Name: "Retry", Fallback: "Binding:Domain>Domain"}, IntType())
				return err
			},
			then: func(r *Registry) error {
				_, err := Define(r, Spec[int64]{Name: "Retry", Fallback: "Binding:Domain>Domain>Host"}, IntType())
				return err
			},
			want: "config: already defined: option Retry of the core scopes (valid in Binding:Domain, Domain, Host)" +
				" overlaps option Retry of the core scopes (valid in Binding:Domain, Domain), defined before: both are valid in Binding:Domain, Domain",
		},
		{
			name: "same module scope",
			first: func(r *Registry) error {
				_, err := Define(r, Spec[int64]{Name: "Concurrency", Fallback: "ESMTP_Listener:Listen>ESMTP_Listener"}, IntType())
				return err
			},
			then: func(r *Registry) error {
				_, err := Define(r, Spec[int64]{Name: "Concurrency", Fallback: "ESMTP_Listener"}, IntType())
				return err
			},
			want: "config: already defined: option Concurrency of scope ESMTP_Listener (valid in ESMTP_Listener)" +
				" overlaps option Concurrency of scope ESMTP_Listener (valid in ESMTP_Listener:Listen, ESMTP_Listener), defined before: both are valid in ESMTP_Listener",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := scopedRegistry(t)
			if err := tt.first(r); err != nil {
				t.Fatal(err)
			}
			before := len(r.list)
			err := tt.then(r)
			if !errors.Is(err, ErrDuplicate) || err.Error() != tt.want {
				t.Fatalf("got  %v\nwant %s", err, tt.want)
			}
			if len(r.list) != before {
				t.Errorf("the rejected definition was registered")
			}
		})
	}
}

// TestModuleOptionFallsBackToGlobal: a module option whose chain ends in
// Global may be set at the top level, and the listener, its Listen and its
// Peer scopes see that value until a more specific scope sets one; the
// console sets and evaluates it at every level.
func TestModuleOptionFallsBackToGlobal(t *testing.T) {
	r := scopedRegistry(t)
	size := MustDefine(r, Spec[uint64]{Name: "Max_Message_Size", Fallback: listenerFallback, Default: "0"}, SizeType())
	listener := ScopeRef{Keyword: "ESMTP_Listener"}
	listen := ScopeRef{Keyword: "Listen", Name: ":25"}
	peer := ScopeRef{Keyword: "Peer", Name: "10.0.0.0/8"}
	const k, m = 1 << 10, 1 << 20
	tests := []struct {
		name                   string
		src                    string
		top, lis, lsn, lsnPeer uint64
	}{
		{"default", "", 0, 0, 0, 0},
		{"top level only", "Max_Message_Size = 10M\n", 10 * m, 10 * m, 10 * m, 10 * m},
		{"listener over top level", "Max_Message_Size = 10M\nESMTP_Listener { Max_Message_Size = 5M }\n", 10 * m, 5 * m, 5 * m, 5 * m},
		{"listen and peer", `Max_Message_Size = 10M
ESMTP_Listener {
  Listen ":25" {
    Max_Message_Size = 1M
    Peer "10.0.0.0/8" { Max_Message_Size = 64k }
  }
}
`, 10 * m, 10 * m, 1 * m, 64 * k},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tree, err := Parse("t.conf", []byte(tt.src))
			if err != nil {
				t.Fatal(err)
			}
			g, err := r.Build(tree)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Release()
			for _, c := range []struct {
				where     string
				got, want uint64
			}{
				{"Global", size.Global(g), tt.top},
				{"ESMTP_Listener", size.Fetch(g, listener), tt.lis},
				{"Listen", size.Fetch(g, listener, listen), tt.lsn},
				{"Listen Peer", size.Fetch(g, listener, listen, peer), tt.lsnPeer},
				{"other Listen", size.Fetch(g, listener, ScopeRef{Keyword: "Listen", Name: ":26"}, peer), tt.lis},
			} {
				if c.got != c.want {
					t.Errorf("%s: %d, want %d", c.where, c.got, c.want)
				}
			}
		})
	}

	s := NewStore(r, StoreOptions{})
	var sess Session
	defer sess.Close()
	for _, c := range [][2]string{
		{"set Max_Message_Size 10M", "Max_Message_Size = 10M"},
		{"eval ESMTP_Listener Listen :25 Peer 10.0.0.0/8 Max_Message_Size", "Max_Message_Size = 10M"},
		{"set ESMTP_Listener Listen :25 Max_Message_Size 2M", "Max_Message_Size = 2M"},
		{"eval ESMTP_Listener Listen :25 Peer 10.0.0.0/8 Max_Message_Size", "Max_Message_Size = 2M"},
		{"eval ESMTP_Listener Max_Message_Size", "Max_Message_Size = 10M"},
		{"get Max_Message_Size", "Max_Message_Size = 10M"},
	} {
		if got, err := s.Command(&sess, strings.Fields(c[0])); err != nil || got != c[1] {
			t.Errorf("%s: %q, %v; want %q", c[0], got, err, c[1])
		}
	}
}
