package server

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ecelerity-go/ecelerity/modules/esmtp"
)

// collector turns the server's snapshots into Prometheus metrics at scrape time. It
// reads only what is safe from any goroutine without waiting for the master loop:
// hook counters (atomics of the installed registry), pool and memory-type snapshots,
// the module manager's generation list, the ESMTP listener's session counts and the
// server's own atomics.
type collector struct {
	s *Server

	hookCalls, hookShort, hookPanics, hookSeconds           *prometheus.Desc
	provCalls, provPanics, provSampledCalls, provSampledSec *prometheus.Desc
	poolQueued, poolBusy, poolThreads, poolConcurrency      *prometheus.Desc
	poolCompleted, poolFailed, poolPanics                   *prometheus.Desc
	poolWaitMean, poolWaitP99                               *prometheus.Desc
	memBytes, memPeakBytes, memObjects                      *prometheus.Desc
	gensAlive, genRefs, genConfigRefs                       *prometheus.Desc
	reloads, messages, startTime                            *prometheus.Desc
	listenerSessions, listenerGenSessions                   *prometheus.Desc
}

func newCollector(s *Server) *collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("ecelerity_"+name, help, labels, nil)
	}
	return &collector{
		s:                s,
		hookCalls:        d("hook_calls_total", "Calls of a hook that reached a provider, in the current generation.", "hook"),
		hookShort:        d("hook_short_circuits_total", "Calls of a hook that a provider's result stopped.", "hook"),
		hookPanics:       d("hook_panics_total", "Provider panics of a hook.", "hook"),
		hookSeconds:      d("hook_seconds_total", "Estimated time spent in a hook's providers (extrapolated from sampled calls).", "hook"),
		provCalls:        d("hook_provider_calls_total", "Calls that reached a provider.", "hook", "module"),
		provPanics:       d("hook_provider_panics_total", "Panics of a provider.", "hook", "module"),
		provSampledCalls: d("hook_provider_sampled_calls_total", "Timed calls of a provider; divide sampled seconds by it for the mean latency.", "hook", "module"),
		provSampledSec:   d("hook_provider_sampled_seconds_total", "Time spent in the timed calls of a provider.", "hook", "module"),
		poolQueued:       d("pool_queue_depth", "Jobs waiting in a thread pool.", "pool"),
		poolBusy:         d("pool_busy", "Jobs running in a thread pool.", "pool"),
		poolThreads:      d("pool_threads", "Worker goroutines of a thread pool.", "pool"),
		poolConcurrency:  d("pool_concurrency", "Configured concurrency of a thread pool.", "pool"),
		poolCompleted:    d("pool_jobs_completed_total", "Jobs a thread pool finished, failed ones included.", "pool"),
		poolFailed:       d("pool_jobs_failed_total", "Jobs a thread pool finished with an error.", "pool"),
		poolPanics:       d("pool_jobs_panics_total", "Jobs whose work panicked.", "pool"),
		poolWaitMean:     d("pool_wait_seconds_mean", "Mean time a job waited in the queue.", "pool"),
		poolWaitP99:      d("pool_wait_seconds_p99", "99th percentile of the time a job waited in the queue.", "pool"),
		memBytes:         d("memtype_bytes", "Bytes in live allocations of a memory type.", "type"),
		memPeakBytes:     d("memtype_peak_bytes", "Most bytes live at once of a memory type.", "type"),
		memObjects:       d("memtype_objects", "Live allocations of a memory type.", "type"),
		gensAlive:        d("generations_alive", "Generations whose module instances are not destroyed yet."),
		genRefs:          d("generation_refs", "Holders of a live generation.", "generation", "current"),
		genConfigRefs:    d("generation_config_refs", "Holders of a live generation's configuration.", "generation", "current"),
		reloads:          d("reloads_total", "Configuration reloads by result.", "result"),
		messages:         d("messages_total", "Messages by outcome, as the listeners count them.", "outcome"),
		startTime:        d("start_time_seconds", "When the server started, in Unix seconds."),
		listenerSessions: d("listener_sessions", "Sessions open on a listener.", "listener"),
		listenerGenSessions: d("listener_generation_sessions",
			"Sessions open on a listener, by the configuration generation each holds.", "listener", "generation"),
	}
}

// Describe sends every descriptor.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.hookCalls, c.hookShort, c.hookPanics, c.hookSeconds,
		c.provCalls, c.provPanics, c.provSampledCalls, c.provSampledSec,
		c.poolQueued, c.poolBusy, c.poolThreads, c.poolConcurrency, c.poolCompleted, c.poolFailed, c.poolPanics,
		c.poolWaitMean, c.poolWaitP99, c.memBytes, c.memPeakBytes, c.memObjects,
		c.gensAlive, c.genRefs, c.genConfigRefs, c.reloads, c.messages, c.startTime,
		c.listenerSessions, c.listenerGenSessions} {
		ch <- d
	}
}

// Collect reads the snapshots. It runs on the scraping goroutine.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	s := c.s
	if reg := s.mods.Hooks().Load(); reg != nil {
		for _, h := range reg.List() {
			name := h.FullName()
			counter(c.hookCalls, float64(h.Stats.Calls), name)
			counter(c.hookShort, float64(h.Stats.ShortCircuits), name)
			counter(c.hookPanics, float64(h.Stats.Panics), name)
			counter(c.hookSeconds, h.Stats.EstimatedTime().Seconds(), name)
			if h.NumProviders == 0 {
				continue
			}
			d, err := reg.Show(name)
			if err != nil {
				continue
			}
			// One series per module: a module with two providers on a hook is summed.
			type sums struct{ calls, panics, sampled, sec float64 }
			per := map[string]*sums{}
			var order []string
			for _, p := range d.Providers {
				x := per[p.Module]
				if x == nil {
					x = &sums{}
					per[p.Module] = x
					order = append(order, p.Module)
				}
				x.calls += float64(p.Stats.Calls)
				x.panics += float64(p.Stats.Panics)
				x.sampled += float64(p.Stats.SampledCalls)
				x.sec += p.Stats.SampledTime.Seconds()
			}
			for _, m := range order {
				x := per[m]
				counter(c.provCalls, x.calls, name, m)
				counter(c.provPanics, x.panics, name, m)
				counter(c.provSampledCalls, x.sampled, name, m)
				counter(c.provSampledSec, x.sec, name, m)
			}
		}
	}
	for _, p := range s.pools.Stats() {
		gauge(c.poolQueued, float64(p.Queued), p.Name)
		gauge(c.poolBusy, float64(p.Busy), p.Name)
		gauge(c.poolThreads, float64(p.Threads), p.Name)
		gauge(c.poolConcurrency, float64(p.Concurrency), p.Name)
		counter(c.poolCompleted, float64(p.Completed), p.Name)
		counter(c.poolFailed, float64(p.Failed), p.Name)
		counter(c.poolPanics, float64(p.Panics), p.Name)
		gauge(c.poolWaitMean, p.MeanWait.Seconds(), p.Name)
		gauge(c.poolWaitP99, p.P99Wait.Seconds(), p.Name)
	}
	for _, m := range s.mem.Snapshot() {
		gauge(c.memBytes, float64(m.Bytes), m.Name)
		gauge(c.memPeakBytes, float64(m.PeakBytes), m.Name)
		gauge(c.memObjects, float64(m.Active), m.Name)
	}
	gens := s.mods.Generations()
	gauge(c.gensAlive, float64(len(gens)))
	for _, g := range gens {
		id, cur := strconv.FormatUint(g.ID, 10), strconv.FormatBool(g.Current)
		gauge(c.genRefs, float64(g.Refs), id, cur)
		gauge(c.genConfigRefs, float64(g.ConfigRefs), id, cur)
	}
	counter(c.reloads, float64(s.stats.reloadsOK.Load()), "ok")
	counter(c.reloads, float64(s.stats.reloadsFailed.Load()), "failed")
	counter(c.messages, float64(s.stats.pub.MessagesReceived.Load()), "received")
	counter(c.messages, float64(s.stats.pub.MessagesRejected.Load()), "rejected")
	gauge(c.startTime, float64(s.startedAt.UnixNano())/1e9)
	// The listener's counts are atomics behind a short lock of its own that the
	// loop takes only to look up a generation: a scrape never waits for the loop.
	if m := s.listener(); m != nil {
		var total int64
		for _, g := range m.Sessions() {
			total += g.Sessions
			gauge(c.listenerGenSessions, float64(g.Sessions), esmtp.ModuleName, strconv.FormatUint(g.Generation, 10))
		}
		gauge(c.listenerSessions, float64(total), esmtp.ModuleName)
	}
}

// metricsHandler serves reg in the Prometheus text format.
func metricsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	return mux
}
