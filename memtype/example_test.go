package memtype_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/ecelerity-go/ecelerity/memtype"
)

type connection struct {
	fd    int
	state uint8
}

func Example() {
	// A module registers its types once, in conf_setup. Real modules use
	// memtype.Default(); an example keeps its own registry.
	reg := memtype.NewRegistry(memtype.Options{Report: func(error) {}})
	conns, err := memtype.NewFixed[connection](reg, "example:connection")
	if err != nil {
		panic(err)
	}
	strs, _ := reg.Register(memtype.Spec{Name: "example:string"})

	c := conns.Get()
	c.fd = 7
	greeting, _ := strs.Strdup("220 ready")

	// Freeing with the wrong type is caught and leaves the memory alone.
	other, _ := reg.Register(memtype.Spec{Name: "example:other"})
	err = other.Free(greeting)
	fmt.Println(errors.Is(err, memtype.ErrWrongType))

	reg.WriteMemory(os.Stdout, "example:string")
	strs.Free(greeting)
	conns.Put(c)
	// Output:
	// true
	//                    memory type | current bytes | peak bytes | mmap count/peak/current %
	// -------------------------------+---------------+------------+--------------------------
	//                 example:string |             9 |          9 |                  0/0/0.0%
	// -------------------------------+---------------+------------+--------------------------
	//                          total |             9
}
