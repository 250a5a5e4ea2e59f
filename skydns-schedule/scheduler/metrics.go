package scheduler

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	leader        prometheus.Gauge
	elections     prometheus.Counter
	targets       prometheus.Gauge
	agents        prometheus.Gauge
	jobWrites     prometheus.Counter
	statusChanges *prometheus.CounterVec
	statusDeleted prometheus.Counter
	conflicts     prometheus.Counter
	writeErrors   prometheus.Counter
	distrusted    *prometheus.GaugeVec
	badValues     prometheus.Counter
	overrides     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "skydns", Subsystem: "schedule", Name: name, Help: help}
	}
	m := &metrics{
		leader:        prometheus.NewGauge(prometheus.GaugeOpts(opts("leader", "1 while this instance is the leader."))),
		elections:     prometheus.NewCounter(prometheus.CounterOpts(opts("elections_won_total", "Times this instance became the leader."))),
		targets:       prometheus.NewGauge(prometheus.GaugeOpts(opts("targets", "IPs to probe (A/AAAA record addresses), as the leader sees them."))),
		agents:        prometheus.NewGauge(prometheus.GaugeOpts(opts("agents", "Agents that get jobs: alive, probing, heartbeat not overdue."))),
		jobWrites:     prometheus.NewCounter(prometheus.CounterOpts(opts("job_writes_total", "Job keys put or deleted."))),
		statusChanges: prometheus.NewCounterVec(prometheus.CounterOpts(opts("status_changes_total", "Status keys written, by the new status.")), []string{"status"}),
		statusDeleted: prometheus.NewCounter(prometheus.CounterOpts(opts("status_deleted_total", "Status keys removed: after status-grace because no record uses the IP, or when an override ends before any checker has a verdict."))),
		conflicts:     prometheus.NewCounter(prometheus.CounterOpts(opts("status_conflicts_total", "Status writes skipped because the key changed after the decision (decided again)."))),
		writeErrors:   prometheus.NewCounter(prometheus.CounterOpts(opts("write_errors_total", "Rounds whose etcd writes failed (retried)."))),
		distrusted: prometheus.NewGaugeVec(prometheus.GaugeOpts(opts("agent_distrusted",
			"1 for an agent whose votes are ignored: it reports most of its targets DOWN while its peers see them UP.")), []string{"agent"}),
		badValues: prometheus.NewCounter(prometheus.CounterOpts(opts("bad_values_total", "Record, policy or override values that could not be read and were skipped."))),
		overrides: prometheus.NewGauge(prometheus.GaugeOpts(opts("overrides",
			"Operators' overrides in force (read and not expired), whether or not a record uses their IP, as the leader sees them."))),
	}
	if reg != nil {
		reg.MustRegister(m.leader, m.elections, m.targets, m.agents, m.jobWrites, m.statusChanges,
			m.statusDeleted, m.conflicts, m.writeErrors, m.distrusted, m.badValues, m.overrides)
	}
	return m
}
