package modules

import (
	"log/slog"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/ecm"
	"github.com/ecelerity-go/ecelerity/hooks"
)

// Kind says how a module is implemented.
type Kind string

// The module kinds. Only Builtin has a loader in this package; native shared
// objects and Lua modules plug in later through Loader.
const (
	Builtin Kind = "builtin"
	Native  Kind = "native"
	Lua     Kind = "lua"
)

// Mode is the phase an ExtInit call is made for.
type Mode uint8

// The ext_init modes, in the order a generation sees them.
const (
	// Init sets an instance up for a generation being built: fetch options,
	// register (non-singleton) hooks into InitCtx.Hooks. The generation is not
	// live yet, and may still be rejected.
	Init Mode = iota
	// PostInit runs after every instance of the generation succeeded Init, in
	// the same order: the place to look up other modules (through hooks).
	PostInit
	// Destroy ends an instance's part in a generation. For a non-singleton it
	// is the end of the instance; for a singleton it ends only that
	// generation's state (its infrastructure lives on). It is called exactly
	// once per Init call (successful or not), after the last reference to the
	// generation has gone, or at once when the generation was rejected. Its
	// error is logged, not returned to anyone.
	Destroy
)

func (m Mode) String() string {
	switch m {
	case Init:
		return "init"
	case PostInit:
		return "post-init"
	case Destroy:
		return "destroy"
	}
	return "mode?"
}

// Module is a module's infrastructure object, made by Info.New. What it can
// do is found by type assertion on the small interfaces below; a type that
// claims one should say so with a compile-time guard:
//
//	var _ modules.ConfSetuper = (*Module)(nil)
type Module any

// ConfSetuper is implemented by modules with a conf_setup step: defining
// options in ctx.Config() (the module's own scope is defined already),
// memory types, and a singleton's hooks (SetupCtx.SingletonHooks). It runs
// once per process, the first time a reload needs the module, off the event
// loop.
type ConfSetuper interface {
	ConfSetup(ctx *SetupCtx) error
}

// ExtIniter is implemented by modules with ext_init: called for every
// instance of every generation with Init, then PostInit, and later Destroy.
// It runs off the event loop, on the goroutine that builds (or retires) the
// generation.
type ExtIniter interface {
	ExtInit(ctx *InitCtx, mode Mode) error
}

// Controller is implemented by modules with console commands: the console
// line "name[:instance] args..." reaches Control with args. The reply text is
// returned; an error is shown as the reply. Called on the control connection's
// goroutine, with the generation pinned for the call.
type Controller interface {
	Control(ctx *ControlCtx, args []string) (string, error)
}

// Describer is implemented by modules that describe themselves in
// `module list`.
type Describer interface {
	Describe() string
}

// Info is what a loader knows of a module: its name, whether it is a
// singleton, and a constructor. Built-in modules register one from init()
// with Register.
type Info struct {
	// Name is the module's name: its stanza keyword and console scope.
	// Letters, digits, '_' and '-'; compared without case.
	Name string
	// Kind is set by the loader that opened the module.
	Kind Kind
	// Singleton modules have one infrastructure object for the life of the
	// process and an anonymous stanza (`name { }`); the others get a new
	// object per instance per generation and a named stanza (`name "a" { }`).
	Singleton bool
	// New returns a new, inert infrastructure object. It must have no side
	// effects: it may be called for a generation that is then rejected.
	New func() Module
	// Manifest is the module's .ecm text (msys.requires, msys.provides),
	// compiled in; for a built-in module it takes the place of a file in the
	// libexec path. Optional.
	Manifest []byte
}

// Loader opens modules of one kind. Open is given the manifest found for the
// name in the libexec path (nil when there is none) and returns the module's
// Info, or an error saying why it cannot (the module is then reported
// missing with that reason). Loaders are consulted in the order given to the
// Manager; the first that opens a name wins.
type Loader interface {
	Kind() Kind
	Open(name string, found *ecm.Found) (*Info, error)
}

// Lister is implemented by loaders that know their modules without a
// manifest (built-in ones), so that the catalogue lists them.
type Lister interface {
	Names() []string
}

// SetupCtx is handed to ConfSetup. It is valid only during the call.
type SetupCtx struct {
	name       string
	singleton  bool
	privileged bool
	reg        *config.Registry
	log        *slog.Logger
	shared     any
	hooksFn    func(reg *hooks.Registry) error
}

// Module returns the module's name.
func (c *SetupCtx) Module() string { return c.name }

// Singleton reports whether the module is a singleton.
func (c *SetupCtx) Singleton() bool { return c.singleton }

// Privileged reports whether the process is still starting up (conf_setup
// during the first load, before privileges are dropped).
func (c *SetupCtx) Privileged() bool { return c.privileged }

// Config returns the registry to define options in. The module's scope keyword
// (its name) is defined already, anonymous for a singleton and named for a
// non-singleton, so its own options use the fallback "[name]" or "name".
func (c *SetupCtx) Config() *config.Registry { return c.reg }

// Logger returns the module's logger.
func (c *SetupCtx) Logger() *slog.Logger { return c.log }

// SetShared keeps v for the life of the process; every InitCtx and ControlCtx
// of the module returns it from Shared. Non-singleton modules keep their
// option handles there, since conf_setup runs once but their instances are
// made anew for every generation.
func (c *SetupCtx) SetShared(v any) { c.shared = v }

// SingletonHooks gives the function that registers a singleton module's
// process-long hooks. The module system calls it once, into the registry of
// the first generation that includes the module (again into the next one if
// that generation is rejected), and every registration it makes must carry
// hooks.Singleton() so that it is carried into every later generation; the
// module system checks that. Non-singleton modules register in ExtInit
// instead.
func (c *SetupCtx) SingletonHooks(register func(reg *hooks.Registry) error) {
	c.hooksFn = register
}

// InitCtx is handed to ExtInit. It is valid only during the call.
type InitCtx struct {
	module, instance string
	privileged       bool
	gen              *Generation
	log              *slog.Logger
	shared           any
}

// Module returns the module's name.
func (c *InitCtx) Module() string { return c.module }

// Instance returns the instance name; "" for a singleton.
func (c *InitCtx) Instance() string { return c.instance }

// Privileged reports whether the generation is the one built at start-up. It
// is false for every reload.
func (c *InitCtx) Privileged() bool { return c.privileged }

// Generation returns the module generation the call is for.
func (c *InitCtx) Generation() *Generation { return c.gen }

// Config returns the configuration generation the call is for; option values
// fetched from it stay valid while the generation lives.
func (c *InitCtx) Config() *config.Generation { return c.gen.conf }

// Hooks returns the generation's hook registry. During Init and PostInit it is
// open for registration and private to the builder: no live call reads it
// until the generation is swapped in. During Destroy it is retired.
func (c *InitCtx) Hooks() *hooks.Registry { return c.gen.hooks }

// Logger returns the module's logger.
func (c *InitCtx) Logger() *slog.Logger { return c.log }

// Shared returns what ConfSetup kept with SetShared.
func (c *InitCtx) Shared() any { return c.shared }

// ControlCtx is handed to Control. It is valid only during the call.
type ControlCtx struct {
	module, instance string
	gen              *Generation
	shared           any
}

// Module returns the module's name.
func (c *ControlCtx) Module() string { return c.module }

// Instance returns the instance the command addresses; "" for a singleton.
func (c *ControlCtx) Instance() string { return c.instance }

// Generation returns the current generation, pinned for the call.
func (c *ControlCtx) Generation() *Generation { return c.gen }

// Shared returns what ConfSetup kept with SetShared.
func (c *ControlCtx) Shared() any { return c.shared }
