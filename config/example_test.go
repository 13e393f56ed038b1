package config_test

import (
	"fmt"
	"strings"

	"github.com/ecelerity-go/ecelerity/config"
)

func Example() {
	reg := config.NewRegistry()
	maxConn := config.MustDefine(reg, config.Spec[int64]{
		Name:     "Max_Outbound_Connections",
		Fallback: "Binding:Domain>Binding>Domain>Global",
		Default:  "20",
	}, config.IntType())

	tree, err := config.Parse("ecelerity.conf", []byte(`
Max_Outbound_Connections = 50
Domain "example.com" { Max_Outbound_Connections = 5 }
Binding "bulk" { Max_Outbound_Connections = 2 }
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	store := config.NewStore(reg, config.StoreOptions{})
	g, err := store.BeginTree(tree).Commit()
	if err != nil {
		fmt.Println(err)
		return
	}
	g.Release()

	cur := store.Current() // held until Release
	defer cur.Release()
	fmt.Println(maxConn.Domain(cur, "example.com"))
	fmt.Println(maxConn.BindingDomain(cur, "bulk", "example.com"))
	fmt.Println(maxConn.BindingDomain(cur, "default", "example.org"))
	// Output:
	// 5
	// 2
	// 50
}

func ExampleStore_Command() {
	reg := config.NewRegistry()
	config.MustDefine(reg, config.Spec[bool]{Name: "Force_Fsync", Default: "false"}, config.BoolType())
	store := config.NewStore(reg, config.StoreOptions{})
	var sess config.Session
	defer sess.Close()
	for _, line := range []string{
		"get Force_Fsync",
		"eval Force_Fsync",
		"set force_fsync enabled",
		"unset Force_Fsync",
	} {
		out, err := store.Command(&sess, strings.Fields(line))
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(out)
	}
	// Output:
	// Option 'Force_Fsync' is not set in scope ''.
	// Force_Fsync = false
	// Force_Fsync = enabled
	// "Force_Fsync" has been unset. Effective value is now:
	// 	Force_Fsync = false
}

func ExampleRegistry_Build() {
	reg := config.NewRegistry()
	config.MustDefine(reg, config.Spec[int64]{Name: "Memory_HWM"}, config.IntType())
	tree, _ := config.Parse("ecelerity.conf", []byte("Memory_HWM = lots\nMemory_HMW = 90\n"))
	_, err := reg.Build(tree)
	fmt.Println(err)
	// Output:
	// 2 errors:
	//	ecelerity.conf:1:14: Memory_HWM: expected an integer, got "lots"
	//	ecelerity.conf:2:1: unknown option "Memory_HMW" in scope Global (did you mean Memory_HWM?)
}
