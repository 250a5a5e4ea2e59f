// Command skydns is the SkyDNS DNS server: it answers for the zones in etcd with the IPs whose health is UP.
package main

import (
	"context"

	"github.com/skydns/skydns/internal/config"
	"github.com/skydns/skydns/internal/daemon"
)

func main() {
	daemon.Main(daemon.Program[config.DNS]{
		Name:       "skydns",
		ConfigFile: config.DNSFile,
		Sections:   func(c *config.DNS) (*config.Etcd, *config.Log) { return &c.Etcd, &c.Log },
		Run:        run,
	})
}

func run(ctx context.Context, cfg *config.DNS, env daemon.Env) error {
	return daemon.WaitEtcd(ctx, env)
}
