package agent_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
	"github.com/skydns/skydns/skydns-scanner/agent"
	"github.com/skydns/skydns/skydns-scanner/probe"
)

var paths = mt.Paths

func putJob(t *testing.T, cli *clientv3.Client, agent string, ip netip.Addr, spec string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, paths.JobKey(agent, ip), spec); err != nil {
		t.Fatal(err)
	}
}

// report returns the agent's report on ip: its state and the key's
// version (how many times it was written since it was created).
func report(t *testing.T, cli *clientv3.Client, agent string, ip netip.Addr) (health.State, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, paths.ReportKey(ip, agent))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return health.Unknown, 0
	}
	st, err := health.Decode(resp.Kvs[0].Value)
	if err != nil {
		t.Fatalf("report %s: %v", resp.Kvs[0].Value, err)
	}
	s, _ := st.State()
	return s, resp.Kvs[0].Version
}

func waitReport(t *testing.T, cli *clientv3.Client, agent string, ip netip.Addr, want health.State) {
	t.Helper()
	mt.Eventually(t, 10*time.Second, fmt.Sprintf("report of %s on %s is %v", agent, ip, want), func() bool {
		s, _ := report(t, cli, agent, ip)
		return s == want
	})
}

// The agent registers on a lease, follows its jobs, writes a report only
// when a verdict changes, drops the report of a withdrawn job, and on stop
// revokes its lease so that its key and reports vanish at once.
func TestAgentLifecycle(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 3)
	bs[1].Kill()
	spec := fmt.Sprintf(`{"ports":[%d]}`, bs[0].Port())
	for _, b := range bs {
		putJob(t, cli, "a1", b.IP(), spec)
	}
	putJob(t, cli, "other", bs[0].IP(), spec) // someone else's job
	reg := prometheus.NewRegistry()
	cfg := mt.AgentConfig(t, "a1")
	cfg.Registry = reg
	a, proc := mt.StartAgent(t, cli, cfg)

	waitReport(t, cli, "a1", bs[0].IP(), health.Up)
	waitReport(t, cli, "a1", bs[1].IP(), health.Down)
	waitReport(t, cli, "a1", bs[2].IP(), health.Up)
	if !a.Registered() {
		t.Error("not registered")
	}
	if st, _ := report(t, cli, "a1", bs[0].IP()); st != health.Up {
		t.Fatal("lost report")
	}
	if n := mt.Count(t, cli, paths.Report); n != 3 {
		t.Errorf("%d reports, want 3 (not the other agent's job)", n)
	}

	// Ten more rounds: nothing changes, nothing is written.
	runs := func() float64 { v, _ := mt.Metric(reg, "skydns_scanner_runs_total", nil); return v }
	start := runs()
	mt.Eventually(t, 5*time.Second, "ten more rounds", func() bool { return runs() >= start+30 })
	for _, b := range bs {
		if _, version := report(t, cli, "a1", b.IP()); version != 1 {
			t.Errorf("report on %s written %d times, want once", b.IP(), version)
		}
	}

	// A verdict change is written; a withdrawn job's report goes.
	bs[0].Kill()
	waitReport(t, cli, "a1", bs[0].IP(), health.Down)
	mt.Delete(t, cli, paths.JobKey("a1", bs[2].IP()))
	waitReport(t, cli, "a1", bs[2].IP(), health.Unknown)
	if v, _ := mt.Metric(reg, "skydns_scanner_targets", nil); v != 2 {
		t.Errorf("targets gauge %v, want 2", v)
	}
	if v, _ := mt.Metric(reg, "skydns_scanner_targets_down", nil); v != 2 {
		t.Errorf("targets_down gauge %v, want 2", v)
	}
	if v, ok := mt.Metric(reg, "skydns_scanner_probe_failures_total", map[string]string{"check": "tcp", "reason": "refused"}); !ok || v == 0 {
		t.Errorf("no refused failures counted")
	}

	// Stop: lease revoked, key and reports gone without waiting for a TTL.
	proc.Stop()
	if n := mt.Count(t, cli, paths.Report); n != 0 {
		t.Errorf("%d reports left after stop, want 0", n)
	}
	if n := mt.Count(t, cli, paths.AgentKey("a1")); n != 0 {
		t.Errorf("heartbeat key left after stop")
	}
}

// While etcd is out of reach the agent keeps probing; its lease expires
// (its reports with it); when etcd is back it registers again and writes
// its current verdicts, including the change it saw meanwhile.
func TestAgentRidesOutEtcdOutage(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 2)
	spec := fmt.Sprintf(`{"ports":[%d]}`, bs[0].Port())
	for _, b := range bs {
		putJob(t, cli, "a1", b.IP(), spec)
	}
	proxy := etcd.Proxy()
	mt.StartAgent(t, proxy.Client(t), mt.AgentConfig(t, "a1"))
	waitReport(t, cli, "a1", bs[0].IP(), health.Up)
	waitReport(t, cli, "a1", bs[1].IP(), health.Up)

	proxy.Cut()
	bs[0].Kill()
	mt.Eventually(t, 10*time.Second, "lease expires with the agent cut off", func() bool {
		return mt.Count(t, cli, paths.AgentKey("a1")) == 0 && mt.Count(t, cli, paths.Report) == 0
	})
	proxy.Restore()
	waitReport(t, cli, "a1", bs[0].IP(), health.Down)
	waitReport(t, cli, "a1", bs[1].IP(), health.Up)
	if mt.Count(t, cli, paths.AgentKey("a1")) != 1 {
		t.Error("not registered again")
	}
}

// A job with an HTTP check: the verdict follows the status code.
func TestAgentHTTPJob(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 1) // speaks no HTTP: the GET fails
	srv := newHTTPBackend(t)
	putJob(t, cli, "a1", srv.ip, fmt.Sprintf(`{"http":{"port":%d,"path":"/health"}}`, srv.port))
	putJob(t, cli, "a1", bs[0].IP(), fmt.Sprintf(`{"http":{"port":%d}}`, bs[0].Port()))
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a1", 1)) // default port 1 is not probed: the job has HTTP
	waitReport(t, cli, "a1", srv.ip, health.Up)
	waitReport(t, cli, "a1", bs[0].IP(), health.Down)
	srv.status.Store(503)
	waitReport(t, cli, "a1", srv.ip, health.Down)
	srv.status.Store(200)
	waitReport(t, cli, "a1", srv.ip, health.Up)
}

// ICMP: an address that stops answering ping is reported DOWN, and UP
// again when it answers. Needs root (a network namespace).
func TestAgentICMPJob(t *testing.T) {
	if _, err := probe.DetectICMP(); err != nil {
		t.Skipf("cannot ping from this process: %v", err)
	}
	ns := mt.NewNetNS(t)
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	putJob(t, cli, "a1", ns.PeerIP, `{"icmp":true}`)
	cfg := mt.AgentConfig(t, "a1") // no default ports: ICMP only
	cfg.PingTimeout = 200 * time.Millisecond
	mt.StartAgent(t, cli, cfg)
	waitReport(t, cli, "a1", ns.PeerIP, health.Up)
	ns.PeerDown()
	waitReport(t, cli, "a1", ns.PeerIP, health.Down)
	ns.PeerUp()
	waitReport(t, cli, "a1", ns.PeerIP, health.Up)
}

// An agent with enable-check = false registers as idle and probes nothing.
func TestIdleAgent(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	cfg := mt.AgentConfig(t, "idle")
	cfg.EnableCheck = false
	a, _ := mt.StartAgent(t, cli, cfg)
	mt.Eventually(t, 10*time.Second, "registered", a.Registered)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, paths.AgentKey("idle"))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("heartbeat: %v %v", resp, err)
	}
	if hb := monitor.DecodeHeartbeat(resp.Kvs[0].Value); !hb.Idle || hb.TTL < 1 || resp.Kvs[0].Lease == 0 {
		t.Errorf("heartbeat %s (lease %d), want idle on a lease", resp.Kvs[0].Value, resp.Kvs[0].Lease)
	}
}

// Two agents under one name: the second waits until the first is gone.
func TestDuplicateNameWaits(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	first, p1 := mt.StartAgent(t, cli, mt.AgentConfig(t, "same"))
	mt.Eventually(t, 10*time.Second, "first registered", first.Registered)
	second, _ := mt.StartAgent(t, cli, mt.AgentConfig(t, "same"))
	time.Sleep(500 * time.Millisecond) // it tries, and must not succeed
	if second.Registered() {
		t.Fatal("the second agent took a name in use")
	}
	p1.Stop()
	mt.Eventually(t, 10*time.Second, "second registered once the first left", second.Registered)
}

// After etcd is restored from a snapshot older than the agent's last
// report, the agent writes its reports again: they reflect what it sees
// now, not what the snapshot held.
func TestAgentRewritesReportsAfterRestore(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 1)
	putJob(t, cli, "a1", bs[0].IP(), fmt.Sprintf(`{"ports":[%d]}`, bs[0].Port()))
	// A lease that outlives etcd's restarts: a new lease would rewrite the
	// reports anyway, and this is about the lease that survives.
	cfg := mt.AgentConfig(t, "a1")
	cfg.HeartbeatInterval = 10 * time.Second
	cfg.ViewProgress = 100 * time.Millisecond
	mt.StartAgent(t, etcd.Client(), cfg)
	waitReport(t, cli, "a1", bs[0].IP(), health.Up)

	restore := etcd.Snapshot() // holds the UP report
	waitReport(t, cli, "a1", bs[0].IP(), health.Up)
	bs[0].Kill()
	waitReport(t, cli, "a1", bs[0].IP(), health.Down)
	// A backup is older than the last write by more than a moment: let
	// the agent read etcd's revision at least once after its report.
	time.Sleep(500 * time.Millisecond)
	restore() // back to the UP report
	waitReport(t, cli, "a1", bs[0].IP(), health.Down)
}

// /readyz of a scanner: ready once it holds its lease and has its jobs.
// Like the other daemons it stays ready while etcd is away (it probes its
// last jobs), and says so in skydns_scanner_etcd_stale.
func TestAgentReady(t *testing.T) {
	etcd := etcdtest.Start(t)
	proxy := etcd.Proxy()
	cfg := mt.AgentConfig(t, "a1")
	cfg.ViewProgress = 100 * time.Millisecond
	reg := prometheus.NewRegistry()
	cfg.Registry = reg
	a, err := agent.New(proxy.Client(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := a.Ready(); ok || !strings.Contains(why, "lease") {
		t.Fatalf("before Run: Ready = %v %q, want not ready for want of a lease", ok, why)
	}
	stale := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "skydns_scanner_etcd_stale" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no skydns_scanner_etcd_stale")
		return -1
	}
	mt.Go(t, a.Run)
	mt.Eventually(t, 10*time.Second, "ready", func() bool { ok, _ := a.Ready(); return ok })
	if v := stale(); v != 0 {
		t.Fatalf("etcd_stale = %v while etcd answers", v)
	}
	proxy.Cut()
	mt.Eventually(t, 10*time.Second, "stale with etcd cut off", func() bool { return stale() == 1 })
	if ok, why := a.Ready(); !ok {
		t.Fatalf("not ready while etcd is briefly away: %s", why)
	}
	proxy.Restore()
	mt.Eventually(t, 20*time.Second, "current again", func() bool { return stale() == 0 })
}
