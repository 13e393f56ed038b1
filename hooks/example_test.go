package hooks_test

import (
	"fmt"
	"strings"

	"github.com/ecelerity-go/ecelerity/hooks"
)

// Session stands for an SMTP session in these examples.
type Session struct{ Peer string }

// ValidateEHLO is how a listener module would declare a validation hook in
// its own scope: providers return 0 to go on, or a reply code that stops the
// phase; a provider that panics makes the call return 451.
var ValidateEHLO = hooks.DeclareValued[func(s *Session, helo string) int](
	hooks.Scope("esmtp_example"), "validate_ehlo", hooks.FirstNonZero[int](), 451)

func Example() {
	// conf_setup / ext_init of a generation: register into a private registry.
	reg := hooks.NewRegistry(nil, hooks.Options{})
	_ = ValidateEHLO.RegisterLast(reg, "spf", func(s *Session, helo string) int { return 0 })
	_ = ValidateEHLO.RegisterFirst(reg, "antispam", func(s *Session, helo string) int {
		if strings.HasSuffix(helo, ".invalid") {
			return 550
		}
		return 0
	})
	if err := reg.Seal(); err != nil {
		fmt.Println(err)
		return
	}

	// Commit: the registry becomes the one calls read.
	var cur hooks.Current
	if _, err := cur.Swap(reg); err != nil {
		fmt.Println(err)
		return
	}

	s := &Session{Peer: "192.0.2.1"}
	fmt.Println(ValidateEHLO.Has(&cur))
	fmt.Println(hooks.Call2(ValidateEHLO, &cur, s, "mx.example.com"))
	fmt.Println(hooks.Call2(ValidateEHLO, &cur, s, "host.invalid"))

	d, _ := reg.Show("esmtp_example.validate_ehlo")
	for _, p := range d.Providers {
		fmt.Println(p.Module, p.Position, p.Kind)
	}
	// Output:
	// true
	// 0
	// 550
	// antispam first go
	// spf last go
}

// DKIM is a module instance, rebuilt for each configuration generation.
type DKIM struct{ Selector string }

// DKIMInstance is declared by the dkim module in its own scope. Its only
// provider returns the current generation's DKIM instance, so other modules
// reach it without linking to the module's code.
var DKIMInstance = hooks.DeclareValued[func() *DKIM](
	hooks.Scope("dkim"), "instance", hooks.FirstNonZero[*DKIM](), nil)

// Example_closureLookup shows the closure-lookup idiom: a hook that returns
// the current generation's module instance, which a reload replaces.
func Example_closureLookup() {
	var cur hooks.Current
	reload := func(selector string) {
		reg := hooks.NewRegistry(cur.Load(), hooks.Options{})
		inst := &DKIM{Selector: selector}
		_ = DKIMInstance.RegisterFirst(reg, "dkim", func() *DKIM { return inst })
		_ = reg.OnRetire(func() { fmt.Println("destroyed", inst.Selector) })
		if err := reg.Seal(); err != nil {
			fmt.Println(err)
			return
		}
		prev, _ := cur.Swap(reg)
		if prev != nil {
			_ = prev.Retire()
		}
	}

	reload("s2024")
	fmt.Println("signing with", hooks.Call0(DKIMInstance, &cur).Selector)
	reload("s2025")
	fmt.Println("signing with", hooks.Call0(DKIMInstance, &cur).Selector)
	// Output:
	// signing with s2024
	// destroyed s2024
	// signing with s2025
}
