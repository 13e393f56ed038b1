package modules

import (
	"fmt"
	"strings"
)

// Control runs a console command addressed to a module: args[0] is the
// module's name, "name:instance" for one instance of a non-singleton (the
// instance may be left out when the module has only one), and the rest is
// handed to the instance's Control. The current generation is pinned for the
// call. Any goroutine but the loop (module commands may take their time).
func (m *Manager) Control(args []string) (string, error) {
	if len(args) == 0 {
		return "", fmt.Errorf("%w: empty command", ErrUnknownCommand)
	}
	name, inst, addressed := strings.Cut(args[0], ":")
	g := m.Current()
	if g == nil {
		return "", ErrClosed
	}
	defer g.Release()
	var cands []*instance
	for _, in := range g.units {
		if strings.EqualFold(in.e.name, name) {
			cands = append(cands, in)
		}
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("%w: %q names no loaded module", ErrUnknownCommand, name)
	}
	var target *instance
	switch {
	case addressed:
		for _, in := range cands {
			if in.name == inst {
				target = in
			}
		}
		if target == nil {
			return "", fmt.Errorf("%w: module %s has no instance %q", ErrUnknownCommand, cands[0].e.name, inst)
		}
	case len(cands) == 1:
		target = cands[0]
	default:
		names := make([]string, len(cands))
		for i, in := range cands {
			names[i] = in.label()
		}
		return "", fmt.Errorf("%w: %s has several instances; address one: %s", ErrUnknownCommand, cands[0].e.name, strings.Join(names, ", "))
	}
	c, ok := target.obj.(Controller)
	if !ok {
		return "", fmt.Errorf("%w: module %s has no console commands", ErrUnknownCommand, target.e.name)
	}
	ctx := &ControlCtx{module: target.e.name, instance: target.name, gen: g, shared: target.shared}
	var out string
	err := safeCall(func() error {
		var err error
		out, err = c.Control(ctx, args[1:])
		return err
	})
	if err != nil {
		return out, fmt.Errorf("%s: %w", target.label(), err)
	}
	return out, nil
}

// Command runs the console commands the module system owns: `module list`,
// `generations`, `module dryrun [path]`, and every module's own commands
// (see Control). It returns the reply text. Not on the loop.
func (m *Manager) Command(args []string) (string, error) {
	switch {
	case len(args) == 2 && args[0] == "module" && args[1] == "list":
		return FormatModuleList(m.Modules()), nil
	case len(args) >= 2 && args[0] == "module" && args[1] == "dryrun":
		path := ""
		if len(args) > 2 {
			path = args[2]
		}
		return m.DryRun(path).String(), nil
	case len(args) == 1 && args[0] == "generations":
		return FormatGenerations(m.Generations()), nil
	}
	return m.Control(args)
}
