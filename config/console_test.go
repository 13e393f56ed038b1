package config

import (
	"errors"
	"strings"
	"testing"
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
		got, err := s.Command(&sess, strings.Fields(st.args))
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
