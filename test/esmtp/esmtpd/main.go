// Command esmtpd runs the ESMTP listener module alone: a master loop, the
// thread pools, the configuration store and module manager, the listener and
// the Lua scriptlet runtime, without the rest of the daemon. The end-to-end
// tests of test/esmtp and the benchmark of bench/smtp start it as a real
// process (to kill it with SIGKILL, for one).
//
//	esmtpd -c FILE [-mainlog FILE] [-rejectlog FILE] [-cpuprofile FILE] [-v]
//
// Once listening it prints one line per address, "listening ADDR", and then
// "ready". SIGHUP reloads the configuration; SIGTERM and SIGINT stop it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecelerity-go/ecelerity/config"
	"github.com/ecelerity-go/ecelerity/modules"
	"github.com/ecelerity-go/ecelerity/modules/esmtp"
	"github.com/ecelerity-go/ecelerity/modules/scriptlet"
	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/ecelerity-go/ecelerity/threadpool"
)

// managerRef lets the listener's Env name the manager made after it.
type managerRef struct{ m *modules.Manager }

func (r *managerRef) Current() *modules.Generation { return r.m.Current() }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "esmtpd:", err)
		os.Exit(1)
	}
}

func openLog(path string) (io.Writer, func(), error) {
	if path == "" {
		return nil, func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

func run() error {
	confPath := flag.String("c", "", "configuration file")
	mainPath := flag.String("mainlog", "", "mainlog file")
	rejectPath := flag.String("rejectlog", "", "rejectlog file")
	verbose := flag.Bool("v", false, "log diagnostics to stderr")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile here until the process stops")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if *confPath == "" {
		return fmt.Errorf("-c FILE is required")
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	loop, err := sched.New(sched.Options{})
	if err != nil {
		return err
	}
	loopDone := make(chan error, 1)
	go func() { loopDone <- loop.Run() }()
	pools := threadpool.NewManager(threadpool.Options{Loop: loop, Logger: logger})

	mw, closeMain, err := openLog(*mainPath)
	if err != nil {
		return err
	}
	defer closeMain()
	rw, closeReject, err := openLog(*rejectPath)
	if err != nil {
		return err
	}
	defer closeReject()
	// With no log file the listener gets no Logs at all: nothing formats
	// lines for nobody.
	var logs esmtp.Logs
	if mw != nil || rw != nil {
		ll := esmtp.NewLineLogs(mw, rw)
		defer ll.Close()
		logs = ll
	}

	store := config.NewStore(config.NewRegistry(), config.StoreOptions{Path: *confPath})
	rt := scriptlet.New(scriptlet.Options{Loop: loop, Pools: pools, Store: store, Logger: logger})
	defer rt.Close()
	ref := &managerRef{}
	b := modules.NewBuiltins()
	b.Register(esmtp.NewInfo(esmtp.Env{Loop: loop, Pools: pools, Generations: ref, Logs: logs, Logger: logger, Version: "esmtpd"}))
	b.Register(rt.Info())
	mgr, err := modules.New(modules.Options{Store: store, Loop: loop, Loaders: []modules.Loader{b.Loader()}, Logger: logger})
	if err != nil {
		return err
	}
	ref.m = mgr
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	err = mgr.Start(ctx, *confPath)
	cancel()
	if err != nil {
		return err
	}
	g := mgr.Current()
	if m, ok := g.Instance(esmtp.ModuleName, "").(*esmtp.Module); ok {
		for _, a := range m.Addrs() {
			fmt.Println("listening", a)
		}
	}
	g.Release()
	fmt.Println("ready")

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, unix.SIGHUP, unix.SIGTERM, unix.SIGINT)
	signal.Ignore(unix.SIGPIPE)
	for sig := range sigs {
		if sig == unix.SIGHUP {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			if err := mgr.Reload(ctx, ""); err != nil {
				fmt.Fprintln(os.Stderr, "esmtpd: Reconfigure failed:", err)
			} else {
				fmt.Println("reloaded")
			}
			cancel()
			continue
		}
		break
	}
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = mgr.Close(ctx)
	_, _ = pools.Shutdown(ctx)
	loop.Stop()
	return <-loopDone
}
