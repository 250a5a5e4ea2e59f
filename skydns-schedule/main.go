// Command skydns-schedule spreads the SkyDNS health-check work over the live scanner agents.
package main

import (
	"context"

	"github.com/skydns/skydns/internal/config"
	"github.com/skydns/skydns/internal/daemon"
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
	return daemon.WaitEtcd(ctx, env)
}
