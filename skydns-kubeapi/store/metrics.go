package store

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterMetrics registers gauges that read the state of the store's
// mirrors with reg: whether they have loaded, whether etcd has confirmed
// them lately, and how long ago it did.
func (s *Store) RegisterMetrics(reg prometheus.Registerer) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "skydns", Subsystem: "kubeapi", Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "skydns", Subsystem: "kubeapi", Name: name, Help: help}, f)
	}
	b2f := func(b bool) float64 {
		if b {
			return 1
		}
		return 0
	}
	reg.MustRegister(
		gauge("etcd_ready", "1 once the records, policies, statuses and overrides have loaded from etcd.",
			func() float64 { return b2f(s.Status().Loaded) }),
		gauge("etcd_stale", "1 while etcd has not confirmed the in-memory copy recently; reads come from the last state.",
			func() float64 { return b2f(s.Status().Stale) }),
		gauge("etcd_last_sync_age_seconds", "Seconds since etcd last confirmed the copy that lags most (-1 before the first load).",
			func() float64 {
				t := s.Status().LastSync
				if t.IsZero() {
					return -1
				}
				return time.Since(t).Seconds()
			}),
		counter("etcd_reloads_total", "Full reloads of the in-memory copy after lost history (compaction).",
			func() float64 { return float64(s.Status().Reloads) }),
		counter("etcd_watch_restarts_total", "Watches of the in-memory copy re-established after a failure.",
			func() float64 { return float64(s.Status().Restarts) }),
	)
}
