// Command skydns-scanner is the SkyDNS health-check agent: it probes the IPs assigned to it and reports UP or DOWN.
package main

import (
	"context"

	"github.com/skydns/skydns/internal/config"
	"github.com/skydns/skydns/internal/daemon"
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
	return daemon.WaitEtcd(ctx, env)
}
