package probe

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// reasons are the failure reasons Reason returns; their counters are made
// up front so that a probe does not hash labels.
var reasons = []string{"refused", "reset", "unreachable", "timeout", "no-reply", "status", "canceled", "error",
	reasonMatch, reasonCertVerify, reasonCertExpiry, reasonRcode, reasonNoRecords, reasonNotServing}

// Metrics counts probes. One check of one kind (a ping, a connect, a GET,
// each try) is one probe.
type Metrics struct {
	probes   map[Kind]prometheus.Counter
	latency  map[Kind]prometheus.Observer
	failures map[Kind]map[string]prometheus.Counter
}

// NewMetrics registers the probe metrics with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	probes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "skydns", Subsystem: "scanner", Name: "probes_total",
		Help: "Checks run (each ICMP ping, TCP connect, HTTP request, DNS query or gRPC health check, retries included).",
	}, []string{"check"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "skydns", Subsystem: "scanner", Name: "probe_duration_seconds",
		Help:    "How long a check took, passed or failed.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"check"})
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "skydns", Subsystem: "scanner", Name: "probe_failures_total",
		Help: "Checks that failed, by reason.",
	}, []string{"check", "reason"})
	if reg != nil {
		reg.MustRegister(probes, latency, failures)
	}
	m := &Metrics{
		probes: map[Kind]prometheus.Counter{}, latency: map[Kind]prometheus.Observer{},
		failures: map[Kind]map[string]prometheus.Counter{},
	}
	for _, k := range kinds {
		m.probes[k] = probes.WithLabelValues(string(k))
		m.latency[k] = latency.WithLabelValues(string(k))
		m.failures[k] = map[string]prometheus.Counter{}
		for _, r := range reasons {
			m.failures[k][r] = failures.WithLabelValues(string(k), r)
		}
	}
	return m
}

func (m *Metrics) observe(k Kind, start time.Time, err error) {
	m.probes[k].Inc()
	m.latency[k].Observe(time.Since(start).Seconds())
	if err != nil {
		m.failures[k][Reason(err)].Inc()
	}
}
