// Command skydns is the SkyDNS DNS server: it answers for the zones in etcd
// with the IPs whose health is UP, and forwards other names for the
// clients allowed to recurse.
package main

import (
	"context"
	"errors"
	"maps"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/skydns/skydns/internal/config"
	"github.com/skydns/skydns/internal/daemon"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/skydns/forward"
	"github.com/skydns/skydns/skydns/server"
	"github.com/skydns/skydns/skydns/stats"
	"github.com/skydns/skydns/skydns/zone"
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
	log := env.Log
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	store := zone.New(zone.Options{
		Prefix: cfg.Etcd.Prefix, Zones: cfg.DNS.Zones(), Descend: cfg.DNS.DescendZones(),
		StatusPath: cfg.DNS.IPMonitorPath, Logger: log,
	})
	// The first load builds the whole view at once, and garbage-collecting
	// every time the heap doubles on the way up costs seconds with a
	// million names. Collect less often until it is done, with a memory
	// limit as the guard; then return to the defaults and hand the load's
	// garbage back to the OS before saying ready.
	gcPercent := debug.SetGCPercent(400)
	memLimit := debug.SetMemoryLimit(1 << 30)
	var ready atomic.Bool
	wait := store.Start(ctx, env.Etcd)
	defer wait()
	go func() {
		if store.Ready(ctx) {
			debug.SetGCPercent(gcPercent)
			debug.SetMemoryLimit(memLimit)
			debug.FreeOSMemory()
			ready.Store(true)
			log.Info("ready: etcd reachable, zones loaded")
		}
	}()

	var fwd server.Resolver
	upstreams := cfg.DNS.Forwarders()
	if len(upstreams) == 0 {
		rc, err := forward.ResolvConf("/etc/resolv.conf")
		if err != nil {
			log.Warn("no ex-nameservers and /etc/resolv.conf unusable: names outside the zones are refused", "err", err)
		}
		upstreams = rc
	}
	stubs := cfg.DNS.StubZoneMap()
	if len(upstreams) > 0 || len(stubs) > 0 {
		f, err := forward.New(forward.Options{
			Upstreams: upstreams, StubZones: stubs, Timeout: cfg.DNS.ForwardTimeout,
			CacheSize: cfg.DNS.CacheSize, MaxQueries: cfg.DNS.MaxForwardQ, Registerer: reg, Logger: log,
		})
		if err != nil {
			return err
		}
		defer f.Close()
		fwd = f
	}

	mode := policy.ModeAll
	switch {
	case cfg.Fun.HoldOne:
		mode = policy.ModeHoldOne
	case cfg.Fun.RandomOne:
		mode = policy.ModeRandom
	}
	metrics := server.NewMetrics(reg, store)
	h := server.NewHandler(server.Config{
		TTL: seconds(cfg.DNS.TTL), HealthTTLCap: seconds(cfg.DNS.HealthTTLCap), NegativeTTL: seconds(cfg.DNS.NegativeTTL),
		ServeUnchecked: cfg.DNS.ServeUnchecked, DefaultMode: mode, DefaultAllDown: policy.AllDown(cfg.DNS.AllDown),
		MaxAnswers: cfg.DNS.MaxAnswers, ClientMaskV4: cfg.DNS.ClientMaskV4, ClientMaskV6: cfg.DNS.ClientMaskV6,
		AllowRecursion: cfg.DNS.RecursionPrefixes(), AllowPTR: cfg.DNS.PTRPrefixes(), StubZones: slices.Collect(maps.Keys(stubs)),
		Forwarder: fwd, ForwardTimeout: cfg.DNS.ForwardTimeout,
		UDPReceiveBuffer: cfg.DNS.UDPRcvBuf, MaxTCPConns: cfg.DNS.MaxTCPConns,
		MaxSlowQueries: cfg.DNS.MaxSlowQ,
	}, store, metrics)

	dnsL, err := server.Listen(cfg.DNS.Addr, h)
	if err != nil {
		return err
	}
	log.Info("serving DNS", "addr", dnsL.Addr(), "zones", cfg.DNS.Zones(), "forwarders", upstreams,
		"udp-receive-buffer", dnsL.ReceiveBuffer())
	if want := cfg.DNS.UDPRcvBuf; want > 0 && dnsL.ReceiveBuffer() < want {
		log.Warn("the kernel capped the UDP receive buffer; raise net.core.rmem_max or grant CAP_NET_ADMIN",
			"asked", want, "granted", dnsL.ReceiveBuffer())
	}

	var httpSrv *http.Server
	if cfg.Stats.Addr != "" {
		ln, err := net.Listen("tcp", cfg.Stats.Addr)
		if err != nil {
			dnsL.Shutdown(context.Background())
			return err
		}
		httpSrv = monitor.NewHTTPServer(stats.Handler(stats.Options{
			Gatherer: reg, Store: store, Metrics: metrics, Handler: h, Token: cfg.Stats.AuthToken, Start: time.Now(),
			Ready: ready.Load,
		}), log)
		go func() {
			if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("stats server", "err", err)
			}
		}()
		log.Info("serving HTTP", "addr", ln.Addr().String())
	}

	<-ctx.Done()
	if d := cfg.DNS.ShutdownDelay; d > 0 && ready.Load() {
		// The store has stopped following etcd with ctx; what it holds is
		// still served while health checks see /readyz fail.
		ready.Store(false)
		log.Info("draining: /readyz answers 503, DNS still answered", "for", d.String())
		time.Sleep(d)
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = dnsL.Shutdown(shutdown)
	if httpSrv != nil {
		err = errors.Join(err, httpSrv.Shutdown(shutdown))
	}
	return err
}

func seconds(d time.Duration) uint32 { return uint32(d / time.Second) }
