package esmtp

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// GenerationSource hands out the live module generation; *modules.Manager is
// one.
type GenerationSource interface {
	// Current returns the live generation with a reference the caller
	// releases, or nil when there is none.
	Current() *modules.Generation
}

// Env is what the listener needs from the process that runs it: the module
// system cannot hand a module its loop or pools, so the daemon (or a test)
// provides them.
type Env struct {
	// Loop is the master event loop: every session and listening socket
	// lives on it.
	Loop *sched.Loop
	// Pools run the spool writer (SPOOLIN) and the jobs of suspended
	// validations.
	Pools *threadpool.Manager
	// Generations is the module manager: a new session joins its current
	// generation, a session between transactions moves to it.
	Generations GenerationSource
	// Logs receives R lines and rejections; nil drops them.
	Logs Logs
	// Logger receives the listener's own diagnostics; nil means
	// slog.Default().
	Logger *slog.Logger
	// Version is shown in the greeting; "" means "dev".
	Version string
}

func (e *Env) check() error {
	if e.Loop == nil || e.Pools == nil || e.Generations == nil {
		return fmt.Errorf("%w: Env needs Loop, Pools and Generations", ErrNoRuntime)
	}
	if e.Logger == nil {
		e.Logger = slog.Default()
	}
	if e.Version == "" {
		e.Version = "dev"
	}
	return nil
}

// provided is the process-wide Env of the built-in module registered from
// init: a registry of one entry, guarded by its mutex.
var provided struct {
	mu  sync.Mutex
	env *Env
}

// Provide sets the Env of the built-in ESMTP_Listener module that init
// registers with the process-wide module set. The daemon calls it before the
// module system loads the configuration; a later call affects only modules
// set up afterwards. Any goroutine.
func Provide(env Env) {
	provided.mu.Lock()
	defer provided.mu.Unlock()
	provided.env = &env
}

func providedEnv() (*Env, error) {
	provided.mu.Lock()
	defer provided.mu.Unlock()
	if provided.env == nil {
		return nil, fmt.Errorf("%w: call esmtp.Provide before loading %s", ErrNoRuntime, ModuleName)
	}
	env := *provided.env
	return &env, nil
}

// NewInfo returns the module's Info bound to env, for a module set of one's
// own (modules.NewBuiltins), as tests and embedders use instead of Provide.
func NewInfo(env Env) modules.Info {
	return modules.Info{Name: ModuleName, Singleton: true, New: func() modules.Module {
		e := env
		return &Module{env: &e}
	}}
}

func init() {
	modules.Register(modules.Info{Name: ModuleName, Singleton: true, New: func() modules.Module { return &Module{} }})
}
