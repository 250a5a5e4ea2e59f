package agent

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/skydns-scanner/probe"
)

type metrics struct {
	probe             *probe.Metrics
	targets           prometheus.Gauge
	targetsDown       prometheus.Gauge
	runs              prometheus.Counter
	lag               prometheus.Observer
	skipped           prometheus.Counter
	verdicts          map[health.State]prometheus.Counter
	reportsWritten    prometheus.Counter
	reportErrors      prometheus.Counter
	heartbeatFailures prometheus.Counter
	registered        prometheus.Gauge
	badJobs           prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "skydns", Subsystem: "scanner", Name: name, Help: help}
	}
	verdicts := prometheus.NewCounterVec(prometheus.CounterOpts(opts("verdict_changes_total",
		"Times a target's verdict changed, by the new verdict.")), []string{"status"})
	m := &metrics{
		probe:       probe.NewMetrics(reg),
		targets:     prometheus.NewGauge(prometheus.GaugeOpts(opts("targets", "Targets (IPs) this agent holds jobs for."))),
		targetsDown: prometheus.NewGauge(prometheus.GaugeOpts(opts("targets_down", "Targets this agent currently reports DOWN."))),
		runs:        prometheus.NewCounter(prometheus.CounterOpts(opts("runs_total", "Probe runs: one per target per interval, each of one or more checks."))),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "skydns", Subsystem: "scanner", Name: "probe_lag_seconds",
			Help:    "How late a probe run started after it was due; a growing tail means the agent cannot hold check-interval.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		skipped:           prometheus.NewCounter(prometheus.CounterOpts(opts("runs_skipped_total", "Probe runs skipped because the previous one of the target was still running or the agent fell a whole interval behind."))),
		reportsWritten:    prometheus.NewCounter(prometheus.CounterOpts(opts("reports_written_total", "Report keys written or deleted in etcd."))),
		reportErrors:      prometheus.NewCounter(prometheus.CounterOpts(opts("report_errors_total", "Failed attempts to write reports (retried)."))),
		heartbeatFailures: prometheus.NewCounter(prometheus.CounterOpts(opts("heartbeat_failures_total", "Lease keep-alives that failed."))),
		registered:        prometheus.NewGauge(prometheus.GaugeOpts(opts("registered", "1 while the agent holds its lease and heartbeat key."))),
		badJobs:           prometheus.NewCounter(prometheus.CounterOpts(opts("bad_jobs_total", "Job values that were not a valid check spec and were ignored."))),
		verdicts: map[health.State]prometheus.Counter{
			health.Up: verdicts.WithLabelValues("UP"), health.Down: verdicts.WithLabelValues("DOWN"),
		},
	}
	if reg != nil {
		reg.MustRegister(m.targets, m.targetsDown, m.runs, m.lag.(prometheus.Histogram), m.skipped, verdicts,
			m.reportsWritten, m.reportErrors, m.heartbeatFailures, m.registered, m.badJobs)
	}
	return m
}
