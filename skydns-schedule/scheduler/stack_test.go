package scheduler_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/skydns-schedule/scheduler"
)

func ips(bs []*mt.Backend) []netip.Addr {
	out := make([]netip.Addr, len(bs))
	for i, b := range bs {
		out[i] = b.IP()
	}
	return out
}

// A backend that dies turns DOWN within fall x interval (+ slack for the
// pipeline), comes back UP after rise probes, and its neighbours never move.
func TestBackendKilledAndRestarted(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 3)
	for _, b := range bs {
		mt.PutRecord(t, cli, mt.Prefix, "web.skydns.local.", b.IP())
	}
	st := mt.WatchStatuses(t, cli, mt.Paths)
	mt.StartSchedule(t, cli, mt.ScheduleConfig(t, "s1"))
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a1", bs[0].Port()))
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a2", bs[0].Port()))

	if _, ok := st.WaitAll(ips(bs), health.Up, 15*time.Second); !ok {
		t.Fatalf("not all UP: %v %v %v", st.Current(bs[0].IP()), st.Current(bs[1].IP()), st.Current(bs[2].IP()))
	}

	killed := time.Now()
	bs[0].Kill()
	down := st.Wait(bs[0].IP(), health.Down, 10*time.Second)
	bound := mt.Fall*mt.Interval + time.Second
	t.Logf("listener killed -> status DOWN: %v (bound %v)", down.Sub(killed), bound)
	if d := down.Sub(killed); d > bound {
		t.Errorf("DOWN after %v, want within fall x interval + 1s = %v", d, bound)
	}

	bs[0].Restart()
	st.Wait(bs[0].IP(), health.Up, 10*time.Second)
	if n := st.Transitions(bs[0].IP()); n != 3 {
		t.Errorf("killed backend: %d transitions, want 3 (UP, DOWN, UP): %+v", n, st.Changes(bs[0].IP()))
	}
	for _, b := range bs[1:] {
		if n := st.Transitions(b.IP()); n != 1 {
			t.Errorf("%s: %d transitions, want 1: %+v", b.IP(), n, st.Changes(b.IP()))
		}
	}
}

// A backend that flaps faster than rise/fall allows causes a bounded
// number of status changes, not one per flap.
func TestFlappingBackendIsDamped(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 1)
	b := bs[0]
	mt.PutRecord(t, cli, mt.Prefix, "flap.skydns.local.", b.IP())
	st := mt.WatchStatuses(t, cli, mt.Paths)
	mt.StartSchedule(t, cli, mt.ScheduleConfig(t, "s1"))
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a1", b.Port()))
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a2", b.Port()))
	st.Wait(b.IP(), health.Up, 15*time.Second)

	// Down for one probe interval, up for two: one or two failures in a
	// row, never the 3 that fall needs, and the 2 passes of rise between.
	// 10 flaps, 3s.
	const flaps = 10
	for range flaps {
		b.Kill()
		time.Sleep(mt.Interval)
		b.Restart()
		time.Sleep(2 * mt.Interval)
	}
	// A loaded machine can stretch a down phase over 3 probes now and then;
	// without flap protection there would be up to 2 x flaps changes.
	if n := st.Transitions(b.IP()); n > 3 {
		t.Errorf("%d status changes for %d flaps, want at most 3: %+v", n, flaps, st.Changes(b.IP()))
	}
	st.Wait(b.IP(), health.Up, 5*time.Second)
}

// Two agents with R=1: when one dies without a word (its etcd connection
// cut, so its lease runs out), its targets move to the other and are still
// checked.
func TestDeadAgentsTargetsAreReassigned(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 8)
	for _, b := range bs {
		mt.PutRecord(t, cli, mt.Prefix, "web.skydns.local.", b.IP())
	}
	st := mt.WatchStatuses(t, cli, mt.Paths)
	sc := mt.ScheduleConfig(t, "s1")
	sc.Replicas = 1
	mt.StartSchedule(t, cli, sc)
	proxy := etcd.Proxy()
	mt.StartAgent(t, proxy.Client(t), mt.AgentConfig(t, "a1", bs[0].Port()))
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a2", bs[0].Port()))
	if _, ok := st.WaitAll(ips(bs), health.Up, 15*time.Second); !ok {
		t.Fatal("not all UP")
	}
	var jobs map[string][]netip.Addr
	mt.Eventually(t, 5*time.Second, "both agents hold jobs", func() bool {
		jobs = mt.Jobs(t, cli)
		return len(jobs["a1"]) > 0 && len(jobs["a2"]) > 0 && len(jobs["a1"])+len(jobs["a2"]) == len(bs)
	})
	moved := jobs["a1"]

	proxy.Cut() // a1 can neither heartbeat nor resign: a crash, as etcd sees it
	cut := time.Now()
	mt.Eventually(t, 10*time.Second, "a1's jobs move to a2", func() bool {
		j := mt.Jobs(t, cli)
		return len(j["a1"]) == 0 && len(j["a2"]) == len(bs)
	})
	t.Logf("agent cut off -> its jobs reassigned: %v (lease TTL 1s)", time.Since(cut))

	// A backend a1 used to check is still checked.
	victim := moved[0]
	for _, b := range bs {
		if b.IP() == victim {
			b.Kill()
		}
	}
	st.Wait(victim, health.Down, 5*time.Second)
	for _, b := range bs {
		if b.IP() != victim && st.Current(b.IP()) != health.Up {
			t.Errorf("%s is %v", b.IP(), st.Current(b.IP()))
		}
	}
}

// Two schedules: when the leader dies without a word, the standby takes
// over within the lease TTL and statuses keep moving; the old leader, back
// on the network, is a standby and writes nothing.
func TestLeaderKilledStandbyTakesOver(t *testing.T) {
	ls := startLeaderAndStandby(t)
	bs, st, proxy, s1, s2, c2, reg := ls.bs, ls.st, ls.proxy, ls.s1, ls.s2, ls.c2, ls.reg
	if s2.Leader() {
		t.Fatal("two leaders")
	}

	proxy.Cut()
	cut := time.Now()
	mt.Eventually(t, 10*time.Second, "s2 leads", s2.Leader)
	took := time.Since(cut)
	t.Logf("leader cut off -> standby leads: %v (lock TTL 1s)", took)
	if limit := time.Second + 2*time.Second; took > limit {
		t.Errorf("takeover took %v, want within the lease TTL (+ etcd's expiry check and slack: %v)", took, limit)
	}
	// The new leader computes the same assignment: it moves nothing. Its
	// first round runs the moment it leads; two rounds' time is plenty.
	time.Sleep(2 * c2.Interval)
	if v, _ := mt.Metric(reg, "skydns_schedule_job_writes_total", nil); v != 0 {
		t.Errorf("the new leader wrote %v jobs, want 0: a leader change must move nothing", v)
	}

	bs[0].Kill()
	st.Wait(bs[0].IP(), health.Down, 5*time.Second)
	bs[0].Restart()
	st.Wait(bs[0].IP(), health.Up, 5*time.Second)

	// The old leader comes back as a standby.
	proxy.Restore()
	// Nothing to wait for but time: s1 must not take the lead back. 1.5s
	// is enough for it to reconnect and campaign.
	time.Sleep(1500 * time.Millisecond)
	if s1.Leader() || !s2.Leader() {
		t.Fatalf("after s1 returned: s1 leader %v, s2 leader %v", s1.Leader(), s2.Leader())
	}
}

// R=2 with one agent that cannot reach anything: it alone never brings an
// IP down; it is distrusted (and a metric says so); real failures are
// still seen through the healthy agent.
func TestBlindAgentCannotBringIPsDown(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 4)
	for _, b := range bs {
		mt.PutRecord(t, cli, mt.Prefix, "web.skydns.local.", b.IP())
	}
	st := mt.WatchStatuses(t, cli, mt.Paths)
	reg := prometheus.NewRegistry()
	sc := mt.ScheduleConfig(t, "s1")
	sc.Registry = reg
	mt.StartSchedule(t, cli, sc)
	mt.StartAgent(t, cli, mt.AgentConfig(t, "good", bs[0].Port()))
	// Every connect of this agent times out before it starts: what an
	// agent whose own network is broken sees.
	blind := mt.AgentConfig(t, "blind", bs[0].Port())
	blind.Timeout = time.Nanosecond
	mt.StartAgent(t, cli, blind)

	if _, ok := st.WaitAll(ips(bs), health.Up, 15*time.Second); !ok {
		t.Fatal("not all UP")
	}
	mt.Eventually(t, 10*time.Second, "blind agent reports everything DOWN", func() bool {
		r := mt.Reports(t, cli)
		for _, b := range bs {
			if r[b.IP()]["blind"] != health.Down || r[b.IP()]["good"] != health.Up {
				return false
			}
		}
		return true
	})
	mt.Eventually(t, 5*time.Second, "blind agent distrusted", func() bool {
		v, ok := mt.Metric(reg, "skydns_schedule_agent_distrusted", map[string]string{"agent": "blind"})
		return ok && v == 1
	})
	if v, ok := mt.Metric(reg, "skydns_schedule_agent_distrusted", map[string]string{"agent": "good"}); ok && v != 0 {
		t.Errorf("good agent distrusted")
	}
	for _, b := range bs {
		if n := st.Transitions(b.IP()); n != 1 {
			t.Errorf("%s: %d status changes, want 1 (UP): %+v", b.IP(), n, st.Changes(b.IP()))
		}
	}

	// A real failure still shows: the good agent's vote is the only one.
	bs[1].Kill()
	st.Wait(bs[1].IP(), health.Down, 5*time.Second)
	bs[1].Restart()
	st.Wait(bs[1].IP(), health.Up, 5*time.Second)
}

// The status of an IP that no record uses any more is removed after
// status-grace, not before.
func TestUnusedStatusRemovedAfterGrace(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 2)
	mt.PutRecord(t, cli, mt.Prefix, "web.skydns.local.", bs[0].IP())
	gone := mt.PutRecord(t, cli, mt.Prefix, "old.skydns.local.", bs[1].IP())
	st := mt.WatchStatuses(t, cli, mt.Paths)
	sc := mt.ScheduleConfig(t, "s1")
	sc.StatusGrace = 1500 * time.Millisecond
	mt.StartSchedule(t, cli, sc)
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a1", bs[0].Port()))
	if _, ok := st.WaitAll(ips(bs), health.Up, 15*time.Second); !ok {
		t.Fatal("not all UP")
	}
	mt.Delete(t, cli, gone)
	deleted := time.Now()
	at := st.Wait(bs[1].IP(), health.Unknown, 10*time.Second)
	after := at.Sub(deleted)
	t.Logf("record deleted -> status removed: %v (grace %v)", after, sc.StatusGrace)
	if after < sc.StatusGrace {
		t.Errorf("status removed after %v, before the grace of %v", after, sc.StatusGrace)
	}
	if st.Current(bs[0].IP()) != health.Up {
		t.Errorf("the used IP lost its status")
	}
	// Its jobs went at once, with the record.
	for agent, list := range mt.Jobs(t, cli) {
		for _, ip := range list {
			if ip == bs[1].IP() {
				t.Errorf("%s still has a job on %s", agent, ip)
			}
		}
	}
}

// One IP used by several names is one target per distinct check of
// theirs: names that probe it the same way share one job per agent, and
// a name without a check has the default check; an idle agent
// (enable-check = false) gets none.
func TestSharedIPIsOneTargetPerCheck(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 1)
	ip := bs[0].IP()
	for _, n := range []string{"a", "b", "c", "d"} {
		mt.PutRecord(t, cli, mt.Prefix, n+".skydns.local.", ip)
	}
	port := policy.Policy{Check: &policy.Check{Ports: []int{bs[0].Port()}}}
	mt.PutPolicy(t, cli, mt.Prefix, "a.skydns.local.", port)
	mt.PutPolicy(t, cli, mt.Prefix, "d.skydns.local.", port) // a's check: the same target
	mt.PutPolicy(t, cli, mt.Prefix, "b.skydns.local.", policy.Policy{Check: &policy.Check{Require: policy.RequireAll}})
	st := mt.WatchStatuses(t, cli, mt.Paths)
	mt.StartSchedule(t, cli, mt.ScheduleConfig(t, "s1"))
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a1")) // no default port: the policy's must be used
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a2"))
	idle := mt.AgentConfig(t, "idle")
	idle.EnableCheck = false
	mt.StartAgent(t, cli, idle)
	st.Wait(ip, health.Up, 15*time.Second) // UP while any check is UP: a's

	specs := map[string]string{ // check-id -> job value
		monitor.DefaultCheck: `{}`, // c
		monitor.CheckIDOf([]byte(fmt.Sprintf(`{"ports":[%d]}`, bs[0].Port()))): fmt.Sprintf(`{"ports":[%d]}`, bs[0].Port()), // a, d
		monitor.CheckIDOf([]byte(`{"require":"all"}`)):                         `{"require":"all"}`,                         // b
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, mt.Paths.Job, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	jobs := map[string]int{} // agent -> jobs
	for _, kv := range resp.Kvs {
		agent, jip, id, err := mt.Paths.ParseCheckJobKey(string(kv.Key))
		if err != nil || jip != ip || specs[id] != string(kv.Value) {
			t.Errorf("job %s = %s, want one of %v", kv.Key, kv.Value, specs)
		}
		jobs[agent]++
	}
	if len(jobs) != 2 || jobs["a1"] != len(specs) || jobs["a2"] != len(specs) {
		t.Errorf("jobs per agent %v, want %d each on a1 and a2 (none on idle)", jobs, len(specs))
	}
}

// An agent whose key is alive (a long lease) but whose heartbeat stopped
// more than agent-downtime ago gets no jobs.
func TestOverdueAgentLosesItsJobs(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 4)
	for _, b := range bs {
		mt.PutRecord(t, cli, mt.Prefix, "web.skydns.local.", b.IP())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// A lease of 30s that nobody refreshes: the agent's process hangs.
	g, err := cli.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, mt.Paths.AgentKey("stuck"), `{"ttl":30}`, clientv3.WithLease(g.ID)); err != nil {
		t.Fatal(err)
	}
	sc := mt.ScheduleConfig(t, "s1")
	sc.AgentDowntime = time.Second
	mt.StartSchedule(t, cli, sc)
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a1", bs[0].Port()))
	st := mt.WatchStatuses(t, cli, mt.Paths)
	if _, ok := st.WaitAll(ips(bs), health.Up, 15*time.Second); !ok {
		t.Fatal("not all UP")
	}
	// Whole seconds: overdue once two seconds have passed without a beat.
	mt.Eventually(t, 10*time.Second, "the stuck agent's jobs are withdrawn", func() bool {
		j := mt.Jobs(t, cli)
		return len(j["stuck"]) == 0 && len(j["a1"]) == len(bs)
	})
	if mt.Count(t, cli, mt.Paths.AgentKey("stuck")) != 1 {
		t.Fatal("the stuck agent's key should still be there (its lease has not expired)")
	}
}

// The original scanner's heartbeat is a key without a lease. Left behind
// after a migration, it must not count as a live agent: it would get jobs
// that nobody probes, and keep its IPs UP for ever.
func TestHeartbeatWithoutLeaseIsNotAnAgent(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 4)
	for _, b := range bs {
		mt.PutRecord(t, cli, mt.Prefix, "web.skydns.local.", b.IP())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, mt.Paths.AgentKey("old-scanner"), `{"hostname":"old-scanner"}`); err != nil {
		t.Fatal(err)
	}
	mt.StartSchedule(t, cli, mt.ScheduleConfig(t, "s1"))
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a1", bs[0].Port()))
	st := mt.WatchStatuses(t, cli, mt.Paths)
	if _, ok := st.WaitAll(ips(bs), health.Up, 15*time.Second); !ok {
		t.Fatal("not all UP")
	}
	if j := mt.Jobs(t, cli); len(j["old-scanner"]) != 0 || len(j["a1"]) != len(bs) {
		t.Fatalf("jobs = %v; want all on a1, none on the lease-less heartbeat", j)
	}
	bs[1].Kill()
	if _, ok := st.WaitAll(ips(bs[1:2]), health.Down, 15*time.Second); !ok {
		t.Fatal("a killed backend stayed UP")
	}
}

// leaderAndStandby is two backends of web.skydns.local, all UP: schedule
// s1 leads through a proxy the test can cut, s2 stands by with its own
// metrics, and two agents probe.
type leaderAndStandby struct {
	cli    *clientv3.Client
	bs     []*mt.Backend
	st     *mt.Statuses
	proxy  *etcdtest.Proxy
	s1, s2 *scheduler.Scheduler
	c2     scheduler.Config
	reg    *prometheus.Registry
}

func startLeaderAndStandby(t *testing.T) leaderAndStandby {
	t.Helper()
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 2)
	for _, b := range bs {
		mt.PutRecord(t, cli, mt.Prefix, "web.skydns.local.", b.IP())
	}
	st := mt.WatchStatuses(t, cli, mt.Paths)
	proxy := etcd.Proxy()
	s1, _ := mt.StartSchedule(t, proxy.Client(t), mt.ScheduleConfig(t, "s1"))
	mt.Eventually(t, 10*time.Second, "s1 leads", s1.Leader)
	reg := prometheus.NewRegistry()
	c2 := mt.ScheduleConfig(t, "s2")
	c2.Registry = reg
	s2, _ := mt.StartSchedule(t, cli, c2)
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a1", bs[0].Port()))
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a2", bs[0].Port()))
	if _, ok := st.WaitAll(ips(bs), health.Up, 15*time.Second); !ok {
		t.Fatal("not all UP")
	}
	return leaderAndStandby{cli: cli, bs: bs, st: st, proxy: proxy, s1: s1, s2: s2, c2: c2, reg: reg}
}

// /readyz and the metrics of a schedule that stops leading: ready once its
// views have loaded; stale in the metric while etcd is away; a former
// leader reports no targets or agents of its own.
func TestReadyStaleAndFormerLeaderMetrics(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 2)
	for _, b := range bs {
		mt.PutRecord(t, cli, mt.Prefix, "web.skydns.local.", b.IP())
	}
	proxy := etcd.Proxy()
	reg := prometheus.NewRegistry()
	c1 := mt.ScheduleConfig(t, "s1")
	c1.Registry = reg
	s1 := scheduler.New(proxy.Client(t), c1)
	if ok, _ := s1.Ready(); ok {
		t.Fatal("ready before any view loaded")
	}
	p1 := mt.Go(t, s1.Run)
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a1", bs[0].Port()))
	mt.Eventually(t, 10*time.Second, "s1 ready and leading", func() bool { ok, _ := s1.Ready(); return ok && s1.Leader() })
	metric := func(name string) float64 { v, _ := mt.Metric(reg, name, nil); return v }
	mt.Eventually(t, 10*time.Second, "the leader counts its targets", func() bool {
		return metric("skydns_schedule_targets") == 2 && metric("skydns_schedule_agents") == 1
	})
	if v := metric("skydns_schedule_etcd_stale"); v != 0 {
		t.Fatalf("etcd_stale = %v with etcd answering", v)
	}

	proxy.Cut()
	mt.Eventually(t, 10*time.Second, "stale with etcd cut off", func() bool { return metric("skydns_schedule_etcd_stale") == 1 })
	if ok, why := s1.Ready(); !ok {
		t.Fatalf("not ready while etcd is away: %s", why)
	}
	mt.Eventually(t, 10*time.Second, "s1 lost the lead", func() bool { return !s1.Leader() })
	if a, g := metric("skydns_schedule_agents"), metric("skydns_schedule_targets"); a != 0 || g != 0 {
		t.Errorf("a former leader reports agents %v, targets %v; want 0", a, g)
	}
	proxy.Restore()
	mt.Eventually(t, 20*time.Second, "current again", func() bool { return metric("skydns_schedule_etcd_stale") == 0 })
	p1.Stop()
}
