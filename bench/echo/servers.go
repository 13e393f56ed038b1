package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/ecelerity-go/ecelerity/sched"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// runServer serves echo on addr, prints "ready ADDR" and answers "mem" lines on
// stdin with "mem HEAP STACK" (bytes after a GC); it returns at end of stdin.
func runServer(kind, addr string, loops int) error {
	var (
		bound net.Addr
		stop  func()
		err   error
	)
	switch kind {
	case "sched":
		bound, stop, err = serveSched(addr, loops)
	case "net":
		bound, stop, err = serveNet(addr)
	case "gnet":
		bound, stop, err = serveGnet(addr, loops)
	default:
		err = fmt.Errorf("unknown server kind %q", kind)
	}
	if err != nil {
		return err
	}
	defer stop()
	if path := os.Getenv("ECHO_CPUPROFILE"); path != "" {
		// For looking into a server's hot path: ECHO_CPUPROFILE=file.
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("ready %s\n", bound)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if strings.TrimSpace(in.Text()) == "mem" {
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Printf("mem %d %d\n", ms.HeapAlloc, ms.StackInuse)
		}
	}
	return nil
}

// echoConn is the state of one sched connection: only what a partial write
// leaves behind. The read buffer is per loop.
type echoConn struct {
	ops sched.FDConn
	w   sched.WriteState
}

func serveSched(addr string, loops int) (net.Addr, func(), error) {
	g, err := sched.NewGroup(loops, sched.Options{})
	if err != nil {
		return nil, nil, err
	}
	// One callback per loop, closing over that loop's read buffer.
	callbacks := map[*sched.Loop]sched.Callback{}
	for i := range g.Len() {
		callbacks[g.Loop(i)] = echoCallback(make([]byte, 64<<10))
	}
	bound, err := g.Listen("tcp", addr, sched.ListenConfig{}, func(l *sched.Loop, fd int, _ unix.Sockaddr) {
		unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
		c := &echoConn{ops: *sched.NewFDConn(fd)}
		if _, err := l.Add(fd, sched.Read, callbacks[l], c); err != nil {
			unix.Close(fd)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	done := make(chan error, 1)
	go func() { done <- g.Run() }()
	return bound, func() { g.Stop(); <-done }, nil
}

// echoCallback returns the callback of echo connections on one loop.
func echoCallback(buf []byte) sched.Callback {
	return func(ev *sched.Event, fired sched.Mask, _ time.Time) sched.Mask {
		c := ev.Data.(*echoConn)
		if c.w.Pending() > 0 {
			need, err := c.w.Flush(&c.ops)
			if err != nil {
				c.ops.Close()
				return 0
			}
			if need != 0 {
				return need
			}
		}
		// One read per readiness: level triggering calls again if more is
		// buffered, and a second read would mostly return EAGAIN.
		n, need, err := c.ops.Read(buf)
		if err != nil {
			c.ops.Close()
			return 0
		}
		if n == 0 {
			return need
		}
		need, err = c.w.Write(&c.ops, buf[:n])
		if err != nil {
			c.ops.Close()
			return 0
		}
		if need != 0 {
			return need // stop reading until the echo is out
		}
		return sched.Read
	}
}

func serveNet(addr string) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr(), func() { ln.Close() }, nil
}

type gnetEcho struct {
	gnet.BuiltinEventEngine
	eng   gnet.Engine
	ready chan struct{}
}

func (e *gnetEcho) OnBoot(eng gnet.Engine) gnet.Action {
	e.eng = eng
	close(e.ready)
	return gnet.None
}

func (e *gnetEcho) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	c.Write(buf)
	return gnet.None
}

func serveGnet(addr string, loops int) (net.Addr, func(), error) {
	// gnet wants a fixed port: take a free one first.
	probe, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	bound := probe.Addr()
	probe.Close()
	h := &gnetEcho{ready: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		done <- gnet.Run(h, "tcp://"+bound.String(),
			gnet.WithMulticore(true), gnet.WithNumEventLoop(loops),
			gnet.WithReusePort(true), gnet.WithTCPNoDelay(gnet.TCPNoDelay))
	}()
	select {
	case <-h.ready:
	case err := <-done:
		return nil, nil, err
	}
	return bound, func() {
		h.eng.Stop(context.Background())
		<-done
	}, nil
}
