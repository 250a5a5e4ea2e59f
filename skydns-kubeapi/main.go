// Command skydns-kubeapi syncs Kubernetes Services into SkyDNS records and
// serves the REST API for records.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/skydns/skydns/internal/config"
	"github.com/skydns/skydns/internal/daemon"
	"github.com/skydns/skydns/internal/events"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/api"
	"github.com/skydns/skydns/skydns-kubeapi/console"
	"github.com/skydns/skydns/skydns-kubeapi/kubesync"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

func main() {
	daemon.Main(daemon.Program[config.API]{
		Name:       "skydns-kubeapi",
		ConfigFile: config.APIFile,
		Sections:   func(c *config.API) (*config.Etcd, *config.Log) { return &c.Etcd, &c.Log },
		Run:        run,
	})
}

// shutdownGrace is how long requests in flight may take after SIGTERM.
const shutdownGrace = 10 * time.Second

func run(ctx context.Context, cfg *config.API, env daemon.Env) error {
	log := env.Log
	if !cfg.API.Enable && !cfg.Kube.Enable {
		log.Warn("both api-enable and kube-enable are false: nothing to do")
		return daemon.WaitEtcd(ctx, env)
	}
	var zones []string
	if cfg.API.Enable {
		zones = append(zones, cfg.API.Domains...)
	}
	var group func(string, record.Record) string
	if cfg.Kube.Enable {
		zones = append(zones, cfg.Kube.Domain)
		group = kubesync.Group(cfg.Kube.Domain, cfg.General.ClusterName)
	}
	st, err := store.New(env.Etcd, store.Options{
		Prefix: cfg.Etcd.Prefix, StatusPath: cfg.General.IPMonitorPath, OverridePath: cfg.General.OverridePath,
		Zones: zones, Group: group, Logger: log.With("component", "store"),
	})
	if err != nil {
		return err
	}
	reg := monitor.NewRegistry()
	st.RegisterMetrics(reg)

	// Everything that can fail on bad configuration is set up before
	// anything starts, so such a failure leaves nothing half running.
	tasks := map[string]func(context.Context) error{"store": st.Run}
	if cfg.Kube.Enable {
		// client-go logs through klog; send that to the daemon's log.
		klog.SetSlogLogger(log.With("component", "client-go"))
		client, err := kubeClient(cfg.Kube.ConfigFile, log)
		if err != nil {
			return err
		}
		s, err := kubesync.New(kubesync.Config{
			Domain: cfg.Kube.Domain, Cluster: cfg.General.ClusterName, User: config.Hostname(cfg.General.Host),
			PublishClusterIP: cfg.Kube.PublishClusterIP, Site: cfg.Kube.Site, MaxTxnOps: cfg.General.MaxTxnOps,
			RequestTimeout: cfg.Etcd.RequestTimeout, LockTTL: cfg.Kube.LockTTL, Registry: reg,
			Logger: log.With("component", "kubesync"),
		}, client, st)
		if err != nil {
			return err
		}
		tasks["kubernetes sync"] = s.Run
	}
	if cfg.API.Enable {
		kubeDomain := ""
		if cfg.Kube.Enable {
			kubeDomain = cfg.Kube.Domain
		}
		var history *events.Writer
		if h := cfg.General.History; h.EventsRetention > 0 {
			history = events.NewWriter(env.Etcd, events.WriterConfig{Prefix: env.Prefix, Retention: h.EventsRetention,
				Max: h.EventsMax, RequestTimeout: cfg.Etcd.RequestTimeout, Log: log.With("component", "events"), Registry: reg})
			tasks["events"] = func(ctx context.Context) error { history.Run(ctx); return nil }
		}
		a, err := api.New(api.Config{
			Domains: cfg.API.Domains, KubeDomain: kubeDomain, Token: cfg.API.AuthToken, TokensFile: cfg.API.TokensFile,
			OpenReads: cfg.API.OpenReads, MaxBody: cfg.API.MaxBody, MaxTxnOps: cfg.General.MaxTxnOps,
			Cluster: cfg.General.ClusterName, RequestTimeout: cfg.Etcd.RequestTimeout, Events: history,
			Registry: reg, Logger: log.With("component", "api"),
			UI: consoleOf(cfg, st),
		}, st)
		if err != nil {
			return err
		}
		// SIGHUP reads api-tokens-file again (a bad file keeps the tokens in use).
		env.OnHangup(func() { _ = a.ReloadTokens() })
		ln, err := net.Listen("tcp", cfg.API.Address)
		if err != nil {
			return fmt.Errorf("api: %w", err)
		}
		scheme := "http"
		if cfg.API.TLSCert != "" {
			scheme = "https"
		}
		log.Info("api listening", "addr", ln.Addr().String(), "scheme", scheme, "domains", cfg.API.Domains,
			"writes", cfg.API.AuthToken != "" || cfg.API.TokensFile != "", "tokens-file", cfg.API.TokensFile)
		tasks["api"] = func(ctx context.Context) error {
			return a.Serve(ctx, ln, cfg.API.TLSCert, cfg.API.TLSKey, shutdownGrace)
		}
	} else if addr := cfg.General.MetricsAddr; addr != "" {
		// A sync without the API still gets /metrics, /healthz and /readyz.
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		log.Info("metrics listening", "addr", ln.Addr().String())
		tasks["metrics"] = func(ctx context.Context) error {
			return serveMetrics(ctx, ln, api.MetricsHandler(reg, st), log)
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go daemon.LogEtcdReachable(ctx, env)
	var wg sync.WaitGroup
	errc := make(chan error, len(tasks))
	for name, f := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One part failing stops the others, and the daemon exits 1.
			if err := f(ctx); err != nil && ctx.Err() == nil {
				errc <- fmt.Errorf("%s: %w", name, err)
				cancel()
			}
		}()
	}
	<-ctx.Done()
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

// serveMetrics serves h on ln until ctx ends.
func serveMetrics(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	<-errc
	return nil
}

// kubeClient connects with the kubeconfig file, or with the service
// account of the pod the daemon runs in when the file is not set.
func kubeClient(path string, log *slog.Logger) (kubernetes.Interface, error) {
	var rc *rest.Config
	var err error
	if path != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", path)
	} else {
		rc, err = rest.InClusterConfig()
		if errors.Is(err, rest.ErrNotInCluster) {
			err = fmt.Errorf("%w; set kube-config-file in [Kube2Skydns] to run outside a cluster", err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	rc.UserAgent = "skydns-kubeapi"
	rc.WarningHandlerWithContext = warnings{log}
	return kubernetes.NewForConfig(rc)
}

// warnings logs the Kubernetes API's deprecation warnings.
type warnings struct{ log *slog.Logger }

func (w warnings) HandleWarningHeaderWithContext(_ context.Context, code int, agent, text string) {
	w.log.Warn("kubernetes API warning", "code", code, "agent", agent, "text", text)
}

// consoleOf returns the console of the API: /ui/ (docs/console.md).
func consoleOf(cfg *config.API, st *store.Store) func(http.Handler, func(*http.Request, bool) error) http.Handler {
	return func(apiRoutes http.Handler, authorize func(*http.Request, bool) error) http.Handler {
		explainURL := ""
		if cfg.API.ExplainAddr != "" {
			explainURL = "http://" + cfg.API.ExplainAddr
		}
		c, err := console.New(console.Options{
			API:       apiRoutes,
			Authorize: authorize,
			Names:     st.Names,
			Etcd:      st.Client(), Paths: monitor.DefaultPaths(), LockKey: console.DefaultLockKey,
			ExplainURL: explainURL, ExplainToken: cfg.API.ExplainToken,
			Events: console.History{Etcd: st.Client(), Prefix: cfg.Etcd.Prefix},
		})
		if err != nil {
			panic(err) // the embedded templates do not parse: a build defect
		}
		return c
	}
}
