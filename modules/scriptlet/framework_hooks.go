package scriptlet

import "github.com/ecelerity-go/ecelerity/modules"

// The framework hooks scripts can provide out of the box. A package that declares a hook
// binds it itself, next to the declaration; these are hooks of packages that cannot
// import this one (package modules is imported by this one).
func init() {
	// mod:config_generation_committed(gen): after a configuration generation has been
	// committed and swapped in, with its number. Called on the goroutine that committed
	// (the reload's), never with a Suspender: pool work from it waits there.
	Bind(&modules.Committed.Hook, "", func(p *Provider) func(gen uint64) {
		return func(gen uint64) { p.Call(nil, Int(int64(gen))) }
	})
}
