// Package agent is the skydns-scanner health-check agent: it registers in
// etcd on a lease, follows the jobs the schedule leader assigns to it,
// probes each target once per check-interval, and reports a verdict per
// target, with flap protection, whenever that verdict changes.
package agent

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdview"
	"github.com/skydns/skydns/skydns-scanner/probe"
)

// Agent is one scanner.
type Agent struct {
	cfg     Config
	cli     *clientv3.Client
	m       *metrics
	prober  *probe.Prober
	rep     *reporter
	jobs    *jobs
	started time.Time

	registered atomic.Bool
	view       atomic.Pointer[etcdview.View] // the job view, once Run made it
	icmpMode   probe.ICMPMode
}

// New returns an agent that talks to etcd through cli. It detects how it
// may ping; without any way to, ICMP checks are skipped (and logged),
// because failing them would report every target down.
func New(cli *clientv3.Client, cfg Config) (*Agent, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	m := newMetrics(cfg.Registry)
	mode, err := probe.DetectICMP()
	if err != nil && cfg.EnableCheck {
		cfg.Log.Error("ICMP checks are skipped", "err", err)
	}
	a := &Agent{
		cfg: cfg, cli: cli, m: m, started: time.Now().UTC().Truncate(time.Second), icmpMode: mode,
		prober: probe.New(probe.Options{
			Timeout: cfg.Timeout, Tries: cfg.Tries, PingTimeout: cfg.PingTimeout,
			PingCount: cfg.PingCount, ICMPMode: mode, RootCAs: cfg.RootCAs,
		}, m.probe),
	}
	a.rep = newReporter(cli, &a.cfg, m)
	a.jobs = newJobs(&a.cfg, m)
	a.jobs.reloaded = a.rep.rewriteAll
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "skydns", Subsystem: "scanner", Name: "etcd_stale",
			Help: "1 while etcd has not confirmed the agent's jobs recently; it probes the last known ones.",
		}, a.etcdStale))
	}
	return a, nil
}

// Name is the agent's name in etcd.
func (a *Agent) Name() string { return a.cfg.Name }

// Registered reports whether the agent currently holds its lease.
func (a *Agent) Registered() bool { return a.registered.Load() }

// Ready reports whether the agent does its work: it holds its lease (so
// the schedule gives it jobs) and, when it checks, has loaded its jobs.
// Like the other daemons' /readyz it stays ready while etcd is briefly
// away (it probes its last jobs); skydns_scanner_etcd_stale tells that.
func (a *Agent) Ready() (bool, string) {
	if !a.registered.Load() {
		return false, "no lease: not registered with etcd"
	}
	if !a.cfg.EnableCheck {
		return true, ""
	}
	v := a.view.Load()
	if v == nil {
		return false, "jobs not loaded yet"
	}
	if !v.Status().Loaded {
		return false, "jobs not loaded yet"
	}
	return true, ""
}

// etcdStale is 1 while the job view is stale, for the metric.
func (a *Agent) etcdStale() float64 {
	if v := a.view.Load(); v != nil && v.Status().Stale {
		return 1
	}
	return 0
}

// Run works until ctx ends, then revokes its lease so that its heartbeat
// and reports vanish at once, and returns nil. It never gives up on etcd:
// while etcd is away the agent keeps probing its last jobs and writes the
// verdicts that changed once etcd is back.
func (a *Agent) Run(ctx context.Context) error {
	a.cfg.Log.Info("agent starting", "agent", a.cfg.Name, "checks", a.cfg.EnableCheck,
		"interval", a.cfg.Interval.String(), "rise", a.cfg.Rise, "fall", a.cfg.Fall,
		"max-thread", a.cfg.MaxThreads, "icmp", a.icmpMode.String())
	var wg sync.WaitGroup
	wg.Go(func() { a.heartbeat(ctx) })
	if a.cfg.EnableCheck {
		view := etcdview.New(a.cli, a.cfg.Paths.JobPrefix(a.cfg.Name), a.jobs, etcdview.Options{Logger: a.cfg.Log, ProgressInterval: a.cfg.ViewProgress})
		a.view.Store(view)
		wg.Go(func() { _ = view.Run(ctx) })
		wg.Go(func() { a.rep.run(ctx) })
		wg.Go(func() { newLoop(a).run(ctx) })
	}
	wg.Wait()
	return nil
}
