package sched

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// The timer benchmarks keep 1M timers armed (connection timeouts spread over an
// hour) and measure arming plus cancelling one more, against the runtime's
// timers with 1M time.AfterFunc timers armed, in the same run.

const liveTimers = 1_000_000

func liveDelays() []time.Duration {
	rng := rand.New(rand.NewPCG(5, 6))
	d := make([]time.Duration, liveTimers)
	for i := range d {
		d[i] = time.Minute + time.Duration(rng.Int64N(int64(time.Hour)))
	}
	return d
}

// onLoopBench runs fn on a running loop and waits, without a *testing.T.
func onLoopBench(l *Loop, fn func()) {
	done := make(chan struct{})
	l.Dispatch(func(time.Time) { fn(); close(done) })
	<-done
}

func benchLoop(b *testing.B) *Loop {
	l, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- l.Run() }()
	b.Cleanup(func() { l.Stop(); <-errc })
	return l
}

// BenchmarkTimerScheduleCancel: Reset + Cancel of one timer with 1M armed; the
// way connection timeouts are kept (no allocation).
func BenchmarkTimerScheduleCancel(b *testing.B) {
	l := benchLoop(b)
	delays := liveDelays()
	onLoopBench(l, func() {
		for _, d := range delays {
			l.After(d, noopTimer, nil)
		}
	})
	b.ReportAllocs()
	b.ResetTimer()
	onLoopBench(l, func() {
		t := NewTimer(noopTimer, nil)
		for i := 0; i < b.N; i++ {
			l.Reset(t, delays[i%liveTimers])
			l.Cancel(t)
		}
	})
}

// BenchmarkTimerAfterCancel: After (a new timer) + Cancel with 1M armed.
func BenchmarkTimerAfterCancel(b *testing.B) {
	l := benchLoop(b)
	delays := liveDelays()
	onLoopBench(l, func() {
		for _, d := range delays {
			l.After(d, noopTimer, nil)
		}
	})
	b.ReportAllocs()
	b.ResetTimer()
	onLoopBench(l, func() {
		for i := 0; i < b.N; i++ {
			l.Cancel(l.After(delays[i%liveTimers], noopTimer, nil))
		}
	})
}

// BenchmarkAfterFuncStop is the peer: time.AfterFunc + Stop with 1M armed.
func BenchmarkAfterFuncStop(b *testing.B) {
	delays := liveDelays()
	live := make([]*time.Timer, 0, liveTimers)
	for _, d := range delays {
		live = append(live, time.AfterFunc(d, func() {}))
	}
	defer func() {
		for _, t := range live {
			t.Stop()
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		time.AfterFunc(delays[i%liveTimers], func() {}).Stop()
	}
}

// BenchmarkTimeTimerResetStop is the allocation-free peer: Reset + Stop of one
// time.Timer with 1M AfterFunc timers armed.
func BenchmarkTimeTimerResetStop(b *testing.B) {
	delays := liveDelays()
	live := make([]*time.Timer, 0, liveTimers)
	for _, d := range delays {
		live = append(live, time.AfterFunc(d, func() {}))
	}
	defer func() {
		for _, t := range live {
			t.Stop()
		}
	}()
	t := time.AfterFunc(time.Hour, func() {})
	t.Stop()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t.Reset(delays[i%liveTimers])
		t.Stop()
	}
}

// BenchmarkDispatch hands b.N functions to the loop from 1 and from 8
// goroutines and reports hand-overs per second and eventfd writes per loop
// iteration.
func BenchmarkDispatch(b *testing.B) {
	for _, producers := range []int{1, 8} {
		b.Run(fmt.Sprintf("producers=%d", producers), func(b *testing.B) {
			l := benchLoop(b)
			var ran int // loop goroutine only
			done := make(chan struct{})
			target := b.N
			count := func(time.Time) {
				if ran++; ran == target {
					close(done)
				}
			}
			before := l.Stats()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for p := range producers {
				n := b.N / producers
				if p == 0 {
					n += b.N % producers
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range n {
						l.Dispatch(count)
					}
				}()
			}
			wg.Wait()
			<-done
			elapsed := time.Since(start)
			b.StopTimer()
			after := l.Stats()
			iters := after.Iterations - before.Iterations
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(after.Wakeups-before.Wakeups)/float64(max(iters, 1)), "wakeups/iter")
			b.ReportMetric(float64(b.N)/float64(max(iters, 1)), "events/iter")
		})
	}
}
