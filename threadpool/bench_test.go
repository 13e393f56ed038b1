package threadpool

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// benchInflight are the numbers of jobs kept in flight by the round-trip benchmarks: one
// measures the bare latency of a hop, the others a loaded server.
var benchInflight = []int{1, 64, 1024}

// benchConcurrency is the size of the benchmark pool; on 2 cores more workers only add
// context switches.
const benchConcurrency = 4

// latencies collects per-job round-trip times and reports them.
type latencies struct {
	samples []time.Duration
}

func (l *latencies) report(b *testing.B, elapsed time.Duration) {
	if len(l.samples) == 0 {
		return
	}
	slices.Sort(l.samples)
	at := func(q float64) time.Duration { return l.samples[int(q*float64(len(l.samples)-1))] }
	b.ReportMetric(float64(at(0.50).Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(at(0.99).Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(len(l.samples))/elapsed.Seconds(), "jobs/s")
}

// rtJob is a round-trip job with its start time; the Job is embedded so a completion finds its
// record through Data without allocating.
type rtJob struct {
	Job
	start time.Time
}

// BenchmarkRoundTrip measures loop -> pool -> loop: the loop submits a job, a worker runs an
// empty work function, the completion (CompleteCallbackSched) runs on the loop and submits the
// job again until b.N jobs have completed. It reports p50/p99 latency, jobs/s, the loop's
// eventfd writes per iteration and its polls per job.
func BenchmarkRoundTrip(b *testing.B) {
	for _, inflight := range benchInflight {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			loop := startLoop(b)
			m, _ := newTestManager(b, loop)
			if err := m.Apply([]Spec{{Name: "bench", Concurrency: benchConcurrency}}); err != nil {
				b.Fatal(err)
			}
			class := mustClass(b, m, "bench")
			lat := latencies{samples: make([]time.Duration, 0, b.N)}
			finished := make(chan struct{})
			submitted := 0
			jobs := make([]rtJob, min(inflight, b.N))
			var done func(j *Job)
			submit := func(r *rtJob) {
				submitted++
				r.start = time.Now()
				if err := m.Submit(&r.Job); err != nil {
					b.Error(err)
				}
			}
			done = func(j *Job) { // on the loop
				r := j.Data.(*rtJob)
				lat.samples = append(lat.samples, time.Since(r.start))
				if submitted < b.N {
					submit(r)
				} else if len(lat.samples) == b.N {
					close(finished)
				}
			}
			for i := range jobs {
				jobs[i].Job = Job{Name: "rt", Class: class, Mode: CompleteCallbackSched, Data: &jobs[i],
					Work: func(*Job) error { return nil }, Done: done}
			}
			before := loop.Stats()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			loop.Dispatch(func(time.Time) {
				for i := range jobs {
					submit(&jobs[i])
				}
			})
			<-finished
			elapsed := time.Since(start)
			b.StopTimer()
			after := loop.Stats()
			lat.report(b, elapsed)
			if it := after.Iterations - before.Iterations; it > 0 {
				b.ReportMetric(float64(after.Wakeups-before.Wakeups)/float64(it), "wakeups/iter")
			}
			// Zero-timeout epoll_waits the loop made while polling for announced completions
			// (sched.Loop.Expect): the CPU price of the latency.
			b.ReportMetric(float64(after.Polls-before.Polls)/float64(b.N), "polls/job")
		})
	}
}

// BenchmarkGoFuncChannel is the peer of BenchmarkRoundTrip: each job is a `go func()` that
// runs the same empty work and hands its result back on a channel to one consumer goroutine,
// which plays the loop and starts the next job.
func BenchmarkGoFuncChannel(b *testing.B) {
	for _, inflight := range benchInflight {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			type result struct {
				start time.Time
				err   error
			}
			work := func() error { return nil }
			results := make(chan result, inflight)
			launch := func() {
				start := time.Now()
				go func() { results <- result{start, work()} }()
			}
			lat := latencies{samples: make([]time.Duration, 0, b.N)}
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			submitted := 0
			for range min(inflight, b.N) {
				submitted++
				launch()
			}
			for len(lat.samples) < b.N {
				r := <-results
				lat.samples = append(lat.samples, time.Since(r.start))
				if submitted < b.N {
					submitted++
					launch()
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			lat.report(b, elapsed)
		})
	}
}
