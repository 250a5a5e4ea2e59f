package agent

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
)

// A report written just as etcd's leader dies lands once a new leader is
// elected, not after the whole request timeout: the member the scanner
// talks to forwarded the write to the dead leader, which drops it, and the
// old reporter waited its 5 s out before trying again, keeping a dead
// backend in DNS as long. The bound is the first try (1 s) plus the
// election (500 ms here) with room for a loaded machine, well under 5 s.
func TestReportRidesOutLeaderKill(t *testing.T) {
	const requestTimeout = 5 * time.Second
	const bound = 3 * time.Second
	members := etcdtest.Cluster(t, 3)
	leader := members.Leader()
	follower := (leader + 1) % 3
	// The scanner reaches only the follower, which stays up: its writes
	// go through the leader that is killed.
	cli := members.Proxy(follower).Client(t)
	check := members.Client()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lease, err := cli.Grant(ctx, 60)
	if err != nil {
		t.Fatal(err)
	}
	paths := monitor.DefaultPaths()
	r := newReporter(cli, &Config{Name: "a1", Paths: paths, RequestTimeout: requestTimeout,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, newMetrics(prometheus.NewRegistry()))
	r.setLease(lease.ID)
	done := make(chan struct{})
	go func() { defer close(done); r.run(ctx) }()
	defer func() { cancel(); <-done }()

	ip := netip.MustParseAddr("192.0.2.7")
	key := paths.ReportKey(ip, "a1")
	members.Member(leader).Kill()
	start := time.Now()
	r.set(monitor.Target{IP: ip, Check: monitor.DefaultCheck}, health.Status{Status: "DOWN"})
	var took time.Duration
	for deadline := start.Add(4 * requestTimeout); ; {
		gctx, gcancel := context.WithTimeout(ctx, time.Second)
		resp, err := check.Get(gctx, key)
		gcancel()
		if err == nil && len(resp.Kvs) == 1 {
			took = time.Since(start)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("report not in etcd %s after the leader was killed", time.Since(start).Round(time.Millisecond))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("report landed %s after the leader was killed", took.Round(time.Millisecond))
	if took > bound {
		t.Fatalf("report landed %s after the leader was killed, want within %s (request timeout %s)", took.Round(time.Millisecond), bound, requestTimeout)
	}
}
