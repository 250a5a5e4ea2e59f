package config

import "time"

// Schedule is the configuration of skydns-schedule (skydns-schedule.conf).
type Schedule struct {
	General ScheduleGeneral `ini:"General"`
	Etcd    ScheduleEtcd    `ini:"Etcd"`
	Log     Log             `ini:"Log" alias:"log-dir=General.log-dir,log-level=General.log-level"`
}

// ScheduleGeneral is [General] of skydns-schedule.conf.
type ScheduleGeneral struct {
	Interval      time.Duration `ini:"schedule-interval" unit:"s" default:"5s" help:"how often the leader reassigns probe jobs to live scanners"`
	AgentDowntime time.Duration `ini:"agent-downtime" unit:"s" default:"15s" help:"a scanner whose last heartbeat is older than this is dead and loses its jobs"`
	Hostname      string        `ini:"hostname" default:"" help:"name this scheduler uses in the leader election; empty: the OS hostname"`
	ForceLockTime time.Duration `ini:"force-lock-time" unit:"s" default:"0s" help:"accepted for old files and unused: the leader lock is an etcd lease that expires by itself"`
	Replicas      int           `ini:"replicas" default:"2" help:"scanners that probe each IP (fewer if fewer are alive)"`
	StatusGrace   time.Duration `ini:"status-grace" unit:"s" default:"300s" help:"how long the health status of an IP no record uses any more is kept before it is deleted"`
	MetricsAddr   string        `ini:"metrics-addr" default:"127.0.0.1:9155" help:"address of the Prometheus /metrics listener, host:port; empty: no listener"`
	History
}

// ScheduleEtcd is [Etcd] of skydns-schedule.conf: the shared keys, the
// leader lock and the monitor directories.
type ScheduleEtcd struct {
	Etcd
	LockPath string `ini:"lock-path" default:"/skydns/monitor/lock" help:"etcd key of the leader lock; only the holder schedules"`
	// The election runs on a lease: a leader that dies without resigning
	// is replaced once its lease expires.
	LockTTL time.Duration `ini:"lock-ttl" unit:"s" default:"10s" help:"TTL of the leader's lease, whole seconds: a leader that dies without stepping down is replaced within this time"`
	MonitorPaths
	// Only the schedule and the API use the overrides; the scanner never
	// reads them, so the key is not one of the shared MonitorPaths.
	OverridePath string `ini:"override-path" default:"/skydns/monitor/override/" help:"etcd directory of the operators' per-IP overrides (take an IP out of the answers, or serve it whatever its checks say), written through skydns-kubeapi; the leader writes an IP's override into its status while it lasts. override-path of skydns-api.conf must equal the schedule's"`
}

// Validate checks values that parse but cannot work.
func (c Schedule) Validate() error {
	var p problems
	const sec = "General"
	g := c.General
	checkPositive(&p, sec, "schedule-interval", g.Interval)
	checkPositive(&p, sec, "agent-downtime", g.AgentDowntime)
	checkMin(&p, sec, "replicas", g.Replicas, 1)
	if g.StatusGrace < 0 {
		p.add(sec, "status-grace", "must not be negative, got %v", g.StatusGrace)
	}
	checkOptionalAddr(&p, sec, "metrics-addr", g.MetricsAddr)
	g.History.check(&p, sec)
	c.Etcd.check(&p, "Etcd")
	checkEtcdPath(&p, "Etcd", "lock-path", c.Etcd.LockPath)
	checkTTL(&p, "Etcd", "lock-ttl", c.Etcd.LockTTL, time.Second)
	c.Etcd.checkPaths(&p, "Etcd")
	checkEtcdPath(&p, "Etcd", "override-path", c.Etcd.OverridePath)
	c.Log.check(&p, "Log")
	return p.err()
}
