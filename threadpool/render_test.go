package threadpool

import (
	"bytes"
	"testing"
	"time"
)

func TestWriteStats(t *testing.T) {
	stats := []PoolStats{
		{Name: "CPU", Concurrency: 4},
		{Name: "IO", Concurrency: 50, Threads: 3, Busy: 1, Queued: 2, Waiting: 1, Invocations: 10, Completed: 9,
			Failed: 1, Panics: 1, MeanWait: 1500 * time.Microsecond, P99Wait: 4 * time.Millisecond,
			AvgWallclock: 250 * time.Microsecond, AvgConcurrency: 0.5, Saturation: 1},
		{Name: "OLD", Concurrency: 2, Retiring: true, Queued: 1},
	}
	want := `CPU thread pool: concurrency 4
IO thread pool: concurrency 50
                     Total invocations: 10
          Observed average concurrency: 0.50
                Thread pool saturation: 1%
         Average wallclock time per op: 0.250 ms
                  Current thread count: 1
  [inactive threads]
                  Current thread count: 2
                                  Busy: 1
                                Queued: 2
           Submitters waiting for room: 1
                             Completed: 9
                                Failed: 1
                                Panics: 1
                             Mean wait: 1.500 ms
                  99th percentile wait: 4.000 ms
OLD thread pool: concurrency 2 (retiring)
                     Total invocations: 0
          Observed average concurrency: 0.00
                Thread pool saturation: 0%
         Average wallclock time per op: 0.000 ms
                  Current thread count: 0
  [inactive threads]
                  Current thread count: 0
                                  Busy: 0
                                Queued: 1
           Submitters waiting for room: 0
                             Completed: 0
                                Failed: 0
                                Panics: 0
                             Mean wait: 0.000 ms
                  99th percentile wait: 0.000 ms
`
	var b bytes.Buffer
	if err := WriteStats(&b, stats); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Errorf("WriteStats:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteQueue(t *testing.T) {
	tests := []struct {
		name string
		q    QueueSnapshot
		want string
	}{
		{"empty", QueueSnapshot{Pool: "IO"}, "Jobs in the IO pool\n0 jobs\n"},
		{"one", QueueSnapshot{Pool: "CPU", Jobs: []string{"dkim sign"}}, "Jobs in the CPU pool\n  dkim sign\n1 job\n"},
		{"parked", QueueSnapshot{Pool: "IO", Jobs: []string{"a", "b"}, Parked: 1},
			"Jobs in the IO pool\n  a\n  b\n  (1 waiting for a concurrency limit)\n3 jobs\n"},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		if err := WriteQueue(&b, tc.q); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, b.String(), tc.want)
		}
	}
}

func TestWaitHistogram(t *testing.T) {
	tests := []struct {
		name      string
		waits     []time.Duration
		mean, p99 time.Duration
	}{
		{"empty", nil, 0, 0},
		{"sub-microsecond", []time.Duration{100, 200}, 150, time.Microsecond},
		{"negative clamps to zero", []time.Duration{-5}, 0, time.Microsecond},
		{"one slow among many", append(make([]time.Duration, 99), 3*time.Millisecond), 30 * time.Microsecond, time.Microsecond},
		{"two slow in a hundred", append(make([]time.Duration, 98), 3*time.Millisecond, 3*time.Millisecond),
			60 * time.Microsecond, 4096 * time.Microsecond},
		{"beyond the last bucket", []time.Duration{24 * time.Hour}, 24 * time.Hour, (1 << (waitBuckets - 1)) * time.Microsecond},
	}
	for _, tc := range tests {
		var h waitHist
		for _, d := range tc.waits {
			h.add(d)
		}
		if h.mean() != tc.mean || h.quantile(0.99) != tc.p99 {
			t.Errorf("%s: mean %v p99 %v, want %v %v", tc.name, h.mean(), h.quantile(0.99), tc.mean, tc.p99)
		}
	}
}
