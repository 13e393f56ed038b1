package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// server is a server process started from this binary with -serve.
type server struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Reader
	addr string
}

func startServer(kind string, loops int) (*server, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-serve", kind, "-addr", "127.0.0.1:0", "-loops", strconv.Itoa(loops))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, in: in, out: bufio.NewReader(outPipe)}
	line, err := s.expect("ready ")
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("%s server did not start: %w", kind, err)
	}
	s.addr = line
	return s, nil
}

// expect returns the rest of the next stdout line that starts with prefix,
// skipping others (gnet logs to stdout).
func (s *server) expect(prefix string) (string, error) {
	for {
		line, err := s.out.ReadString('\n')
		if err != nil {
			return "", err
		}
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			return strings.TrimSpace(rest), nil
		}
	}
}

func (s *server) stop() {
	s.in.Close()
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

// cpu returns the server's user + system CPU time so far.
func (s *server) cpu() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14 and stime 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const clkTck = 100 // sysconf(_SC_CLK_TCK) on Linux
	return time.Duration(utime+stime) * time.Second / clkTck, nil
}

// mem asks the server for heap and stack bytes in use.
func (s *server) mem() (heap, stack uint64, err error) {
	if _, err := io.WriteString(s.in, "mem\n"); err != nil {
		return 0, 0, err
	}
	line, err := s.expect("mem ")
	if err != nil {
		return 0, 0, err
	}
	_, err = fmt.Sscanf(line, "%d %d", &heap, &stack)
	return heap, stack, err
}

// dialAll opens n connections and makes one echo on each, so that the server
// has accepted and set up every one.
func dialAll(addr string, n, size int) ([]net.Conn, error) {
	conns := make([]net.Conn, 0, n)
	msg := make([]byte, size)
	buf := make([]byte, size)
	for range n {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			closeAll(conns)
			return nil, err
		}
		conns = append(conns, c)
		if _, err := c.Write(msg); err != nil {
			closeAll(conns)
			return nil, err
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			closeAll(conns)
			return nil, err
		}
	}
	return conns, nil
}

func closeAll(conns []net.Conn) {
	for _, c := range conns {
		c.Close()
	}
}

type cell struct {
	kind        string
	size, conns int
	rps         float64
	cpuPer100k  float64
}

// measure drives every connection (send a message, wait for its echo) for d.
func measure(s *server, size, n int, d time.Duration) (cell, error) {
	conns, err := dialAll(s.addr, n, size)
	if err != nil {
		return cell{}, err
	}
	defer closeAll(conns)
	var (
		total atomic.Int64
		stop  atomic.Bool
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	cpu0, err := s.cpu()
	if err != nil {
		return cell{}, err
	}
	start := time.Now()
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := make([]byte, size)
			buf := make([]byte, size)
			count := int64(0)
			for !stop.Load() {
				if _, err := c.Write(msg); err != nil {
					errMu.Lock()
					first = err
					errMu.Unlock()
					break
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					errMu.Lock()
					first = err
					errMu.Unlock()
					break
				}
				count++
			}
			total.Add(count)
		}()
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, err := s.cpu()
	if err != nil {
		return cell{}, err
	}
	if first != nil {
		return cell{}, first
	}
	reqs := float64(total.Load())
	return cell{
		size: size, conns: n,
		rps:        reqs / elapsed.Seconds(),
		cpuPer100k: (cpu1 - cpu0).Seconds() / reqs * 100_000,
	}, nil
}

func throughputTable(kinds []string, sizes, conns []int, d time.Duration, loops int) error {
	results := map[string]cell{}
	key := func(kind string, size, n int) string { return fmt.Sprint(kind, size, n) }
	for _, kind := range kinds {
		s, err := startServer(kind, loops)
		if err != nil {
			return err
		}
		for _, size := range sizes {
			for _, n := range conns {
				c, err := measure(s, size, n, d)
				if err != nil {
					s.stop()
					return fmt.Errorf("%s %d B %d conns: %w", kind, size, n, err)
				}
				c.kind = kind
				results[key(kind, size, n)] = c
				fmt.Fprintf(os.Stderr, "%-6s %5d B %5d conns: %9.0f req/s\n", kind, size, n, c.rps)
			}
		}
		s.stop()
	}
	fmt.Printf("%-6s %6s %6s %12s %16s %10s %10s\n", "kind", "size", "conns", "req/s", "cpu s/100k req", "rps/gnet", "cpu/gnet")
	for _, size := range sizes {
		for _, n := range conns {
			ref, haveRef := results[key("gnet", size, n)]
			for _, kind := range kinds {
				c := results[key(kind, size, n)]
				rr, cr := "-", "-"
				if haveRef {
					rr = fmt.Sprintf("%.2f", c.rps/ref.rps)
					cr = fmt.Sprintf("%.2f", c.cpuPer100k/ref.cpuPer100k)
				}
				fmt.Printf("%-6s %6d %6d %12.0f %16.3f %10s %10s\n", kind, size, n, c.rps, c.cpuPer100k, rr, cr)
			}
		}
	}
	return nil
}

func idleTable(kinds []string, n, loops int) error {
	perConn := map[string]float64{}
	growth := map[string]float64{}
	for _, kind := range kinds {
		s, err := startServer(kind, loops)
		if err != nil {
			return err
		}
		h0, st0, err := s.mem()
		if err != nil {
			s.stop()
			return err
		}
		conns, err := dialAll(s.addr, n, 64)
		if err != nil {
			s.stop()
			return fmt.Errorf("%s: %d connections: %w", kind, n, err)
		}
		h1, st1, err := s.mem()
		closeAll(conns)
		s.stop()
		if err != nil {
			return err
		}
		growth[kind] = float64(int64(h1+st1) - int64(h0+st0))
		perConn[kind] = growth[kind] / float64(n)
	}
	fmt.Printf("%-6s %7s %14s %14s %12s\n", "kind", "conns", "heap+stack B", "per conn B", "vs net")
	for _, kind := range kinds {
		vs := "-"
		if ref, ok := perConn["net"]; ok && ref > 0 {
			vs = fmt.Sprintf("%.3f", perConn[kind]/ref)
		}
		fmt.Printf("%-6s %7d %14.0f %14.0f %12s\n", kind, n, growth[kind], perConn[kind], vs)
	}
	return nil
}
