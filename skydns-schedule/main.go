// Command skydns-schedule spreads the SkyDNS health-check work over the live scanner agents.
package main

import (
	"context"

	"github.com/skydns/skydns/internal/config"
	"github.com/skydns/skydns/internal/daemon"
	"github.com/skydns/skydns/internal/events"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/skydns-schedule/scheduler"
)

func main() {
	daemon.Main(daemon.Program[config.Schedule]{
		Name:       "skydns-schedule",
		ConfigFile: config.ScheduleFile,
		Sections:   func(c *config.Schedule) (*config.Etcd, *config.Log) { return &c.Etcd.Etcd, &c.Log },
		Run:        run,
	})
}

func run(ctx context.Context, cfg *config.Schedule, env daemon.Env) error {
	sc := scheduler.FromConfig(cfg)
	reg := monitor.NewRegistry()
	sc.Log, sc.Registry = env.Log, reg
	if cfg.General.ForceLockTime > 0 {
		env.Log.Info("force-lock-time is ignored: the leader lock is an etcd lease (lock-ttl)")
	}
	if h := cfg.General.History; h.EventsRetention > 0 {
		w := events.NewWriter(env.Etcd, events.WriterConfig{Prefix: env.Prefix, Retention: h.EventsRetention, Max: h.EventsMax,
			RequestTimeout: cfg.Etcd.RequestTimeout, Log: env.Log, Registry: reg})
		go w.Run(ctx)
		sc.Events = w
	}
	s := scheduler.New(env.Etcd, sc)
	if addr := cfg.General.MetricsAddr; addr != "" {
		if err := monitor.ServeMetrics(ctx, addr, reg, s.Ready, env.Log); err != nil {
			return err
		}
	}
	return s.Run(ctx)
}
