package scriptlet

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ecelerity-go/ecelerity/modules"
)

// ModuleName is the scriptlet module's name: its stanza keyword and console scope.
const ModuleName = "scriptlet"

// Info returns the scriptlet module backed by rt, for the module system's built-in set:
//
//	builtins.Register(rt.Info())
//
// It is not a singleton (its stanza is `scriptlet "scriptlet" { ... }`), but a generation
// may hold only one instance.
func (rt *Runtime) Info() modules.Info {
	return modules.Info{
		Name: ModuleName,
		New:  func() modules.Module { return &scriptletModule{rt: rt} },
	}
}

// scriptletModule is the infrastructure object of a scriptlet instance in one generation.
type scriptletModule struct {
	rt *Runtime
	g  *genState // set by Init
}

var (
	_ modules.ConfSetuper = (*scriptletModule)(nil)
	_ modules.ExtIniter   = (*scriptletModule)(nil)
	_ modules.Controller  = (*scriptletModule)(nil)
	_ modules.Describer   = (*scriptletModule)(nil)
)

// Describe is the module's line in `module list`.
func (m *scriptletModule) Describe() string {
	return "Lua scriptlets: scripts that provide hooks, console commands and timers"
}

// ConfSetup defines the stanza's options and the script scope.
func (m *scriptletModule) ConfSetup(ctx *modules.SetupCtx) error {
	o, err := defineOptions(ctx.Config(), ctx.Module())
	if err != nil {
		return err
	}
	ctx.SetShared(o)
	return nil
}

// ExtInit loads the instance's scripts into a new generation (Init), warms its pool of Lua
// states (PostInit), and closes it when the generation retires (Destroy).
func (m *scriptletModule) ExtInit(ctx *modules.InitCtx, mode modules.Mode) error {
	switch mode {
	case modules.Init:
		return m.init(ctx)
	case modules.PostInit:
		if m.g == nil {
			return nil
		}
		return m.g.seal()
	case modules.Destroy:
		if m.g != nil {
			m.g.destroy()
		}
	}
	return nil
}

func (m *scriptletModule) init(ctx *modules.InitCtx) error {
	o, ok := ctx.Shared().(*options)
	if !ok {
		return fmt.Errorf("scriptlet: conf_setup did not run")
	}
	conf := ctx.Config()
	set := o.settings(conf, ctx.Instance())
	g, err := m.rt.newGen(ctx.Generation(), ctx.Instance(), set, ctx.Hooks())
	if err != nil {
		return err
	}
	m.g = g
	if err := modules.Committed.RegisterLast(ctx.Hooks(), ctx.Module(), func(id uint64) {
		if id == g.id {
			g.commit()
		}
	}); err != nil {
		return err
	}
	srcs, err := m.rt.stanzaScripts(o, conf, ctx.Module(), ctx.Instance(), set.maxScriptSize)
	if err != nil {
		return err
	}
	return g.addScripts(srcs)
}

// Control runs `scriptlet status` and the console commands scripts registered with
// msys.registerControl (`scriptlet <name> args...`).
func (m *scriptletModule) Control(ctx *modules.ControlCtx, args []string) (string, error) {
	g := m.rt.genFor(ctx.Generation())
	if g == nil {
		return "", fmt.Errorf("%w: no scriptlet generation is loaded", ErrClosed)
	}
	return g.control(args)
}

// control dispatches a console command of the generation.
func (g *genState) control(args []string) (string, error) {
	if len(args) == 0 {
		names := append([]string{"status"}, g.controlNames()...)
		return "", fmt.Errorf("%w: usage: scriptlet <command>; commands: %s", ErrUnknownCommand, strings.Join(names, ", "))
	}
	if strings.EqualFold(args[0], "status") {
		return g.status(), nil
	}
	return g.runControl(args)
}

// status renders `scriptlet status`: the generation's scripts, providers with their
// counters and quarantine, console commands, states and persistent tables.
func (g *genState) status() string {
	var b strings.Builder
	rt := g.rt
	g.mu.Lock()
	states, free := g.states, len(g.free)
	timers := len(g.timers)
	g.mu.Unlock()
	st := rt.Stats()
	fmt.Fprintf(&b, "Scriptlet generation %d: %d Lua states (%d free), %d timers\n", g.id, states, free, timers)
	fmt.Fprintf(&b, "Runtime: %d states created, %d errors, %d timeouts\n", st.StatesCreated, st.Errors, st.Timeouts)
	b.WriteString("Scripts:\n")
	for _, sc := range g.scripts {
		reg := "registered"
		if !sc.registered {
			reg = "no registerModule call"
		}
		fmt.Fprintf(&b, "  %-20s %s (%s)\n", sc.name, sc.path, reg)
	}
	b.WriteString("Providers:\n")
	for _, p := range g.providers {
		q := ""
		if p.quarantined.Load() {
			q = "  QUARANTINED"
		}
		fmt.Fprintf(&b, "  %-30s %-30s calls %d errors %d timeouts %d skipped %d%s\n",
			p.Name(), p.hook, p.calls.Load(), p.errors.Load(), p.timeouts.Load(), p.skipped.Load(), q)
	}
	if names := g.controlNames(); len(names) > 0 {
		fmt.Fprintf(&b, "Commands: %s\n", strings.Join(names, ", "))
	}
	rt.mu.Lock()
	names := make([]string, 0, len(rt.persisted))
	for n := range rt.persisted {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) > 0 {
		b.WriteString("Persistent state:\n")
		for _, n := range names {
			fmt.Fprintf(&b, "  %-20s version %d\n", n, rt.persisted[n].version)
		}
	}
	rt.mu.Unlock()
	return b.String()
}

// Quarantined lists the providers of the current generation that are quarantined, as
// "script:method" (for tests and health checks). mg is the generation to look at.
func (rt *Runtime) Quarantined(mg *modules.Generation) []string {
	g := rt.genFor(mg)
	if g == nil {
		return nil
	}
	var out []string
	for _, p := range g.providers {
		if p.quarantined.Load() {
			out = append(out, p.Name())
		}
	}
	return out
}
