package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/control"
	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// errUsage is the reply to a command with the wrong arguments.
var errUsage = errors.New("usage")

func usage(c string) error { return fmt.Errorf("%w: %s", errUsage, c) }

// commands returns the console commands the server adds to the control registry
// (help, version, pid and quit are the control package's own). Commands without
// Blocking run on the master loop; see the package comment.
func (s *Server) commands() []control.Command {
	cmds := []control.Command{
		{Name: "sysinfo", Help: "Show the version, build date, product, OS release and uname.", Blocking: true,
			Run: func(*control.Ctx, []string) (string, error) { return sysinfoText(), nil }},
		{Name: "summary", Usage: "summary [reset]", Help: "Show the summary statistics, or reset the counters.",
			Run: s.cmdSummary, Complete: fixed("reset")},
		{Name: "shutdown", Help: "Stop the server cleanly; new connections are refused.", Mutating: true,
			Run: func(*control.Ctx, []string) (string, error) { s.requestShutdown(); return "Shutting down.\n", nil }},
		{Name: "paniclog", Help: "Show the last paniclog entries of each level.",
			Run: func(*control.Ctx, []string) (string, error) {
				var b strings.Builder
				s.plog.WriteRecent(&b)
				return b.String(), nil
			}},
		{Name: "reopen logs", Help: "Reopen every log file (after rotation).", Blocking: true, Mutating: true,
			Run: func(*control.Ctx, []string) (string, error) {
				if err := s.logs.Reopen(); err != nil {
					return "", err
				}
				return "Logs reopened.\n", nil
			}},
		{Name: "write config", Usage: "write config [path]", Help: "Print the running configuration, or write it to a file.\nIncluded files are not copied: the include directives are kept.",
			Blocking: true, Mutating: true, Run: s.cmdWriteConfig},
		{Name: "config", Usage: "config get|eval|set|unset|show|showrecurse|locate|begin|commit|rollback|replay|writeback ...",
			Help: "The configuration commands; `help config reload` for reload.", Blocking: true, Mutating: true,
			Run: s.cmdConfig, Complete: fixed("get", "eval", "set", "unset", "show", "showrecurse", "locate", "begin", "commit", "rollback", "replay", "writeback")},
		{Name: "config reload", Usage: "config reload [path]", Help: "Re-read the configuration file (or path) into a new generation; on failure the running one stays.",
			Blocking: true, Mutating: true, Run: s.cmdReload},
		{Name: "memory", Usage: "memory [type]", Help: "Show the memory types and their use.", Run: s.cmdMemory,
			Complete: func([]string) []string { return s.memNames() }},
		{Name: "threads", Usage: "threads [stats | <pool> queue]", Help: "Show the thread pools, or the jobs queued in one.", Run: s.cmdThreads,
			Complete: func(args []string) []string {
				if len(args) <= 1 {
					out := []string{"stats"}
					for _, p := range s.pools.Stats() {
						out = append(out, strings.ToLower(p.Name))
					}
					return out
				}
				return []string{"queue"}
			}},
		{Name: "module list", Help: "List the modules: kind, state, instances, and the Lua modules native ones shadow.", Blocking: true,
			Run: func(*control.Ctx, []string) (string, error) { return s.moduleList(), nil }},
		{Name: "native list", Help: "List the native libraries loaded: the current load of each file (cached) and older loads still in use (orphan).",
			Blocking: true,
			Run: func(_ *control.Ctx, args []string) (string, error) {
				if len(args) != 0 {
					return "", usage("native list")
				}
				return s.ext.libraries(), nil
			}},
		{Name: "module dryrun", Usage: "module dryrun [path]", Help: "Show what a reload of the file would change and every error, without reloading.", Blocking: true,
			Run: func(_ *control.Ctx, args []string) (string, error) {
				if len(args) > 1 {
					return "", usage("module dryrun [path]")
				}
				return s.mods.DryRun(strings.Join(args, "")).String(), nil
			}},
		{Name: "module hooks", Help: "List every hook with its provider signature.", Run: s.cmdModuleHooks},
		{Name: "hooks show", Usage: "hooks show NAME", Help: "Show a hook's providers in call order, with their counters.", Run: s.cmdHooksShow,
			Complete: func([]string) []string {
				var out []string
				if reg := s.mods.Hooks().Load(); reg != nil {
					for _, h := range reg.List() {
						out = append(out, h.FullName())
					}
				}
				return out
			}},
		// Blocking: the ESMTP listener's session counts are behind its lock, which
		// its generation set-up holds while it binds; the loop must not wait on it.
		{Name: "generations", Help: "List the live generations, their age, the references they hold and the ESMTP sessions on each.",
			Blocking: true,
			Run: func(*control.Ctx, []string) (string, error) {
				return formatGenerations(s.mods.Generations(), s.listenerSessions()), nil
			}},
	}
	cmds = append(cmds, s.spoolCommands()...)
	// The read-only members of the config family are commands of their own, so that
	// the audit log records only the ones that change something.
	for _, sub := range []string{"get", "eval", "show", "showrecurse", "locate", "replay"} {
		cmds = append(cmds, control.Command{
			Name: "config " + sub, Usage: "config " + sub + " ...", Help: "See `help config`.", Blocking: true, Hidden: true,
			Run: func(ctx *control.Ctx, args []string) (string, error) {
				return s.cmdConfig(ctx, append([]string{sub}, args...))
			},
		})
	}
	for i := range cmds {
		run := cmds[i].Run
		cmds[i].Run = func(ctx *control.Ctx, args []string) (string, error) {
			s.stats.commands.Add(1)
			return run(ctx, args)
		}
	}
	return cmds
}

func fixed(words ...string) func([]string) []string {
	return func([]string) []string { return words }
}

// moduleList renders `module list`: the module system's blocks, each native module's
// followed by the Lua module of the same name it shadows, if any.
func (s *Server) moduleList() string {
	var b strings.Builder
	for _, st := range s.mods.Modules() {
		b.WriteString(modules.FormatModuleList([]modules.ModuleStatus{st}))
		b.WriteString(s.ext.shadows(st))
	}
	return b.String()
}

// cmdSummary shows `Summary Statistics`, Momentum's block of `Label: value` lines.
func (s *Server) cmdSummary(_ *control.Ctx, args []string) (string, error) {
	now := s.now()
	switch {
	case len(args) == 1 && strings.EqualFold(args[0], "reset"):
		s.stats.reset(now)
		return "Summary statistics reset.\n", nil
	case len(args) != 0:
		return "", usage("summary [reset]")
	}
	v, resetAt := s.stats.sinceReset()
	var queued, busy, threads int
	for _, p := range s.pools.Stats() {
		queued += p.Queued
		busy += p.Busy
		threads += p.Threads
	}
	g := s.mods.Current()
	gen := g.ID()
	g.Release()
	rows := []struct {
		label string
		value any
	}{
		{"Version", Version()},
		{"Current Generation", gen},
		{"Generations Alive", len(s.mods.Generations())},
		{"Messages Received", v[3]},
		{"Messages Rejected", v[4]},
		{"Reloads Succeeded", v[0]},
		{"Reloads Failed", v[1]},
		{"Console Commands", v[2]},
		{"Thread Pool Jobs Queued", queued},
		{"Thread Pool Jobs Running", busy},
		{"Thread Pool Threads", threads},
		{"Event Loop Iterations", s.loop.Stats().Iterations},
		{"Statistics Last Reset", fmt.Sprintf("%s (%d seconds ago)", resetAt.Format(time.RFC1123), uptime(now.Sub(resetAt)))},
		{"Uptime", uptime(now.Sub(s.startedAt))},
	}
	var b strings.Builder
	b.WriteString("Summary Statistics\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%28s: %v\n", r.label, r.value)
	}
	return b.String(), nil
}

// cmdWriteConfig prints the running configuration's main file, include directives
// kept, or writes it atomically to path.
func (s *Server) cmdWriteConfig(_ *control.Ctx, args []string) (string, error) {
	if len(args) > 1 {
		return "", usage("write config [path]")
	}
	g := s.store.Current()
	text := g.Tree().String()
	g.Release()
	if len(args) == 0 {
		return text, nil
	}
	path, err := filepath.Abs(args[0])
	if err != nil {
		return "", err
	}
	if err := writeFileAtomic(path, []byte(text), 0o644); err != nil {
		return "", err
	}
	return fmt.Sprintf("Configuration written to %s\n", path), nil
}

// writeFileAtomic writes data to a temporary file beside path, syncs it and renames
// it over path, so that a reader never sees half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// cmdConfig runs the config family with the connection's session. `config reload`
// is a command of its own (cmdReload): it goes through the module system.
func (s *Server) cmdConfig(ctx *control.Ctx, args []string) (string, error) {
	return s.sessions.run(ctx.Conn, ctx.OnClose, func(sess *config.Session) (string, error) {
		return s.store.Command(sess, args)
	})
}

// cmdReload is `config reload [path]`, the same path as SIGHUP.
func (s *Server) cmdReload(ctx *control.Ctx, args []string) (string, error) {
	if len(args) > 1 {
		return "", usage("config reload [path]")
	}
	if s.sessions.inTxn(ctx.Conn) {
		return "", fmt.Errorf("%w: commit or roll back first", config.ErrInTxn)
	}
	if err := s.Reload(ctx.Context(), strings.Join(args, "")); err != nil {
		return "", err
	}
	g := s.mods.Current()
	defer g.Release()
	return fmt.Sprintf("Configuration reloaded: generation %d.\n", g.ID()), nil
}

func (s *Server) cmdMemory(_ *control.Ctx, args []string) (string, error) {
	if len(args) > 1 {
		return "", usage("memory [type]")
	}
	var b strings.Builder
	if err := s.mem.WriteMemory(&b, strings.Join(args, "")); err != nil {
		return "", err
	}
	return b.String(), nil
}

func (s *Server) memNames() []string {
	var out []string
	for _, st := range s.mem.Snapshot() {
		out = append(out, st.Name)
	}
	return out
}

func (s *Server) cmdThreads(_ *control.Ctx, args []string) (string, error) {
	var b strings.Builder
	switch {
	case len(args) == 0 || len(args) == 1 && strings.EqualFold(args[0], "stats"):
		if err := threadpool.WriteStats(&b, s.pools.Stats()); err != nil {
			return "", err
		}
	case len(args) == 2 && strings.EqualFold(args[1], "queue"):
		q, err := s.pools.Queue(args[0])
		if err != nil {
			return "", err
		}
		if err := threadpool.WriteQueue(&b, q); err != nil {
			return "", err
		}
	default:
		return "", usage("threads [stats | <pool> queue]")
	}
	return b.String(), nil
}

// cmdModuleHooks lists every hook with its provider signature on the next line,
// indented by a tab, as Momentum lists C prototypes.
func (s *Server) cmdModuleHooks(_ *control.Ctx, args []string) (string, error) {
	if len(args) != 0 {
		return "", usage("module hooks")
	}
	reg := s.mods.Hooks().Load()
	if reg == nil {
		return "", nil
	}
	var b strings.Builder
	for _, h := range reg.List() {
		fmt.Fprintf(&b, "%s\n\t%s\n", h.FullName(), h.Signature)
	}
	return b.String(), nil
}

// cmdHooksShow shows one hook: its signature, policy, counters and providers in call
// order.
func (s *Server) cmdHooksShow(_ *control.Ctx, args []string) (string, error) {
	if len(args) != 1 {
		return "", usage("hooks show NAME")
	}
	reg := s.mods.Hooks().Load()
	if reg == nil {
		return "", errors.New("no hook registry is installed")
	}
	d, err := reg.Show(args[0])
	if err != nil {
		return "", err
	}
	return formatHook(d), nil
}

func formatHook(d hooks.HookDetail) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Hook: %s\n", d.FullName())
	fmt.Fprintf(&b, "  Signature: %s\n", d.Signature)
	if d.Valued {
		fmt.Fprintf(&b, "  Policy: %s (failure value %s)\n", d.Policy, d.Failure)
	}
	st := d.Stats
	fmt.Fprintf(&b, "  Calls: %d  Short-circuits: %d  Panics: %d  Estimated time: %v\n",
		st.Calls, st.ShortCircuits, st.Panics, st.EstimatedTime())
	if len(d.Providers) == 0 {
		b.WriteString("  No providers.\n")
		return b.String()
	}
	b.WriteString("  Providers, in call order:\n")
	for i, p := range d.Providers {
		fmt.Fprintf(&b, "    %d. %s (%s, %s", i+1, p.Module, p.Kind, p.Position)
		if p.Singleton {
			b.WriteString(", singleton")
		}
		fmt.Fprintf(&b, ") at %s\n", p.Site)
		if len(p.Before) > 0 || len(p.After) > 0 {
			fmt.Fprintf(&b, "       before: %s  after: %s\n", strings.Join(p.Before, " "), strings.Join(p.After, " "))
		}
		avg := time.Duration(0)
		if p.Stats.SampledCalls > 0 {
			avg = p.Stats.SampledTime / time.Duration(p.Stats.SampledCalls)
		}
		fmt.Fprintf(&b, "       calls: %d  short-circuits: %d  panics: %d  mean time: %v\n",
			p.Stats.Calls, p.Stats.ShortCircuits, p.Stats.Panics, avg)
	}
	return b.String()
}

// moduleRouter routes `name[:instance] args...` to the module system. Its methods
// run on the master loop (the control Executor); the command it returns is Blocking,
// so the module's Control runs on the connection's goroutine, as the module system
// requires.
type moduleRouter struct{ s *Server }

var _ control.Modules = moduleRouter{}

// Route reports whether the current generation has the module (and instance).
func (r moduleRouter) Route(module, instance string, _ []string) (control.Command, bool) {
	g := r.s.mods.Current()
	if g == nil {
		return control.Command{}, false
	}
	defer g.Release()
	found := false
	for _, name := range g.Modules() {
		mod, inst, _ := strings.Cut(name, ":")
		if strings.EqualFold(mod, module) && (instance == "" || inst == instance) {
			found = true
			break
		}
	}
	if !found {
		return control.Command{}, false
	}
	target := module
	if instance != "" {
		target += ":" + instance
	}
	return control.Command{
		Name:     module,
		Usage:    module + "[:instance] command...",
		Help:     "The module's own commands.",
		Blocking: true,
		Mutating: true,
		Run: func(_ *control.Ctx, args []string) (string, error) {
			r.s.stats.commands.Add(1)
			return r.s.mods.Control(append([]string{target}, args...))
		},
	}, true
}

// Names lists the modules of the current generation, for completion.
func (r moduleRouter) Names() []string {
	g := r.s.mods.Current()
	if g == nil {
		return nil
	}
	defer g.Release()
	seen := map[string]bool{}
	var out []string
	for _, name := range g.Modules() {
		mod, _, _ := strings.Cut(name, ":")
		if !seen[mod] {
			seen[mod] = true
			out = append(out, mod)
		}
	}
	return out
}
