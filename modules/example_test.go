package modules_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/modules"
)

// hello is a minimal non-singleton module with a console command.
type hello struct{}

func (hello) Control(ctx *modules.ControlCtx, args []string) (string, error) {
	return fmt.Sprintf("%s:%s says hello to %v", ctx.Module(), ctx.Instance(), args), nil
}

func ExampleManager() {
	// Built-in modules normally Register from init(); an example keeps its own set.
	b := modules.NewBuiltins()
	b.Register(modules.Info{Name: "hello", New: func() modules.Module { return hello{} }})

	store := config.NewStore(config.NewRegistry(), config.StoreOptions{})
	m, err := modules.New(modules.Options{Store: store, Loaders: []modules.Loader{b.Loader()}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close(context.Background())

	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ecelerity.conf")
	os.WriteFile(path, []byte(`hello "world" { }`+"\n"), 0o600)
	if err := m.Start(context.Background(), path); err != nil {
		fmt.Println(err)
		return
	}
	out, _ := m.Command([]string{"hello:world", "again"})
	fmt.Println(out)
	// Output: hello:world says hello to [again]
}
