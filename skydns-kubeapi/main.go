// Command skydns-kubeapi syncs Kubernetes Services into SkyDNS records and serves the REST API for records.
package main

import (
	"context"

	"github.com/skydns/skydns/internal/config"
	"github.com/skydns/skydns/internal/daemon"
)

func main() {
	daemon.Main(daemon.Program[config.API]{
		Name:       "skydns-kubeapi",
		ConfigFile: config.APIFile,
		Sections:   func(c *config.API) (*config.Etcd, *config.Log) { return &c.Etcd, &c.Log },
		Run:        run,
	})
}

func run(ctx context.Context, cfg *config.API, env daemon.Env) error {
	return daemon.WaitEtcd(ctx, env)
}
