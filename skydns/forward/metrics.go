package forward

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics always exist so the code counts without checking; they reach a
// registry only when Options.Registerer is set.
type metrics struct {
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
	duration prometheus.Histogram
	hits     prometheus.Counter
	misses   prometheus.Counter
	entries  prometheus.Gauge
	busy     prometheus.Counter
	inFlight prometheus.Collector
}

// newMetrics makes the metrics; inFlight counts the questions on the wire.
func newMetrics(reg prometheus.Registerer, inFlight func() int) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skydns_forward_requests_total",
			Help: "Replies received from upstream servers, by server and rcode.",
		}, []string{"server", "rcode"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "skydns_forward_errors_total",
			Help: "Failed tries at upstream servers, by server and reason (timeout, network, servfail, refused).",
		}, []string{"server", "reason"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "skydns_forward_duration_seconds",
			Help:    "Time of one try at an upstream server, UDP and any TCP retry, answered or not.",
			Buckets: prometheus.ExponentialBuckets(0.00025, 2, 16), // 0.25ms to 8s
		}),
		hits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skydns_cache_hits_total",
			Help: "Forwarded questions answered from the cache.",
		}),
		misses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skydns_cache_misses_total",
			Help: "Forwarded questions not found in the cache.",
		}),
		entries: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "skydns_cache_entries",
			Help: "Answers in the forwarding cache, including expired ones not yet evicted.",
		}),
		busy: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "skydns_forward_busy_total",
			Help: "Questions failed at once (SERVFAIL) because they needed a query of their own while max-forward-queries were on the wire.",
		}),
		inFlight: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "skydns_forward_in_flight",
			Help: "Questions on the wire to upstream servers now (identical questions share one).",
		}, func() float64 { return float64(inFlight()) }),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.requests, err = register(reg, m.requests); err != nil {
		return nil, err
	}
	if m.errors, err = register(reg, m.errors); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	if m.hits, err = register(reg, m.hits); err != nil {
		return nil, err
	}
	if m.misses, err = register(reg, m.misses); err != nil {
		return nil, err
	}
	if m.entries, err = register(reg, m.entries); err != nil {
		return nil, err
	}
	if m.busy, err = register(reg, m.busy); err != nil {
		return nil, err
	}
	// A reload's new Forwarder must report its own flights, not the old
	// one's: replace the gauge rather than reuse it.
	reg.Unregister(m.inFlight)
	if err := reg.Register(m.inFlight); err != nil {
		return nil, fmt.Errorf("forward: metrics: %w", err)
	}
	return m, nil
}

// register adds c to reg, or returns the collector already there: a reload
// builds a new Forwarder on the same registry, and its counters must carry
// on from the old one's rather than fail.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) (T, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if old, ok := are.ExistingCollector.(T); ok {
			return old, nil
		}
	}
	return c, fmt.Errorf("forward: metrics: %w", err)
}
