package sample

import (
	"errors"
	"strings"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/modules"
)

// ConfSetup defines the module's options and registers its process-long hook
// provider. It runs once per process, off the event loop.
func (m *Module) ConfSetup(ctx *modules.SetupCtx) error {
	reg := ctx.Config()
	notBlank := func(s string) error {
		if strings.TrimSpace(s) == "" {
			return errors.New("a greeting may not be blank")
		}
		return nil
	}
	var o options
	var err error
	if o.greeting, err = config.Define(reg, config.Spec[string]{
		Name: "Sample_Greeting", Fallback: "Global", Default: "hello", Validate: notBlank,
	}, config.StringType()); err != nil {
		return err
	}
	if o.domainGreeting, err = config.Define(reg, config.Spec[string]{
		Name: "Sample_Domain_Greeting", Fallback: "Binding:Domain>Domain>Binding>Global",
	}, config.StringType()); err != nil {
		return err
	}
	// The module's own option lives in its stanza: `sample { Verbose = true }`.
	if o.verbose, err = config.Define(reg, config.Spec[bool]{
		Name: "Verbose", Fallback: "[" + Name + "]", Default: "false",
	}, config.BoolType()); err != nil {
		return err
	}
	m.opts = &o
	ctx.SingletonHooks(func(r *hooks.Registry) error {
		return modules.Committed.RegisterLast(r, Name, m.committed, hooks.Singleton())
	})
	return nil
}
