// Package scheduler is skydns-schedule: it elects one leader among the
// running schedules, and the leader turns the records into probe targets,
// spreads them over the live agents, and turns the agents' reports into
// the health status of each IP.
package scheduler

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skydns/skydns/internal/config"
	"github.com/skydns/skydns/internal/election"
	"github.com/skydns/skydns/internal/etcdview"
	"github.com/skydns/skydns/internal/events"
	"github.com/skydns/skydns/internal/monitor"
)

// Config is what a Scheduler needs; FromConfig builds it from
// skydns-schedule.conf, tests build it directly.
type Config struct {
	Name     string // this schedule's name in the election
	Prefix   string // record prefix (etcd-prefix)
	Paths    monitor.Paths
	LockPath string        // election prefix
	LockTTL  time.Duration // the leader's lease; whole seconds
	// OverridePath holds the operators' per-IP overrides (override-path);
	// "" is monitor.DefaultOverridePath.
	OverridePath string

	Interval      time.Duration // full sweep: reassign, expire statuses, check agents
	AgentDowntime time.Duration // an agent whose lease went unrefreshed this long gets no jobs
	Replicas      int           // agents per target
	StatusGrace   time.Duration // keep the status of an unused IP this long

	// Events gets an event for every status written or removed; nil: no
	// history. Its owner runs it.
	Events *events.Writer

	RequestTimeout time.Duration
	Log            *slog.Logger
	Registry       prometheus.Registerer
}

// FromConfig turns the schedule's file into a Config.
func FromConfig(c *config.Schedule) Config {
	g := c.General
	return Config{
		Name: config.Hostname(g.Hostname), Prefix: c.Etcd.Prefix,
		Paths:    monitor.PathsFrom(c.Etcd.MonitorPaths),
		LockPath: c.Etcd.LockPath, LockTTL: c.Etcd.LockTTL, OverridePath: c.Etcd.OverridePath,
		Interval: g.Interval, AgentDowntime: g.AgentDowntime, Replicas: g.Replicas,
		StatusGrace: g.StatusGrace, RequestTimeout: c.Etcd.RequestTimeout,
	}
}

func (c *Config) defaults() {
	if c.Prefix == "" {
		c.Prefix = "/skydns"
	}
	if c.Paths == (monitor.Paths{}) {
		c.Paths = monitor.DefaultPaths()
	}
	if c.LockPath == "" {
		c.LockPath = "/skydns/monitor/lock"
	}
	c.OverridePath = monitor.OverrideDir(c.OverridePath)
	if c.LockTTL < time.Second {
		c.LockTTL = 10 * time.Second
	}
	if c.Interval <= 0 {
		c.Interval = 5 * time.Second
	}
	if c.AgentDowntime <= 0 {
		c.AgentDowntime = 15 * time.Second
	}
	c.Replicas = max(c.Replicas, 1)
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Name == "" {
		c.Name = config.Hostname("")
	}
}

// Scheduler is one skydns-schedule instance.
type Scheduler struct {
	cfg    Config
	cli    *clientv3.Client
	m      *metrics
	st     *state
	kick   chan struct{}
	views  []*etcdview.View
	leader atomic.Bool
}

// New returns a scheduler that talks to etcd through cli.
func New(cli *clientv3.Client, cfg Config) *Scheduler {
	cfg.defaults()
	s := &Scheduler{cfg: cfg, cli: cli, m: newMetrics(cfg.Registry), kick: make(chan struct{}, 1)}
	s.st = newState(cfg.Prefix, cfg.Paths, cfg.LockPath, cfg.OverridePath)
	s.st.onChange = func() {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	s.st.badRecords = s.m.badValues.Inc
	s.st.badOverride = func(key string, err error) {
		s.m.badValues.Inc()
		s.cfg.Log.Warn("ignoring an override that cannot be read; the IP's status follows its checks", "key", key, "err", err)
	}
	o := etcdview.Options{Logger: cfg.Log}
	for _, v := range []struct {
		prefix string
		h      etcdview.Handler
	}{
		{s.st.prefix, recordsView{s.st}},
		{cfg.Paths.Status, statusView{s.st}},
		{cfg.Paths.VerdictDir(), verdictsView{s.st}},
		{cfg.Paths.Report, reportsView{s.st}},
		{cfg.Paths.Heart, agentsView{s.st}},
		{cfg.Paths.Job, jobsView{s.st}},
		{cfg.OverridePath, overridesView{s.st}},
	} {
		s.views = append(s.views, etcdview.New(cli, v.prefix, v.h, o))
	}
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "skydns", Subsystem: "schedule", Name: "etcd_stale",
			Help: "1 while etcd has not confirmed one of the scheduler's views recently; it works from the last state.",
		}, s.etcdStale))
	}
	return s
}

// Leader reports whether this instance leads right now.
func (s *Scheduler) Leader() bool { return s.leader.Load() }

// Ready reports whether the scheduler could lead now: every etcd view has
// loaded (records, statuses, reports, agents, jobs, overrides). A standby
// is ready; like the other daemons it stays ready while etcd is briefly
// away (skydns_schedule_etcd_stale says so).
func (s *Scheduler) Ready() (bool, string) {
	for _, v := range s.views {
		if !v.Status().Loaded {
			return false, "etcd views not loaded yet"
		}
	}
	return true, ""
}

// etcdStale is 1 while any view is stale, for the metric.
func (s *Scheduler) etcdStale() float64 {
	for _, v := range s.views {
		if v.Status().Stale {
			return 1
		}
	}
	return 0
}

// Run keeps the views and campaigns until ctx ends; while it leads, it
// schedules. It steps down (resigns and revokes its lease, so that a
// standby takes over at once) before it returns nil.
func (s *Scheduler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, v := range s.views {
		wg.Go(func() { _ = v.Run(ctx) })
	}
	defer wg.Wait()
	reachable := false
	election.Run(ctx, s.cli, election.Config{
		Prefix: s.cfg.LockPath, Value: s.cfg.Name, TTL: s.cfg.LockTTL, RequestTimeout: s.cfg.RequestTimeout,
		Lead: s.lead,
		Granted: func() {
			if !reachable {
				s.cfg.Log.Info("etcd reachable")
				reachable = true
			}
		},
		SteppedDown: func() { s.cfg.Log.Info("stepped down", "name", s.cfg.Name) },
		Lost:        func(err error) { s.cfg.Log.Warn("lost the lead", "err", err) },
		Failed:      func(err error) { s.cfg.Log.Warn("leader election", "err", err) },
	})
	return nil
}
