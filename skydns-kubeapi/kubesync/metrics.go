package kubesync

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
)

// metrics are the sync's Prometheus metrics.
type metrics struct {
	leader          prometheus.Gauge
	elections       prometheus.Counter
	recordsWritten  prometheus.Counter
	recordsDeleted  prometheus.Counter
	policiesWritten prometheus.Counter
	policiesDeleted prometheus.Counter
	errors          *prometheus.CounterVec
	converged       prometheus.Gauge
	services        prometheus.GaugeFunc
	apiserverUp     prometheus.Gauge
}

// newMetrics labels every metric with the cluster, so that the syncs of
// several clusters can be told apart and each cluster's leader found.
func newMetrics(reg prometheus.Registerer, cluster string, services func() corelisters.ServiceLister) *metrics {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "skydns", Subsystem: "kubeapi", Name: name, Help: help,
			ConstLabels: prometheus.Labels{"cluster": cluster}}
	}
	m := &metrics{
		leader:          prometheus.NewGauge(prometheus.GaugeOpts(opts("sync_leader", "1 while this instance leads the Kubernetes sync of its cluster, and so writes."))),
		elections:       prometheus.NewCounter(prometheus.CounterOpts(opts("sync_elections_won_total", "Times this instance became the leader of the sync."))),
		recordsWritten:  prometheus.NewCounter(prometheus.CounterOpts(opts("sync_records_written_total", "Record keys the sync put (created or changed)."))),
		recordsDeleted:  prometheus.NewCounter(prometheus.CounterOpts(opts("sync_records_deleted_total", "Record keys the sync deleted."))),
		policiesWritten: prometheus.NewCounter(prometheus.CounterOpts(opts("sync_policies_written_total", "Policy keys the sync put (created or changed)."))),
		policiesDeleted: prometheus.NewCounter(prometheus.CounterOpts(opts("sync_policies_deleted_total", "Policy keys the sync deleted."))),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts(opts("sync_errors_total",
			"Service reconciles that failed and are retried, by reason: etcd (a request failed), conflict (the keys changed under the write), other.")),
			[]string{"reason"}),
		converged: prometheus.NewGauge(prometheus.GaugeOpts(opts("sync_last_converged_timestamp_seconds",
			"Unix time when the leader last had every service in sync, with nothing queued and nothing failing (0: never)."))),
		services: prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts("sync_services", "Services in the informer cache (leader or standby).")),
			func() float64 {
				l, _ := services().List(labels.Everything())
				return float64(len(l))
			}),
		apiserverUp: prometheus.NewGauge(prometheus.GaugeOpts(opts("sync_apiserver_up",
			"0 while the kube-apiserver does not answer the sync's list and watch calls (DNS keeps the records last synced), else 1."))),
	}
	for _, r := range []string{"etcd", "conflict", "other"} {
		m.errors.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.leader, m.elections, m.recordsWritten, m.recordsDeleted, m.policiesWritten,
			m.policiesDeleted, m.errors, m.converged, m.services, m.apiserverUp)
	}
	return m
}

// wrote counts the changes of a committed transaction.
func (m *metrics) wrote(chunk []change) {
	for _, c := range chunk {
		switch {
		case c.policy && c.value != nil:
			m.policiesWritten.Inc()
		case c.policy:
			m.policiesDeleted.Inc()
		case c.value != nil:
			m.recordsWritten.Inc()
		default:
			m.recordsDeleted.Inc()
		}
	}
}
