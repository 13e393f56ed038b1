package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ecelerity-go/ecelerity/control"
)

func TestConsoleCommands(t *testing.T) {
	o := newTestOptions(t)
	s := NewStore(o.reg, StoreOptions{})
	tree, err := Parse("c.conf", []byte(`
Memory_HWM = 80
Domain "a.com" { Max_Outbound_Connections = 5 }
ESMTP_Listener { Listen ":25" { Enable = enabled } Relay_Hosts = ( "10.0.0.1" ) }
ec_logger "l" { mainlog = /x }
`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := s.BeginTree(tree).Commit()
	if err != nil {
		t.Fatal(err)
	}
	g.Release()
	var sess Session
	defer sess.Close()
	steps := []struct {
		args string
		want string
		err  error
	}{
		{"get Max_Outbound_Connections", "Option 'Max_Outbound_Connections' is not set in scope ''.", nil},
		{"get Domain a.com max_outbound_connections", "Max_Outbound_Connections = 5", nil},
		{"get Domain b.com Max_Outbound_Connections", "Option 'Max_Outbound_Connections' is not set in scope 'Domain b.com'.", nil},
		{"eval Max_Outbound_Connections", "Max_Outbound_Connections = 20", nil},
		{"eval Binding x Domain a.com Max_Outbound_Connections", "Max_Outbound_Connections = 5", nil},
		{"eval ESMTP_Listener Listen :25 Enable", "Enable = enabled", nil},
		{"eval ESMTP_Listener Listen :26 Enable", "Enable = true", nil},
		{"set Memory_HWM = 90", "Memory_HWM = 90", nil},
		{"set memory_hwm 91", "Memory_HWM = 91", nil},
		{"set ESMTP_Listener Relay_Hosts ( a \"b c\" )", "Relay_Hosts = (\n    a\n    \"b c\"\n  )", nil},
		{"set ec_logger l mainlog /y", "Set", nil},
		{"set Memory_HWM x", "", ErrBadValue},
		{"set Nope 1", "", ErrUnknownOption},
		{"set Domain a.com Spoolbase /x", "", ErrMisplaced},
		{"unset Domain a.com Max_Outbound_Connections", "\"Max_Outbound_Connections\" has been unset. Effective value is now:\n\tMax_Outbound_Connections = 20", nil},
		{"unset", "", ErrUsage},
		{"show ESMTP_Listener", "Relay_Hosts = ( a \"b c\" )\nListen \":25\" { ... }", nil},
		{"showrecurse ESMTP_Listener", "ESMTP_Listener {\n  Relay_Hosts = ( a \"b c\" )\n  Listen \":25\" {\n    Enable = enabled\n  }\n}", nil},
		{"locate Listen", "Listen \":25\"\n  is at ESMTP_Listener::Listen:\\:25:", nil},
		{"locate Domain ^b", "No scope 'Domain' found.", nil},
		{"commit", "", ErrNoTxn},
		{"begin", "Transaction started.", nil},
		{"begin", "", ErrInTxn},
		{"set Memory_HWM 10", "Memory_HWM = 10", nil},
		{"get Memory_HWM", "Memory_HWM = 10", nil},
		{"set Domain z.com Max_Outbound_Connections 2", "Max_Outbound_Connections = 2", nil},
		{"replay", "set Memory_HWM 10\nset Domain z.com Max_Outbound_Connections 2", nil},
		{"reload", "", ErrInTxn},
		{"rollback", "Transaction rolled back.", nil},
		{"get Memory_HWM", "Memory_HWM = 91", nil},
		{"begin from scratch", "Transaction started.", nil},
		{"eval Memory_HWM", "Memory_HWM = 95", nil},
		{"set Spoolbase /s", "Spoolbase = /s", nil},
		{"commit", "Committed: generation 8.", nil},
		{"get Memory_HWM", "Option 'Memory_HWM' is not set in scope ''.", nil},
		{"unset ESMTP_Listener", "", ErrUnknownScope},
		{"frobnicate", "", ErrUsage},
	}
	for _, st := range steps {
		// Split as the control server splits a console line.
		words, err := control.SplitWords(st.args)
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Command(&sess, words)
		if st.err != nil {
			if !errors.Is(err, st.err) {
				t.Errorf("%s: got %q, %v; want %v", st.args, got, err, st.err)
			}
			continue
		}
		if err != nil || got != st.want {
			t.Errorf("%s:\ngot  %q %v\nwant %q", st.args, got, err, st.want)
		}
	}
}

func TestConsoleUnsetScope(t *testing.T) {
	o := newTestOptions(t)
	s := NewStore(o.reg, StoreOptions{})
	var sess Session
	for _, c := range []string{"set Domain a.com Max_Outbound_Connections 3", "unset Domain a.com"} {
		if _, err := s.Command(&sess, strings.Fields(c)); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
	}
	g := s.Current()
	defer g.Release()
	if o.maxOut.Domain(g, "a.com") != 20 || len(g.Tree().Root().Children) != 0 {
		t.Error("unset of a scope left it in place")
	}
}

func TestConsoleRacingSessions(t *testing.T) {
	o := newTestOptions(t)
	s := NewStore(o.reg, StoreOptions{})
	var a, b Session
	for _, c := range []struct {
		sess *Session
		args string
	}{{&a, "begin"}, {&b, "begin"}, {&a, "set Memory_HWM 1"}, {&b, "set Memory_HWM 2"}, {&a, "commit"}} {
		if _, err := s.Command(c.sess, strings.Fields(c.args)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Command(&b, []string{"commit"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second commit: %v", err)
	}
	if b.InTxn() {
		t.Error("a failed commit must end the transaction")
	}
}

// TestConsoleSetKeepsValueWords: `config set` takes its value words as the
// console split them (quotes removed): one word is the value exactly, spaces,
// quotes and comment characters included; several words are an array or a
// dictionary whose items keep their spaces; the compact forms still read.
// The echo and `get` write the value back in config syntax.
func TestConsoleSetKeepsValueWords(t *testing.T) {
	o := newTestOptions(t)
	format := MustDefine(o.reg, Spec[string]{Name: "TimestampFormat"}, StringType())
	listener := ScopeRef{Keyword: "ESMTP_Listener"}
	hosts := func(g *Generation) string { return strings.Join(o.relayHosts.Fetch(g, listener), "|") }
	tests := []struct {
		name   string
		line   string // a console line, split as the control server splits it
		echo   string
		get    string // the reply of get for the same scope and option
		stored func(g *Generation) string
		want   string
		err    error
	}{
		{name: "trailing space after =", line: `set TimestampFormat = "%F "`,
			echo: `TimestampFormat = "%F "`, stored: format.Global, want: "%F "},
		{name: "trailing space without =", line: `set timestampformat "%H:%M "`,
			echo: `TimestampFormat = "%H:%M "`, stored: format.Global, want: "%H:%M "},
		{name: "empty string", line: `set TimestampFormat ""`,
			echo: `TimestampFormat = ""`, stored: format.Global, want: ""},
		{name: "quotes and backslash", line: `set TimestampFormat "a \"q\" \\ b"`,
			echo: `TimestampFormat = "a \"q\" \\ b"`, stored: format.Global, want: `a "q" \ b`},
		{name: "comment character", line: `set TimestampFormat #%F`,
			echo: `TimestampFormat = "#%F"`, stored: format.Global, want: "#%F"},
		{name: "plain word", line: `set Memory_HWM 90`,
			echo: "Memory_HWM = 90", stored: func(g *Generation) string { return fmt.Sprint(o.memHWM.Global(g)) }, want: "90"},
		{name: "array with a spaced item", line: `set ESMTP_Listener Relay_Hosts ( a "b c" )`,
			echo: "Relay_Hosts = (\n    a\n    \"b c\"\n  )", get: `Relay_Hosts = ( a "b c" )`, stored: hosts, want: "a|b c"},
		{name: "compact array", line: `set ESMTP_Listener Relay_Hosts (a b)`,
			echo: "Relay_Hosts = (\n    a\n    b\n  )", get: "Relay_Hosts = ( a b )", stored: hosts, want: "a|b"},
		{name: "one-word array", line: `set ESMTP_Listener Relay_Hosts (x)`,
			echo: "Relay_Hosts = (\n    x\n  )", get: "Relay_Hosts = ( x )", stored: hosts, want: "x"},
		{name: "dict with a spaced value", line: `set ESMTP_Listener Context [ k = "v w" ]`,
			echo: `Context = [ k = "v w" ]`, want: "k=v w",
			stored: func(g *Generation) string {
				var out []string
				for _, e := range o.context.Fetch(g, listener) {
					out = append(out, e.Key+"="+e.Value)
				}
				return strings.Join(out, "|")
			}},
		{name: "spaced word is not a number", line: `set Memory_HWM "9 0"`, err: ErrBadValue},
		{name: "two scalars", line: `set TimestampFormat a b`, err: ErrBadValue},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStore(o.reg, StoreOptions{})
			var sess Session
			defer sess.Close()
			args, err := control.SplitWords(tc.line)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Command(&sess, args)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("got %q, %v; want %v", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.echo {
				t.Fatalf("echo %q, %v; want %q", got, err, tc.echo)
			}
			g := s.Current()
			defer g.Release()
			if got := tc.stored(g); got != tc.want {
				t.Errorf("stored %q, want %q", got, tc.want)
			}
			path, rest := s.splitScopes(args[1:])
			getArgs := []string{"get"}
			for _, r := range path {
				getArgs = append(getArgs, r.Keyword)
			}
			getArgs = append(getArgs, rest[0])
			wantGet := tc.get
			if wantGet == "" {
				wantGet = tc.echo
			}
			if got, err := s.Command(&sess, getArgs); err != nil || got != wantGet {
				t.Errorf("%v = %q, %v; want %q", getArgs, got, err, wantGet)
			}
		})
	}

	// Inside a transaction, replay writes the value so that the console
	// splits it back into the same word.
	s := NewStore(o.reg, StoreOptions{})
	var sess Session
	defer sess.Close()
	for _, args := range [][]string{{"begin"}, {"set", "TimestampFormat", "%F "}} {
		if _, err := s.Command(&sess, args); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := s.Command(&sess, []string{"replay"}); err != nil || got != `set TimestampFormat "%F "` {
		t.Errorf("replay %q, %v", got, err)
	}
}
