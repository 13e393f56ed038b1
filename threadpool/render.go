package threadpool

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// labelWidth is the column the console's right-aligned labels end at.
const labelWidth = 38

// WriteStats renders `threads stats`: per pool a header `<NAME> thread pool: concurrency N`,
// then, for a pool that has done work or has work waiting, right-aligned `Label: value` lines:
// the reference's (invocations, observed average concurrency, saturation, average wallclock
// per op, active and inactive thread counts) followed by busy, queued, submitters waiting for
// room, completed, failed, panics and the mean and 99th percentile queue wait.
func WriteStats(w io.Writer, stats []PoolStats) error {
	var b strings.Builder
	for _, s := range stats {
		fmt.Fprintf(&b, "%s thread pool: concurrency %d", s.Name, s.Concurrency)
		if s.Retiring {
			b.WriteString(" (retiring)")
		}
		b.WriteByte('\n')
		if s.Invocations == 0 && s.Queued == 0 {
			continue
		}
		idle := s.Threads - s.Busy
		if idle < 0 {
			idle = 0 // inline jobs of a concurrency-0 pool run on no worker
		}
		line(&b, "Total invocations", fmt.Sprint(s.Invocations))
		line(&b, "Observed average concurrency", fmt.Sprintf("%.2f", s.AvgConcurrency))
		line(&b, "Thread pool saturation", fmt.Sprintf("%.0f%%", s.Saturation))
		line(&b, "Average wallclock time per op", millis(s.AvgWallclock))
		line(&b, "Current thread count", fmt.Sprint(s.Busy))
		b.WriteString("  [inactive threads]\n")
		line(&b, "Current thread count", fmt.Sprint(idle))
		line(&b, "Busy", fmt.Sprint(s.Busy))
		line(&b, "Queued", fmt.Sprint(s.Queued))
		line(&b, "Submitters waiting for room", fmt.Sprint(s.Waiting))
		line(&b, "Completed", fmt.Sprint(s.Completed))
		line(&b, "Failed", fmt.Sprint(s.Failed))
		line(&b, "Panics", fmt.Sprint(s.Panics))
		line(&b, "Mean wait", millis(s.MeanWait))
		line(&b, "99th percentile wait", millis(s.P99Wait))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// line writes one right-aligned `Label: value` line.
func line(b *strings.Builder, label, value string) {
	fmt.Fprintf(b, "%*s: %s\n", labelWidth, label, value)
}

// millis renders a duration in milliseconds with microsecond precision, as the console does.
func millis(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}

// WriteQueue renders `threads <pool> queue`: `Jobs in the <NAME> pool`, one indented line per
// queued job, then the count (parked jobs included).
func WriteQueue(w io.Writer, q QueueSnapshot) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Jobs in the %s pool\n", q.Pool)
	for _, name := range q.Jobs {
		fmt.Fprintf(&b, "  %s\n", name)
	}
	if q.Parked > 0 {
		fmt.Fprintf(&b, "  (%d waiting for a concurrency limit)\n", q.Parked)
	}
	n := len(q.Jobs) + q.Parked
	if n == 1 {
		b.WriteString("1 job\n")
	} else {
		fmt.Fprintf(&b, "%d jobs\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
