package native

import "github.com/ecelerity-go/ecelerity/modules"

// The framework hooks native modules can provide out of the box. A package
// that declares a hook binds it itself; these are hooks of packages that
// cannot import this one.
func init() {
	// config.generation_committed(uint64 gen): the generation number as a word.
	Bind(&modules.Committed.Hook, func(p *Provider) func(gen uint64) {
		return func(gen uint64) { p.Call1(Word(gen)) }
	})
}
