// Command echo benchmarks an echo server built on package sched against one on
// Go's net package (a goroutine per connection) and one on gnet v2, each run as
// a separate process and driven by the same Go load generator.
//
//	go run ./bench/echo                 # the throughput table
//	go run ./bench/echo -idle 10000     # idle memory per connection
//	go run ./bench/echo -serve sched -addr 127.0.0.1:9000   # one server
//
// The table gives, per server kind, message size and connection count: requests
// per second, the server's CPU seconds per 100k requests (utime + stime from
// /proc/PID/stat) and both as ratios to gnet's figure in the same run. gnet is
// imported here only, never by the daemon.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

func main() {
	var (
		serve    = flag.String("serve", "", "run one server of this kind (sched, net, gnet) and exit at end of stdin")
		addr     = flag.String("addr", "127.0.0.1:0", "server address (with -serve)")
		loops    = flag.Int("loops", runtime.NumCPU(), "event loops of the sched and gnet servers")
		kinds    = flag.String("kinds", "sched,net,gnet", "server kinds to measure")
		sizes    = flag.String("sizes", "64,1024", "message sizes in bytes")
		conns    = flag.String("conns", "100,1000", "connection counts")
		duration = flag.Duration("duration", 3*time.Second, "measuring time per cell")
		idle     = flag.Int("idle", 0, "measure idle memory with this many connections instead of throughput")
	)
	flag.Parse()
	if *serve != "" {
		if err := runServer(*serve, *addr, *loops); err != nil {
			fmt.Fprintln(os.Stderr, "echo:", err)
			os.Exit(1)
		}
		return
	}
	kindList := strings.Split(*kinds, ",")
	var err error
	if *idle > 0 {
		err = idleTable(kindList, *idle, *loops)
	} else {
		var sz, cn []int
		if sz, err = ints(*sizes); err == nil {
			if cn, err = ints(*conns); err == nil {
				err = throughputTable(kindList, sz, cn, *duration, *loops)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}
