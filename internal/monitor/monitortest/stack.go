package monitortest

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/skydns-scanner/agent"
	"github.com/skydns/skydns/skydns-schedule/scheduler"
)

// Test-sized timings: a probe round of 100ms with the default rise 2 and
// fall 3 turns a dead backend DOWN within about 300ms.
const (
	Interval  = 100 * time.Millisecond
	Heartbeat = 200 * time.Millisecond // lease TTL 1s
	Rise      = 2
	Fall      = 3
)

// Prefix is the record prefix the helpers use.
const Prefix = "/skydns"

// Paths are the default monitor paths.
var Paths = monitor.DefaultPaths()

// Logger is a logger for daemons under test: quiet unless SKYDNS_TEST_LOG
// is set (to debug, info, warn or error).
func Logger(t testing.TB, name string) *slog.Logger {
	var lv slog.Level
	if lv.UnmarshalText([]byte(os.Getenv("SKYDNS_TEST_LOG"))) != nil {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv})).With("test", t.Name(), "who", name)
}

// AgentConfig is an agent with test timings: TCP only (ICMP off), probing
// defaultPorts where a job names none.
func AgentConfig(t testing.TB, name string, defaultPorts ...int) agent.Config {
	return agent.Config{
		Name: name, Paths: Paths, EnableCheck: true,
		HeartbeatInterval: Heartbeat, Interval: Interval, Timeout: 500 * time.Millisecond,
		Tries: 1, DefaultPorts: defaultPorts, PingTimeout: 500 * time.Millisecond, PingCount: 1,
		MaxThreads: 32, Rise: Rise, Fall: Fall, RequestTimeout: 3 * time.Second,
		Log: Logger(t, name),
	}
}

// ScheduleConfig is a schedule with test timings: a 1s leader lease,
// rounds every 200ms, statuses of unused IPs kept 1s.
func ScheduleConfig(t testing.TB, name string) scheduler.Config {
	return scheduler.Config{
		Name: name, Prefix: Prefix, Paths: Paths, LockPath: "/skydns/monitor/lock", LockTTL: time.Second,
		Interval: 200 * time.Millisecond, AgentDowntime: 5 * time.Second, Replicas: 2,
		StatusGrace: time.Second, RequestTimeout: 3 * time.Second,
		Log: Logger(t, name),
	}
}

// Proc is a daemon running in a goroutine.
type Proc struct {
	t      testing.TB
	cancel context.CancelFunc
	done   chan struct{}
}

// Go runs run until Stop or the end of the test.
func Go(t testing.TB, run func(ctx context.Context) error) *Proc {
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proc{t: t, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		if err := run(ctx); err != nil {
			t.Errorf("monitortest: daemon returned %v", err)
		}
	}()
	t.Cleanup(p.Stop)
	return p
}

// Stop ends the daemon the way SIGTERM does and waits for it (at most 10s).
func (p *Proc) Stop() {
	p.cancel()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("monitortest: daemon did not stop within 10s")
	}
}

// Done is closed when the daemon has returned.
func (p *Proc) Done() <-chan struct{} { return p.done }

// StartAgent runs an agent; its Proc stops it.
func StartAgent(t testing.TB, cli *clientv3.Client, cfg agent.Config) (*agent.Agent, *Proc) {
	t.Helper()
	a, err := agent.New(cli, cfg)
	if err != nil {
		t.Fatalf("monitortest: agent: %v", err)
	}
	return a, Go(t, a.Run)
}

// StartSchedule runs a schedule; its Proc stops it.
func StartSchedule(t testing.TB, cli *clientv3.Client, cfg scheduler.Config) (*scheduler.Scheduler, *Proc) {
	t.Helper()
	s := scheduler.New(cli, cfg)
	return s, Go(t, s.Run)
}

func jsonOf(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
