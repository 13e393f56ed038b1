package esmtp

import (
	"errors"
	"strings"
	"testing"

	"github.com/ecelerity-go/ecelerity/config"
)

// TestCheckConfig: the names of the listener's Listen and Peer scopes are
// checked without binding anything, each bad one reported with its
// file:line:col; good ones pass.
func TestCheckConfig(t *testing.T) {
	for _, tc := range []struct {
		name, listener string
		want           []string // one per error, in order; none for a good file
	}{
		{"good", `Listen "127.0.0.1:25" { Peer "10.0.0.0/8" { } }  Listen "[::1]:0" { }  Peer "192.0.2.1" { }`, nil},
		{"port out of range", `Listen "127.0.0.1:99999" { }`,
			[]string{`test.conf:3:3: ESMTP_Listener: Listen "127.0.0.1:99999": expected an address with port`}},
		{"no port", `Listen "127.0.0.1" { }`, []string{`test.conf:3:3: ESMTP_Listener: Listen "127.0.0.1"`}},
		{"host name", `Listen "mx.example.com:25" { }`, []string{`test.conf:3:3: ESMTP_Listener: Listen "mx.example.com:25"`}},
		{"negative port", `Listen "127.0.0.1:-1" { }`, []string{`test.conf:3:3: ESMTP_Listener: Listen "127.0.0.1:-1"`}},
		{"listed twice", `Listen "127.0.0.1:25" { }
  Listen "127.0.0.1:025" { }`, []string{`test.conf:4:3: ESMTP_Listener: Listen "127.0.0.1:025": address listed twice`}},
		{"bad peers", `Peer "10.0.0.0/33" { }
  Listen "127.0.0.1:25" { Peer "not-an-address" { } }`, []string{
			`test.conf:3:3: ESMTP_Listener: Peer "10.0.0.0/33": bad CIDR`,
			`test.conf:4:27: ESMTP_Listener: Peer "not-an-address": bad address`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text := "Domain \"example.com\" { }\nESMTP_Listener {\n  " + tc.listener + "\n}\n"
			tree, err := config.Parse("test.conf", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			err = CheckConfig(tree)
			var list config.ErrorList
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("CheckConfig = %v, want nil", err)
				}
				return
			}
			if !errors.As(err, &list) || len(list) != len(tc.want) {
				t.Fatalf("CheckConfig = %v, want %d errors", err, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(list[i].Error(), w) || !errors.Is(list[i], config.ErrBadValue) {
					t.Errorf("error %d = %q, want prefix %q and ErrBadValue", i, list[i], w)
				}
			}
		})
	}
}

// TestBadListenRejectsGeneration: a generation with a bad Listen is rejected
// before anything is bound, with the scope's position.
func TestBadListenRejectsGeneration(t *testing.T) {
	s := startServer(t, conf(""), nil)
	err := s.tryReload(strings.Replace(conf(""), `Listen "127.0.0.1:0"`, `Listen "127.0.0.1:99999"`, 1))
	if err == nil || !strings.Contains(err.Error(), `ecelerity.conf:7:3: ESMTP_Listener: Listen "127.0.0.1:99999"`) {
		t.Fatalf("reload = %v, want the Listen's position", err)
	}
}
