// Package daemon is the start and stop sequence the SkyDNS daemons share:
// flags, config, logger, etcd (a cluster, or one embedded in-process for the
// local stack), signals, and a clean exit. Each program supplies only its
// own Run.
package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/config"
	"github.com/skydns/skydns/internal/embedetcd"
	"github.com/skydns/skydns/internal/etcdclient"
	"github.com/skydns/skydns/internal/logging"
	"github.com/skydns/skydns/internal/version"
)

// Env is what a program's Run gets besides its config.
type Env struct {
	Log  *slog.Logger
	Etcd *clientv3.Client
	// Prefix is [Etcd] etcd-prefix.
	Prefix string
	hooks  *hangupHooks
}

// OnHangup adds f to what SIGHUP does, after reopening the log file: a
// daemon reloads there what it reads from files of its own (skydns-kubeapi:
// api-tokens-file). f runs on the signal's goroutine, one at a time.
func (e Env) OnHangup(f func()) {
	if e.hooks == nil {
		return // an Env a test built: no signal handling
	}
	e.hooks.mu.Lock()
	defer e.hooks.mu.Unlock()
	e.hooks.fns = append(e.hooks.fns, f)
}

type hangupHooks struct {
	mu  sync.Mutex
	fns []func()
}

func (h *hangupHooks) run() {
	h.mu.Lock()
	fns := slices.Clone(h.fns)
	h.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

// ProbeKey is the key a daemon reads to learn that etcd answers: one key
// under the prefix, so that a role limited to the prefix may read it, and
// a single-key read costs etcd nothing.
func (e Env) ProbeKey() string { return strings.TrimSuffix(e.Prefix, "/") + "/" }

// Program describes one daemon.
type Program[C any] struct {
	Name       string // e.g. "skydns-scanner"; names the log file too
	ConfigFile string // default -config-file
	// Sections returns the config's [Etcd] and [Log] sections.
	Sections func(*C) (*config.Etcd, *config.Log)
	// Run does the daemon's work until ctx ends (SIGTERM or SIGINT), then
	// returns nil after letting go of what it holds.
	Run func(ctx context.Context, cfg *C, env Env) error
}

// Exit codes: 0 clean stop, 1 runtime failure, 2 bad flags or config.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// Main runs p with the process's arguments and exits.
func Main[C any](p Program[C]) {
	os.Exit(run(p, os.Args[1:], os.Stderr))
}

func run[C any](p Program[C], args []string, stderr io.Writer) (code int) {
	fs := flag.NewFlagSet(p.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := config.RegisterFlags(fs, p.ConfigFile)
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *showVersion {
		fmt.Fprintln(os.Stdout, version.String(p.Name))
		return exitOK
	}

	cfg := new(C)
	warnings, err := flags.Load(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", p.Name, err)
		return exitUsage
	}
	etcdCfg, logCfg := p.Sections(cfg)
	log, closeLog, err := logging.New(logging.Options{
		Level: logCfg.SlogLevel(), Format: logCfg.Format, Dir: logCfg.Dir,
		AlsoStdout: logCfg.ToStdio, Program: p.Name,
	})
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", p.Name, err)
		return exitUsage
	}
	if closeLog != nil {
		defer closeLog.Close()
	}
	for _, w := range warnings {
		log.Warn("config: " + w)
	}

	// A panic must not reach the operator as a bare stack trace on a
	// terminal: it is logged, with the stack, and the daemon exits 1 so that
	// systemd restarts it.
	defer func() {
		if r := recover(); r != nil {
			log.Error("panic", "panic", r, "stack", string(debug.Stack()))
			code = exitFailure
		}
	}()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hooks := &hangupHooks{}
	stopHUP := onHangup(log, closeLog, hooks)
	defer stopHUP()

	env := Env{Log: log, hooks: hooks}
	endpoints := etcdCfg.Servers
	if etcdCfg.Embedded() {
		srv, err := embedetcd.Start(ctx, embedetcd.Options{
			Dir: etcdCfg.EmbeddedDataDir, ClientAddr: etcdCfg.EmbeddedClientAddr,
		})
		if err != nil {
			log.Error("embedded etcd did not start", "err", err)
			return exitFailure
		}
		defer srv.Close() // after the client's Close below: defers run LIFO
		endpoints = srv.Endpoints()
		log.Info("embedded etcd started", "endpoints", endpoints, "dir", etcdCfg.EmbeddedDataDir)
	}
	cli, err := etcdclient.New(etcdclient.Options{
		Endpoints: endpoints, DialTimeout: etcdCfg.DialTimeout,
		CAFile: etcdCfg.CAFile, CertFile: etcdCfg.CertFile, KeyFile: etcdCfg.KeyFile,
	})
	if err != nil {
		log.Error("etcd client", "err", err)
		return exitFailure
	}
	defer cli.Close()
	env.Etcd, env.Prefix = cli, etcdCfg.Prefix

	log.Info("starting", "version", version.Version, "config", flags.ConfigFile, "etcd", endpoints)
	start := time.Now()
	err = p.Run(ctx, cfg, env)
	if err != nil && ctx.Err() == nil {
		log.Error("stopped on error", "err", err)
		return exitFailure
	}
	log.Info("stopped", "uptime", time.Since(start).Round(time.Millisecond).String())
	return exitOK
}

// onHangup makes SIGHUP reopen the log file, which is what logrotate's
// postrotate expects; without it the signal would kill the daemon. Then it
// runs the hooks of Env.OnHangup. The configuration is read once, at
// start: SIGHUP does not reload it.
func onHangup(log *slog.Logger, f *logging.File, hooks *hangupHooks) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
			}
			reopen(log, f)
			hooks.run()
		}
	}()
	return func() { signal.Stop(hup); close(done) }
}

func reopen(log *slog.Logger, f *logging.File) {
	if f == nil {
		log.Info("SIGHUP: logging to stdout, no file to reopen; the configuration is read only at start")
		return
	}
	if err := f.Reopen(); err != nil {
		log.Error("SIGHUP: log file not reopened; still writing to the old one", "err", err)
		return
	}
	log.Info("SIGHUP: log file reopened; the configuration is read only at start", "file", f.Path())
}

// WaitEtcd logs once etcd answers and then waits for ctx: the body of a
// daemon that has nothing else to do.
func WaitEtcd(ctx context.Context, env Env) error {
	LogEtcdReachable(ctx, env)
	<-ctx.Done()
	return nil
}

// LogEtcdReachable logs once etcd answers, so that an operator (and the
// end-to-end tests) can tell the daemon is connected; until then it warns
// once and keeps trying, while the daemon goes on with what it has.
func LogEtcdReachable(ctx context.Context, env Env) {
	warned := false
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := env.Etcd.Get(cctx, env.ProbeKey())
		cancel()
		if err == nil {
			env.Log.Info("etcd reachable")
			return
		}
		if ctx.Err() != nil {
			return
		}
		if !warned {
			env.Log.Warn("etcd not reachable yet; the client keeps trying", "err", err)
			warned = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}
