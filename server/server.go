package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/control"
	"github.com/ecelerity-go/ecelerity/hooks"
	"github.com/ecelerity-go/ecelerity/logging"
	"github.com/ecelerity-go/ecelerity/memtype"
	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/modules/esmtp"
	"github.com/ecelerity-go/ecelerity/modules/scriptlet"
	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// DefaultShutdownTimeout bounds a graceful shutdown: draining pools, destroying
// module instances and stopping the loop.
const DefaultShutdownTimeout = 30 * time.Second

// Options configure a Server: what the command line says.
type Options struct {
	// ConfigPath is the configuration file (-c). Empty runs on the embedded default
	// configuration, written to DefaultConfigName in the default control directory
	// so that reload and writeback have a file.
	ConfigPath string
	// DefaultESMTPListen is the address of the ESMTP listener in the embedded
	// default configuration (ConfigPath empty); empty means DefaultESMTPListen.
	// cmd/ecelerity takes it from ECELERITY_ESMTP_LISTEN, so that tests and a
	// second daemon on one machine do not contend for port 2525.
	DefaultESMTPListen string
	// Foreground (-d) copies every paniclog line to Stderr with the TimestampFormat.
	Foreground bool
	// PidFile (-p) is held locked while the server runs; empty means none.
	PidFile string
	// Libexec (-L) lists the directories scanned for .ecm manifests.
	Libexec []string
	// Stderr receives foreground log lines, and every line while no paniclog file is
	// configured; nil means os.Stderr.
	Stderr io.Writer
	// Loaders open modules. Nil means the server's own chain: the built-in Go modules
	// of Builtins plus the scriptlet module, native modules (X.so beside X.ecm in the
	// libexec path), then Lua modules (X.lua in libexec/lua, or beside X.ecm). Given
	// loaders are used as they are, and the server then makes no scriptlet runtime
	// and no native loader.
	Loaders []modules.Loader
	// Builtins are the built-in Go modules of the server's own loader chain; nil
	// means the process-wide set (modules registered from init). The set is copied.
	Builtins *modules.Builtins
	// MemTypes is the memory type registry shown by `memory`; nil means
	// memtype.Default().
	MemTypes *memtype.Registry
	// ShutdownTimeout bounds a graceful shutdown; 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Notify sends readiness states to the service manager; nil means sd_notify
	// (a no-op unless NOTIFY_SOCKET is set).
	Notify func(state string) error
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// state is where a Server is in its life.
type state int32

const (
	stateNew state = iota
	stateStarting
	stateRunning
	stateStopping
	stateStopped
)

// Server is one ecelerity daemon; see the package comment. Create it with New.
// Start, Reload and Shutdown may be called from any goroutine but the master loop's.
type Server struct {
	opts      Options
	stderr    io.Writer
	now       func() time.Time
	startedAt time.Time
	state     atomic.Int32

	plog  *logging.Paniclog
	logs  *logging.Logs
	store *config.Store
	core  *coreOptions
	mem   *memtype.Registry

	loop     *sched.Loop
	loopDone chan struct{}
	loopErr  error // written before loopDone closes

	pools *threadpool.Manager
	mods  *modules.Manager
	ext   *extensions // nil when Options.Loaders were given
	ctl   *control.Server

	promReg    *prometheus.Registry
	metricsSrv *http.Server
	metricsLn  net.Listener

	pid        *pidFile
	configPath string

	stats    counters
	sessions sessions
	settings atomic.Pointer[coreSettings] // of the current generation

	// listening describes the bound endpoints for the ready line and the tests.
	listening []string

	stopOnce  sync.Once
	stopReq   chan struct{} // closed by the `shutdown` command
	reqOnce   sync.Once
	shutdownE error

	// controlStopped, when set (by tests), is called by the teardown once it is
	// done with the control listener, on the teardown's goroutine.
	controlStopped func()
}

// builtins returns the built-in modules of the server's own loader chain.
func (o Options) builtins() *modules.Builtins {
	if o.Builtins != nil {
		return o.Builtins
	}
	return modules.DefaultBuiltins()
}

// New checks opts and prepares a server; nothing runs until Start.
func New(opts Options) (*Server, error) {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MemTypes == nil {
		opts.MemTypes = memtype.Default()
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.Notify == nil {
		opts.Notify = systemdNotify
	}
	s := &Server{opts: opts, stderr: opts.Stderr, now: opts.Now, mem: opts.MemTypes, stopReq: make(chan struct{})}
	// Until a paniclog file is configured every line goes to stderr, so start-up
	// problems are seen; Apply turns that off when a file takes over (unless -d).
	s.plog = logging.NewPaniclog(logging.PaniclogOptions{Now: opts.Now, Stderr: opts.Stderr})
	s.logs = logging.NewLogs(s.plog)
	s.promReg = prometheus.NewRegistry()
	s.sessions.m = map[uint64]*session{}
	return s, nil
}

// Paniclog returns the server's paniclog.
func (s *Server) Paniclog() *logging.Paniclog { return s.plog }

// Logs returns the server's logs: the ESMTP listener writes its R lines through
// Logs().Mainlog and its rejections through Logs().Rejectlog.
func (s *Server) Logs() *logging.Logs { return s.logs }

// Metrics returns the Prometheus registry the metrics endpoint serves, for listeners
// to add their own collectors (sessions, messages).
func (s *Server) Metrics() *prometheus.Registry { return s.promReg }

// Counters returns the counters that listeners add to; `summary` and the metrics
// show them.
func (s *Server) Counters() *Counters { return &s.stats.pub }

// Loop returns the master loop (nil before Start).
func (s *Server) Loop() *sched.Loop { return s.loop }

// Modules returns the module manager (nil before Start).
func (s *Server) Modules() *modules.Manager { return s.mods }

// Pools returns the thread pools (nil before Start).
func (s *Server) Pools() *threadpool.Manager { return s.pools }

// ConfigPath returns the configuration file the server runs on.
func (s *Server) ConfigPath() string { return s.configPath }

// Listening returns the bound endpoints, as the ready line lists them.
func (s *Server) Listening() []string { return append([]string(nil), s.listening...) }

// ShutdownRequested returns a channel closed when the console asked for a shutdown.
func (s *Server) ShutdownRequested() <-chan struct{} { return s.stopReq }

// LoopDone returns a channel closed when the master loop has returned.
func (s *Server) LoopDone() <-chan struct{} { return s.loopDone }

// requestShutdown is what the `shutdown` command does: the command may not close the
// control server it runs in, so it tells Run.
func (s *Server) requestShutdown() { s.reqOnce.Do(func() { close(s.stopReq) }) }

func (s *Server) logf(l logging.Level, format string, args ...any) {
	s.plog.Logf(l, "", format, args...)
}

// Start brings the server up, in order: the pidfile, a check that no live server
// owns the control sockets, the master loop, the thread pools, generation 1 built
// with the privileged flag (modules discovered in the libexec path; the ESMTP
// listener, given this server's loop, pools and logs first, binds its addresses
// there), the control and metrics listeners, then one log line saying what it
// listens on (mail addresses and spool included) and READY=1 to the service manager. On any error what was started is stopped again and the error says
// why.
func (s *Server) Start(ctx context.Context) (err error) {
	if !s.state.CompareAndSwap(int32(stateNew), int32(stateStarting)) {
		return fmt.Errorf("%w: Start called twice", ErrState)
	}
	s.startedAt = s.now()
	s.stats.reset(s.startedAt)
	defer func() {
		if err != nil {
			s.teardown(context.Background())
			s.state.Store(int32(stateStopped))
		}
	}()

	path, err := s.resolveConfigPath()
	if err != nil {
		return err
	}
	s.configPath = path
	if s.opts.PidFile != "" {
		pid, stale, err := acquirePidFile(s.opts.PidFile)
		if err != nil {
			return err
		}
		s.pid = pid
		if stale {
			s.logf(logging.Notice, "replaced the stale pidfile %s left by a process that is gone", s.opts.PidFile)
		}
	}
	// A file that does not parse is left to the real load, which reports it properly.
	tree, _ := config.ParseFile(path)
	if err := preflightControl(tree); err != nil {
		return err
	}

	s.store = config.NewStore(config.NewRegistry(), config.StoreOptions{
		Path: path,
		Warn: func(msg string) { s.logf(logging.Warning, "%s", msg) },
	})
	if s.core, err = defineCore(s.store.Registry()); err != nil {
		return err
	}

	if s.loop, err = sched.New(sched.Options{}); err != nil {
		return fmt.Errorf("server: master loop: %w", err)
	}
	s.loopDone = make(chan struct{})
	go func() {
		defer close(s.loopDone)
		s.loopErr = s.loop.Run()
	}()

	s.pools = threadpool.NewManager(threadpool.Options{Loop: s.loop, Logger: s.plog.Logger("threadpool")})
	listenerEnv := s.esmtpEnv()
	loaders := s.opts.Loaders
	if loaders != nil {
		// The given loaders may open the process-wide ESMTP listener, which reads
		// its Env from esmtp.Provide; it must have it before generation 1.
		esmtp.Provide(listenerEnv)
	} else {
		dir, err := nativeRuntimeDir(tree, path, s.opts.PidFile)
		if err != nil {
			return err
		}
		s.ext = newExtensions(extOptions{
			builtins: bindListener(s.opts.builtins(), listenerEnv), loop: s.loop, pools: s.pools, store: s.store, mem: s.mem,
			scriptLog: s.plog.Logger(scriptlet.ModuleName), nativeLog: s.plog.Logger("native"), prefixed: true,
			configDir: filepath.Dir(path), libexec: s.opts.Libexec, runtimeDir: dir,
		})
		loaders = s.ext.loaders
	}
	s.mods, err = modules.New(modules.Options{
		Store:       s.store,
		Loop:        s.loop,
		HookOptions: hooks.Options{Logger: s.plog.Logger("hooks")},
		Loaders:     loaders,
		Libexec:     s.opts.Libexec,
		Logger:      s.plog.Logger("modules"),
		Now:         s.now,
	})
	if err != nil {
		return fmt.Errorf("server: module manager: %w", err)
	}
	s.ext.attach(s.mods)
	for _, p := range s.mods.ScanProblems() {
		s.logf(logging.Warning, "libexec: skipped a malformed manifest: %v", p)
	}
	s.store.AddParticipant(&coreParticipant{s: s})
	if err := s.mods.Start(ctx, path); err != nil {
		return fmt.Errorf("%w: %s: %w", ErrConfig, path, err)
	}
	if s.ext != nil && s.ext.nativeErr != nil {
		// After generation 1, so that the line is in the configured paniclog.
		s.logf(logging.Error, "native modules unavailable: %v", s.ext.nativeErr)
	}

	set := s.settings.Load()
	if err := s.startControl(set); err != nil {
		return err
	}
	if err := s.startMetrics(set); err != nil {
		return err
	}
	mail, spool := s.listenerReady(set)
	s.listening = append(s.listening, mail...)
	s.state.Store(int32(stateRunning))
	g := s.mods.Current()
	about := fmt.Sprintf("pid %d, generation %d, config %s", os.Getpid(), g.ID(), path)
	g.Release()
	if spool != "" {
		// Named beside the config: on the embedded default the spool is in a
		// directory of the user's, and the operator must learn which.
		about += ", spool " + spool
	}
	s.logf(logging.Notice, "ecelerity %s ready (%s): listening on %s", Version(), about, strings.Join(s.listening, ", "))
	s.notify(notifyReady)
	return nil
}

// resolveConfigPath returns the configuration file to load, writing the embedded
// default when none was given.
func (s *Server) resolveConfigPath() (string, error) {
	if s.opts.ConfigPath != "" {
		return filepath.Abs(s.opts.ConfigPath)
	}
	dir, err := control.DefaultDir()
	if err != nil {
		return "", fmt.Errorf("server: default configuration: %w", err)
	}
	path := filepath.Join(dir, DefaultConfigName)
	if err := writeDefaultConfig(path, s.opts.DefaultESMTPListen); err != nil {
		return "", err
	}
	return path, nil
}

// preflightControl refuses to start when a live server answers on a control socket
// the configuration names (or on the default socket when it names none), before
// anything else starts: a second daemon must not build a generation, and so run
// module start-up, only to find the socket taken. A tree that did not parse (nil)
// is left to the real load, which reports it properly.
func preflightControl(tree *config.Tree) error {
	if tree == nil {
		return nil
	}
	for _, p := range controlSockets(tree) {
		c, err := net.DialTimeout("unix", p, time.Second)
		if err == nil {
			c.Close()
			return fmt.Errorf("%w: a server already answers on %s; not starting a second one", ErrControlInUse, p)
		}
	}
	return nil
}

// controlSockets returns the unix control sockets a configuration names, or the
// default socket when its Control_Listener names no Listen. tree may be nil.
func controlSockets(tree *config.Tree) []string {
	var paths []string
	named := false
	if tree != nil {
		if cl := tree.Root().Child(scopeControlListener, ""); cl != nil {
			for _, l := range cl.Children {
				if strings.EqualFold(l.Keyword, scopeListen) {
					named = true
					if strings.Contains(l.Name, "/") {
						paths = append(paths, l.Name)
					}
				}
			}
		}
	}
	if !named {
		if p, err := control.DefaultAddress(); err == nil {
			paths = append(paths, p)
		}
	}
	return paths
}

// startControl binds the control listener: every Listen of the Control_Listener,
// or the default socket when there is none.
func (s *Server) startControl(set *coreSettings) error {
	reg := control.NewRegistry()
	var err error
	s.ctl, err = control.NewServer(control.Config{
		Registry: reg,
		Executor: &loopExecutor{loop: s.loop, loopDone: s.loopDone, plog: s.plog},
		Modules:  moduleRouter{s},
		Version:  versionText,
		Audit:    s.logs.Audit(),
		Logf: func(format string, args ...any) {
			s.plog.Logf(logging.Warning, "control", format, args...)
		},
		IdleTimeout: set.timeout,
		Now:         s.now,
	})
	if err != nil {
		return fmt.Errorf("server: control: %w", err)
	}
	for _, c := range s.commands() {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("server: control command %q: %w", c.Name, err)
		}
	}
	listens := set.control
	if len(listens) == 0 {
		p, err := control.DefaultAddress()
		if err != nil {
			return fmt.Errorf("%w: default control socket: %w", ErrListen, err)
		}
		listens = []controlListen{{Address: p, Unix: true, FileMode: control.DefaultFileMode}}
	}
	for _, l := range listens {
		if l.Unix {
			if err := s.ctl.ListenUnix(l.Address, l.FileMode); err != nil {
				if errors.Is(err, control.ErrInUse) {
					return fmt.Errorf("%w: %w", ErrControlInUse, err)
				}
				return fmt.Errorf("%w: control socket %s: %w", ErrListen, l.Address, err)
			}
			s.listening = append(s.listening, "control "+l.Address)
			continue
		}
		addr, err := s.ctl.ListenTCP(l.Address, l.SecretFile)
		if err != nil {
			return fmt.Errorf("%w: control %s: %w", ErrListen, l.Address, err)
		}
		s.listening = append(s.listening, "control tcp "+addr.String())
	}
	return nil
}

// startMetrics serves /metrics on Metrics_Address when it is set. An address
// without a host listens on loopback only.
func (s *Server) startMetrics(set *coreSettings) error {
	if set.metrics == "" {
		return nil
	}
	addr := set.metrics
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	if err := s.promReg.Register(newCollector(s)); err != nil {
		return fmt.Errorf("server: metrics: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: metrics %s: %w", ErrListen, addr, err)
	}
	s.metricsLn = ln
	s.metricsSrv = &http.Server{Handler: metricsHandler(s.promReg), ReadHeaderTimeout: 10 * time.Second}
	go s.metricsSrv.Serve(ln)
	s.listening = append(s.listening, "metrics http://"+ln.Addr().String()+"/metrics")
	return nil
}

// Reload re-reads the configuration (path, or the running one when empty) and
// commits it as a new generation: the one path for SIGHUP and `config reload`. It
// tells the service manager RELOADING=1, then READY=1. A rejected reload logs
// `Reconfigure failed` with every error (file:line:col) and returns an error wrapping
// ErrReload; the running generation keeps serving. Not on the loop.
func (s *Server) Reload(ctx context.Context, path string) error {
	if state(s.state.Load()) != stateRunning {
		return fmt.Errorf("%w: not running", ErrState)
	}
	s.notify(notifyReloading())
	defer s.notify(notifyReady)
	start := s.now()
	if err := s.mods.Reload(ctx, path); err != nil {
		s.stats.reloadsFailed.Add(1)
		// "modules: reload rejected: x" or "..., 2 errors:\n\tx\n\ty" reads as
		// "Reconfigure failed: x" or "Reconfigure failed: 2 errors: ...".
		msg := strings.TrimLeft(strings.TrimPrefix(err.Error(), "modules: reload rejected"), ":, ")
		s.logf(logging.Error, "Reconfigure failed: %s", msg)
		return fmt.Errorf("%w: %s", ErrReload, msg)
	}
	s.stats.reloadsOK.Add(1)
	g := s.mods.Current()
	id := g.ID()
	g.Release()
	s.logf(logging.Notice, "Reconfigured: generation %d in %v (loop blocked %v)", id, s.now().Sub(start).Round(time.Microsecond), s.mods.LastSwap())
	return nil
}

// Shutdown stops the server gracefully: STOPPING=1, the control and metrics
// listeners stop accepting (commands in progress finish), the thread pools drain,
// module instances are destroyed, the loop drains and stops, and the pidfile and
// control sockets are removed. ctx bounds it; when ctx ends (a second SIGTERM
// cancels it) every step that waits gives up and the rest is torn down at once.
// Later calls return the first call's result. Not on the loop.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.state.Store(int32(stateStopping))
		s.notify(notifyStopping)
		s.logf(logging.Notice, "shutting down")
		s.shutdownE = s.teardown(ctx)
		s.state.Store(int32(stateStopped))
	})
	return s.shutdownE
}

// teardown stops whatever Start started, in reverse order, and removes the
// pidfile. Each step that waits is bounded by ctx.
func (s *Server) teardown(ctx context.Context) error {
	var errs []error
	// First the mail: the listener stops accepting at once and lets the
	// transactions in progress finish while the pools that spool them still
	// run; its sessions release their generations, which the modules' close
	// waits for.
	s.drainListener(ctx)
	if s.ctl != nil {
		// The control listener stops accepting and removes its sockets here, on
		// this goroutine, so they are gone even when ctx has ended already (a
		// second SIGTERM). Then it lets the commands in progress write their
		// replies (the console's `shutdown` gets its "Shutting down."), for
		// DefaultCloseTimeout at most and never past ctx. The loop still runs, so
		// commands on it can finish.
		if err := s.ctl.StopAccepting(); err != nil {
			errs = append(errs, err)
		}
		cctx, cancel := context.WithTimeout(ctx, control.DefaultCloseTimeout)
		defer cancel()
		closed := make(chan struct{})
		go func() { s.ctl.CloseContext(cctx); close(closed) }()
		select {
		case <-closed:
		case <-ctx.Done():
			// A command that ignores its context holds CloseContext up; the
			// sockets are gone already, so the rest of the teardown goes on.
			errs = append(errs, fmt.Errorf("control listener: %w", ctx.Err()))
		}
		if s.controlStopped != nil {
			s.controlStopped()
		}
	}
	// Before the modules close: an open transaction holds a generation, which
	// their close waits for. The connections' close callbacks have normally
	// rolled back every one already.
	s.sessions.closeAll()
	if s.metricsSrv != nil {
		s.metricsSrv.Close()
	}
	if s.pools != nil {
		rep, err := s.pools.Shutdown(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("thread pools: %w", err))
		}
		if rep.Total() > 0 {
			s.logf(logging.Warning, "shutdown abandoned %d jobs: %s", rep.Total(), rep)
		}
	}
	if s.mods != nil {
		if err := s.mods.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("modules: %w", err))
		}
	}
	// After the modules: their last generations hold native libraries and Lua
	// states until they are destroyed.
	s.ext.close()
	if s.loop != nil {
		if err := s.loop.Shutdown(ctx); err != nil && !errors.Is(err, sched.ErrStopped) {
			errs = append(errs, fmt.Errorf("master loop: %w", err))
			s.loop.Stop()
		}
		<-s.loopDone
		if s.loopErr != nil {
			errs = append(errs, fmt.Errorf("master loop: %w", s.loopErr))
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		s.logf(logging.Error, "shutdown: %v", err)
	} else if s.state.Load() == int32(stateStopping) {
		s.logf(logging.Notice, "shutdown complete")
	}
	s.logs.Close()
	s.pid.release()
	return err
}

func (s *Server) notify(state string) {
	if err := s.opts.Notify(state); err != nil {
		s.logf(logging.Warning, "sd_notify %q: %v", state, err)
	}
}
