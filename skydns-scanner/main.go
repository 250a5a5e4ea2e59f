// Command skydns-scanner is the SkyDNS health-check agent: it probes the IPs assigned to it and reports UP or DOWN.
package main

import (
	"context"
	"runtime"

	"github.com/skydns/skydns/internal/config"
	"github.com/skydns/skydns/internal/daemon"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/skydns-scanner/agent"
)

func main() {
	daemon.Main(daemon.Program[config.Scanner]{
		Name:       "skydns-scanner",
		ConfigFile: config.ScannerFile,
		Sections:   func(c *config.Scanner) (*config.Etcd, *config.Log) { return &c.Etcd.Etcd, &c.Log },
		Run:        run,
	})
}

func run(ctx context.Context, cfg *config.Scanner, env daemon.Env) error {
	if n := cfg.General.Cores; n > 0 {
		runtime.GOMAXPROCS(n)
	}
	ac, err := agent.FromConfig(cfg)
	if err != nil {
		return err
	}
	reg := monitor.NewRegistry()
	ac.Log, ac.Registry = env.Log, reg
	a, err := agent.New(env.Etcd, ac)
	if err != nil {
		return err
	}
	if addr := cfg.General.MetricsAddr; addr != "" {
		if err := monitor.ServeMetrics(ctx, addr, reg, a.Ready, env.Log); err != nil {
			return err
		}
	}
	return a.Run(ctx)
}
