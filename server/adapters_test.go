// Small adapters the tests share: type aliases, signal values, a hook call and a
// TCP dial with a secret.
package server

import (
	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/control"
	"github.com/ecelerity-go/ecelerity/hooks"
	"golang.org/x/sys/unix"
)

type configSession = config.Session

var (
	hup  = unix.SIGHUP
	term = unix.SIGTERM
)

func hooksCallPoke(reg *hooks.Registry) { hooks.CallVoid1In(pokeHook, reg, true) }

func dialTCP(addr string, secret []byte) (*control.Client, error) {
	return control.DialWith(addr, control.DialOptions{User: "ops", Secret: func() ([]byte, error) { return secret, nil }})
}
