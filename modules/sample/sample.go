package sample

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/modules"
)

// Name is the module's name: its stanza keyword and console command.
const Name = "sample"

//go:embed sample.ecm
var manifest []byte

// Greeting is the hook the module declares for others: a provider returns the
// greeting for a domain reached through a binding, or "" to leave the choice
// to the next provider and, in the end, to the configuration. Called on the
// goroutine that asks for a greeting; providers must not block.
var Greeting = hooks.DeclareValued[func(binding, domain string) string](
	hooks.Scope(Name), "greeting", hooks.FirstNonZero[string](), "")

func init() {
	modules.Register(modules.Info{Name: Name, Singleton: true, Manifest: manifest, New: New})
}

// Module is the sample module's infrastructure object. Being a singleton, one
// lives for the whole process.
type Module struct {
	opts *options // set by ConfSetup

	// mu guards gens and commits.
	mu sync.Mutex
	// gens holds each live generation's settings, by generation ID: a new
	// generation is initialised while older ones still serve.
	gens    map[uint64]*settings
	commits []uint64 // generations seen committed, newest last
}

// settings are what Init read from one generation.
type settings struct {
	greeting string
	verbose  bool
}

// The lifecycle steps the module implements.
var (
	_ modules.ConfSetuper = (*Module)(nil)
	_ modules.ExtIniter   = (*Module)(nil)
	_ modules.Controller  = (*Module)(nil)
	_ modules.Describer   = (*Module)(nil)
)

// New returns an inert module: no options, no hooks, nothing started. The
// module system calls it once for a singleton.
func New() modules.Module { return &Module{gens: map[uint64]*settings{}} }

// Describe says what the module is, for `module list`.
func (m *Module) Describe() string { return "example module: greetings per domain" }

// ExtInit runs for every generation: Init keeps the generation's settings,
// PostInit logs them, Destroy forgets them. It runs off the event loop.
func (m *Module) ExtInit(ctx *modules.InitCtx, mode modules.Mode) error {
	id := ctx.Generation().ID()
	switch mode {
	case modules.Init:
		g := ctx.Config()
		s := &settings{greeting: m.opts.greeting.Global(g), verbose: m.opts.verbose.Module(g, "")}
		if strings.TrimSpace(s.greeting) == "" {
			return fmt.Errorf("Sample_Greeting is empty")
		}
		m.mu.Lock()
		m.gens[id] = s
		m.mu.Unlock()
	case modules.PostInit:
		m.mu.Lock()
		s := m.gens[id]
		m.mu.Unlock()
		if s.verbose {
			ctx.Logger().Info("sample ready", "generation", id, "greeting", s.greeting)
		}
	case modules.Destroy:
		m.mu.Lock()
		delete(m.gens, id)
		m.mu.Unlock()
	}
	return nil
}

// Greet returns the greeting for domain reached through binding in g: the
// first non-empty answer of a sample.greeting provider, else the configured
// Sample_Domain_Greeting (binding:domain, domain, binding, global), else
// Sample_Greeting. Any goroutine; g must be held.
func (m *Module) Greet(g *modules.Generation, binding, domain string) string {
	if s := hooks.Call2In(Greeting, g.Hooks(), binding, domain); s != "" {
		return s
	}
	conf := g.Config()
	var s string
	if binding != "" {
		s = m.opts.domainGreeting.BindingDomain(conf, binding, domain)
	} else {
		s = m.opts.domainGreeting.Domain(conf, domain)
	}
	if s != "" {
		return s
	}
	return m.opts.greeting.Global(conf)
}

// Control answers `sample status` and `sample greet DOMAIN [BINDING]`.
func (m *Module) Control(ctx *modules.ControlCtx, args []string) (string, error) {
	g := ctx.Generation()
	switch {
	case len(args) == 1 && args[0] == "status":
		m.mu.Lock()
		defer m.mu.Unlock()
		s := m.gens[g.ID()]
		last := uint64(0)
		if n := len(m.commits); n > 0 {
			last = m.commits[n-1]
		}
		return fmt.Sprintf("generation: %d\ngreeting: %s\nverbose: %v\ngenerations held: %d\ncommits seen: %d (last %d)\n",
			g.ID(), s.greeting, s.verbose, len(m.gens), len(m.commits), last), nil
	case len(args) >= 2 && len(args) <= 3 && args[0] == "greet":
		binding := ""
		if len(args) == 3 {
			binding = args[2]
		}
		return m.Greet(g, binding, args[1]) + "\n", nil
	}
	return "", fmt.Errorf("usage: sample status | sample greet DOMAIN [BINDING]")
}

// committed is the module's provider of config.generation_committed.
func (m *Module) committed(gen uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.commits = append(m.commits, gen)
}

// options are the handles ConfSetup defined.
type options struct {
	greeting       *config.Option[string]
	domainGreeting *config.Option[string]
	verbose        *config.Option[bool]
}
