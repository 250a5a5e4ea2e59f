// Package scheduler is skydns-schedule: it elects one leader among the
// running schedules, and the leader turns the records into probe targets,
// spreads them over the live agents, and turns the agents' reports into
// the health status of each IP.
package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skydns/skydns/internal/backoff"
	"github.com/skydns/skydns/internal/config"
	"github.com/skydns/skydns/internal/etcdview"
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

	Interval      time.Duration // full sweep: reassign, expire statuses, check agents
	AgentDowntime time.Duration // an agent whose lease went unrefreshed this long gets no jobs
	Replicas      int           // agents per target
	StatusGrace   time.Duration // keep the status of an unused IP this long

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
		LockPath: c.Etcd.LockPath, LockTTL: c.Etcd.LockTTL,
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
	s.st = newState(cfg.Prefix, cfg.Paths, cfg.LockPath)
	s.st.onChange = func() {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	s.st.badRecords = s.m.badValues.Inc
	o := etcdview.Options{Logger: cfg.Log}
	for _, v := range []struct {
		prefix string
		h      etcdview.Handler
	}{
		{s.st.prefix, recordsView{s.st}},
		{cfg.Paths.Status, statusView{s.st}},
		{cfg.Paths.Report, reportsView{s.st}},
		{cfg.Paths.Heart, agentsView{s.st}},
		{cfg.Paths.Job, jobsView{s.st}},
	} {
		s.views = append(s.views, etcdview.New(cli, v.prefix, v.h, o))
	}
	return s
}

// Leader reports whether this instance leads right now.
func (s *Scheduler) Leader() bool { return s.leader.Load() }

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
	b := backoff.New()
	for ctx.Err() == nil {
		err := s.campaign(ctx, func() {
			if !reachable {
				s.cfg.Log.Info("etcd reachable")
				reachable = true
			}
		})
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			s.cfg.Log.Warn("leader election", "err", err)
			if !b.Wait(ctx) {
				break
			}
			continue
		}
		b = backoff.New()
	}
	return nil
}

// campaign runs one session: wait to lead, lead until the session or ctx
// ends, step down.
func (s *Scheduler) campaign(ctx context.Context, reached func()) error {
	// The lease is granted here, under ctx, because a session's own grant
	// cannot be interrupted; the session then keeps it alive.
	gctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	g, err := s.cli.Grant(gctx, int64(s.cfg.LockTTL/time.Second))
	cancel()
	if err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	reached()
	sess, err := concurrency.NewSession(s.cli, concurrency.WithLease(g.ID), concurrency.WithTTL(int(g.TTL)))
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	// Close revokes the lease: on a clean stop the standby needs no TTL.
	defer sess.Close()
	// NewElection adds the slash between the prefix and each candidate key.
	el := concurrency.NewElection(sess, strings.TrimRight(s.cfg.LockPath, "/"))
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
			cancel() // the lease is lost: stop campaigning or leading
		case <-cctx.Done():
		}
	}()
	if err := el.Campaign(cctx, s.cfg.Name); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("campaign: %w", err)
	}
	select {
	case <-sess.Done():
		return fmt.Errorf("lease lost while campaigning")
	default:
	}
	s.leader.Store(true)
	s.m.leader.Set(1)
	s.m.elections.Inc()
	s.cfg.Log.Info("leading", "name", s.cfg.Name, "key", el.Key())
	err = s.lead(cctx, el)
	s.leader.Store(false)
	s.m.leader.Set(0)
	rctx, rcancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer rcancel()
	_ = el.Resign(rctx)
	if ctx.Err() != nil {
		s.cfg.Log.Info("stepped down", "name", s.cfg.Name)
		return nil
	}
	s.cfg.Log.Warn("lost the lead", "err", err)
	return nil
}
