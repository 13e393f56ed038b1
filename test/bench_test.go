package test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ecelerity-go/ecelerity/control"
)

// benchEnv is newEnv for a benchmark.
func benchEnv(b *testing.B) *env {
	dir := b.TempDir()
	e := &env{dir: dir, conf: filepath.Join(dir, "ecelerity.conf"), socket: filepath.Join(dir, "ctl.sock"),
		pid: filepath.Join(dir, "ecelerity.pid"), panic: filepath.Join(dir, "paniclog"), xdg: filepath.Join(dir, "xdg")}
	if err := os.Mkdir(e.xdg, 0o700); err != nil {
		b.Fatal(err)
	}
	return e
}

// domainsConfig is the base configuration with n Domain stanzas, each setting the
// sample module's per-domain greeting (which also loads the module).
func domainsConfig(e *env, n int) string {
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "Domain \"d%d.example\" { Sample_Domain_Greeting = \"hello %d\" }\n", i, i)
	}
	return e.config(sb.String())
}

// startUntilReady starts the daemon with args and returns once its ready line is on
// stderr, with the process and the elapsed time.
func startUntilReady(b *testing.B, e *env, args ...string) (*exec.Cmd, time.Duration) {
	cmd := exec.Command(bins.Daemon, append([]string{"-d"}, args...)...)
	cmd.Env = e.environ()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		if strings.Contains(sc.Text(), " ready (") {
			elapsed := time.Since(start)
			go func() {
				for sc.Scan() {
				}
			}()
			return cmd, elapsed
		}
	}
	cmd.Wait()
	b.Fatalf("daemon exited before ready")
	return nil, 0
}

func stop(b *testing.B, cmd *exec.Cmd) {
	cmd.Process.Signal(unix.SIGTERM)
	if err := cmd.Wait(); err != nil {
		b.Fatalf("daemon exit: %v", err)
	}
}

func benchStartup(b *testing.B, conf func(e *env) []string) {
	e := benchEnv(b)
	args := conf(e)
	var total time.Duration
	for b.Loop() {
		cmd, d := startUntilReady(b, e, args...)
		total += d
		b.StopTimer()
		stop(b, cmd)
		b.StartTimer()
	}
	b.ReportMetric(float64(total.Microseconds())/float64(b.N)/1000, "ms-to-ready")
}

// BenchmarkStartupDefault measures exec to ready on the embedded default config.
func BenchmarkStartupDefault(b *testing.B) {
	benchStartup(b, func(*env) []string { return nil })
}

// BenchmarkStartup10kDomains measures exec to ready with 10,000 Domain stanzas.
func BenchmarkStartup10kDomains(b *testing.B) {
	benchStartup(b, func(e *env) []string {
		if err := os.WriteFile(e.conf, []byte(domainsConfig(e, 10000)), 0o600); err != nil {
			b.Fatal(err)
		}
		return []string{"-c", e.conf}
	})
}

// BenchmarkSpawnBaseline is the peer of the start-up benchmarks: exec of a Go binary
// that exits at once (ec_console -h), the floor any daemon start pays.
func BenchmarkSpawnBaseline(b *testing.B) {
	for b.Loop() {
		if err := exec.Command(bins.Console, "-h").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsoleVersion measures a `version` round trip on one console
// connection: socket, the master loop's hand-over, reply.
func BenchmarkConsoleVersion(b *testing.B) {
	e := benchEnv(b)
	os.WriteFile(e.conf, []byte(e.config("")), 0o600)
	cmd, _ := startUntilReady(b, e, "-c", e.conf)
	defer stop(b, cmd)
	c, err := control.Dial(e.socket)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	for b.Loop() {
		if _, err := c.Do("version"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConsoleVersionProcess measures what an operator's script pays: one
// ec_console process per `version`.
func BenchmarkConsoleVersionProcess(b *testing.B) {
	e := benchEnv(b)
	os.WriteFile(e.conf, []byte(e.config("")), 0o600)
	cmd, _ := startUntilReady(b, e, "-c", e.conf)
	defer stop(b, cmd)
	for b.Loop() {
		c := exec.Command(bins.Console, e.socket, "version")
		if err := c.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnixRoundTripBaseline is the peer of BenchmarkConsoleVersion: a one-line
// request and reply over a unix socket to an echoing goroutine, with no protocol and
// no loop hand-over.
func BenchmarkUnixRoundTripBaseline(b *testing.B) {
	path := filepath.Join(b.TempDir(), "echo.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			c.Write([]byte(line))
		}
	}()
	c, err := net.Dial("unix", path)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	for b.Loop() {
		c.Write([]byte("version\n"))
		if _, err := r.ReadString('\n'); err != nil {
			b.Fatal(err)
		}
	}
}

// rssKB reads VmRSS of pid from /proc.
func rssKB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return n
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// BenchmarkIdleRSS reports the resident memory of an idle daemon right after start-up
// (after one console command), on the default configuration and with 10,000 domains.
func BenchmarkIdleRSS(b *testing.B) {
	for _, n := range []int{0, 10000} {
		b.Run(fmt.Sprintf("domains=%d", n), func(b *testing.B) {
			e := benchEnv(b)
			os.WriteFile(e.conf, []byte(domainsConfig(e, n)), 0o600)
			var kb float64
			for b.Loop() {
				cmd, _ := startUntilReady(b, e, "-c", e.conf)
				if err := exec.Command(bins.Console, e.socket, "version").Run(); err != nil {
					b.Fatal(err)
				}
				kb = rssKB(b, cmd.Process.Pid)
				b.StopTimer()
				stop(b, cmd)
				b.StartTimer()
			}
			b.ReportMetric(kb, "rss-kB")
		})
	}
}
