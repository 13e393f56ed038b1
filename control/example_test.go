package control_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ecelerity-go/ecelerity/control"
)

// A server with one module-style command, and a client talking to it over a unix socket.
func Example() {
	dir, _ := os.MkdirTemp("", "ctl")
	defer os.RemoveAll(dir)

	reg := control.NewRegistry()
	reg.Register(control.Command{
		Name:  "greet",
		Usage: "greet name...",
		Help:  "Greet someone.",
		Run: func(_ *control.Ctx, args []string) (string, error) {
			return "hello, " + strings.Join(args, " ") + "\n", nil
		},
	})
	srv, err := control.NewServer(control.Config{Registry: reg, Version: func() string { return "4.2.0" }})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	path := filepath.Join(dir, "control.sock")
	if err := srv.ListenUnix(path, 0); err != nil {
		fmt.Println(err)
		return
	}

	c, err := control.Dial(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	out, _ := c.DoWords("greet", "the operator")
	fmt.Print(out)
	_, err = c.Do("nosuch")
	fmt.Println(err)
	// Output:
	// hello, the operator
	// Unknown command "nosuch"; type 'help' for a list.
}
