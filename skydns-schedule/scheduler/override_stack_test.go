package scheduler_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/health"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
)

// overrideBound is how soon the leader must write an override (or its
// end) into the status: it acts on the watch event, in milliseconds; the
// rest is slack for a loaded machine.
const overrideBound = time.Second

// last is the last value the recorder saw for ip.
func last(t *testing.T, st *mt.Statuses, ip netip.Addr) health.Status {
	t.Helper()
	c := st.Changes(ip)
	if len(c) == 0 {
		t.Fatalf("%s has no status", ip)
	}
	return c[len(c)-1].Value
}

// A healthy backend drained by hand leaves DNS (its status is DOWN, marked
// as manual) and comes back the moment the override is deleted; its
// neighbour never moves. A dead backend forced UP stays UP while it fails
// its checks, and is DOWN again the moment the override goes.
func TestOverrideDrainAndForceUp(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 2)
	for _, b := range bs {
		mt.PutRecord(t, cli, mt.Prefix, "web.skydns.local.", b.IP())
	}
	st := mt.WatchStatuses(t, cli, mt.Paths)
	reg := prometheus.NewRegistry()
	sc := mt.ScheduleConfig(t, "s1")
	sc.Registry = reg
	mt.StartSchedule(t, cli, sc)
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a1", bs[0].Port()))
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a2", bs[0].Port()))
	if _, ok := st.WaitAll(ips(bs), health.Up, 15*time.Second); !ok {
		t.Fatal("not all UP")
	}

	ip := bs[0].IP()
	put := time.Now()
	key := mt.PutOverride(t, cli, ip, health.Override{Status: "DOWN", Reason: "kernel upgrade", User: "alice", Since: put.UTC()})
	took := st.Wait(ip, health.Down, 10*time.Second).Sub(put)
	t.Logf("override DOWN put -> status DOWN: %v", took)
	if took > overrideBound {
		t.Errorf("status DOWN %v after the override, want within %v", took, overrideBound)
	}
	v := last(t, st, ip)
	if !v.Override || v.Checked != "UP" || v.Reason != "override: kernel upgrade (by alice)" {
		t.Errorf("drained status %+v: want override, checked UP, the operator's reason", v)
	}
	if g, _ := mt.Metric(reg, "skydns_schedule_overrides", nil); g != 1 {
		t.Errorf("skydns_schedule_overrides = %v, want 1", g)
	}
	// The healthy backend stays out: the checkers' UP does not undo it.
	time.Sleep(10 * mt.Interval)
	if got := st.Current(ip); got != health.Down {
		t.Fatalf("drained backend is %v after %v", got, 10*mt.Interval)
	}

	del := time.Now()
	mt.Delete(t, cli, key)
	took = st.Wait(ip, health.Up, 10*time.Second).Sub(del)
	t.Logf("override deleted -> status UP: %v", took)
	if took > overrideBound {
		t.Errorf("status UP %v after the override went, want within %v", took, overrideBound)
	}
	if v := last(t, st, ip); v.Override || v.Checked != "" || v.Reason != "" {
		t.Errorf("status after the override %+v: want the checkers' own", v)
	}
	if n := st.Transitions(ip); n != 3 {
		t.Errorf("drained backend: %d transitions, want 3 (UP, DOWN, UP): %+v", n, st.Changes(ip))
	}
	if n := st.Transitions(bs[1].IP()); n != 1 {
		t.Errorf("neighbour: %d transitions, want 1: %+v", n, st.Changes(bs[1].IP()))
	}

	// A dead backend forced UP.
	bs[1].Kill()
	dead := bs[1].IP()
	st.Wait(dead, health.Down, 10*time.Second)
	put = time.Now()
	key = mt.PutOverride(t, cli, dead, health.Override{Status: "UP", Reason: "checks are wrong", User: "bob"})
	if took := st.Wait(dead, health.Up, 10*time.Second).Sub(put); took > overrideBound {
		t.Errorf("forced UP after %v, want within %v", took, overrideBound)
	}
	if v := last(t, st, dead); !v.Override || v.Checked != "DOWN" {
		t.Errorf("forced-up status %+v: want override, checked DOWN", v)
	}
	time.Sleep(10 * mt.Interval)
	if got := st.Current(dead); got != health.Up {
		t.Fatalf("forced-up backend is %v after %v", got, 10*mt.Interval)
	}
	del = time.Now()
	mt.Delete(t, cli, key)
	if took := st.Wait(dead, health.Down, 10*time.Second).Sub(del); took > overrideBound {
		t.Errorf("back to DOWN %v after the override went, want within %v", took, overrideBound)
	}
	if g, _ := mt.Metric(reg, "skydns_schedule_overrides", nil); g != 0 {
		t.Errorf("skydns_schedule_overrides = %v, want 0", g)
	}
}

// The override lives in etcd, not in the leader: a new leader keeps the
// drained IP DOWN without writing anything, and acts on its removal.
func TestOverrideSurvivesLeaderChange(t *testing.T) {
	ls := startLeaderAndStandby(t)
	cli, bs, st, proxy, s2, c2, reg := ls.cli, ls.bs, ls.st, ls.proxy, ls.s2, ls.c2, ls.reg
	ip := bs[0].IP()
	key := mt.PutOverride(t, cli, ip, health.Override{Status: "DOWN", Reason: "maintenance", User: "alice"})
	st.Wait(ip, health.Down, 10*time.Second)
	before := len(st.Changes(ip))

	proxy.Cut()
	mt.Eventually(t, 10*time.Second, "s2 leads", s2.Leader)
	// Rounds of the new leader: full ones included.
	time.Sleep(3 * c2.Interval)
	if got := st.Current(ip); got != health.Down {
		t.Fatalf("after the leader change the drained IP is %v", got)
	}
	if after := len(st.Changes(ip)); after != before {
		t.Errorf("the new leader rewrote the drained IP's status %d times: %+v", after-before, st.Changes(ip))
	}
	if v, _ := mt.Metric(reg, "skydns_schedule_status_changes_total", map[string]string{"status": "DOWN"}); v != 0 {
		t.Errorf("the new leader wrote %v DOWN statuses, want 0", v)
	}

	del := time.Now()
	mt.Delete(t, cli, key)
	if took := st.Wait(ip, health.Up, 10*time.Second).Sub(del); took > overrideBound {
		t.Errorf("UP %v after the override went (new leader), want within %v", took, overrideBound)
	}
}

// An override with until stops counting then, without anyone deleting it:
// the leader wakes for it (full rounds are a minute apart here, so they
// cannot be what brings the status back).
func TestOverrideUntil(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 1)
	ip := bs[0].IP()
	mt.PutRecord(t, cli, mt.Prefix, "web.skydns.local.", ip)
	st := mt.WatchStatuses(t, cli, mt.Paths)
	sc := mt.ScheduleConfig(t, "s1")
	sc.Interval = time.Minute // only events and the expiry timer wake the leader
	mt.StartSchedule(t, cli, sc)
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a1", bs[0].Port()))
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a2", bs[0].Port()))
	st.Wait(ip, health.Up, 15*time.Second)

	until := time.Now().Add(1500 * time.Millisecond)
	mt.PutOverride(t, cli, ip, health.Override{Status: "DOWN", Reason: "reboot", Until: until})
	st.Wait(ip, health.Down, 5*time.Second)
	up := st.Wait(ip, health.Up, 10*time.Second)
	t.Logf("override expired -> status UP %v after until", up.Sub(until))
	if up.Before(until) || up.Sub(until) > overrideBound {
		t.Errorf("status UP %v after until, want within 0..%v", up.Sub(until), overrideBound)
	}
	if v := last(t, st, ip); v.Override {
		t.Errorf("status after until %+v, want the checkers' own", v)
	}
}

// An override on an IP that no record uses makes no status; when a record
// of the IP arrives, its first status is the override's, never the
// checks' UP. The override does not keep the status of an IP alive once
// no record uses it again: status-grace removes it as any other.
func TestOverrideOnUnusedIP(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 1)
	ip := bs[0].IP()
	st := mt.WatchStatuses(t, cli, mt.Paths)
	sc := mt.ScheduleConfig(t, "s1")
	sc.StatusGrace = time.Second
	s1, _ := mt.StartSchedule(t, cli, sc)
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a1", bs[0].Port()))
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a2", bs[0].Port()))
	// The override must come as news to a leader, not with its first load.
	mt.Eventually(t, 10*time.Second, "s1 leads", s1.Leader)

	mt.PutOverride(t, cli, ip, health.Override{Status: "DOWN", Reason: "not in service yet"})
	time.Sleep(5 * sc.Interval) // full rounds included
	if c := st.Changes(ip); len(c) != 0 {
		t.Fatalf("an override on an IP no record uses made a status: %+v", c)
	}
	rec := mt.PutRecord(t, cli, mt.Prefix, "new.skydns.local.", ip)
	st.Wait(ip, health.Down, 5*time.Second)
	// The agents find the backend healthy meanwhile: the checked verdict
	// follows, the status does not.
	mt.Eventually(t, 10*time.Second, "the checkers' UP kept beside the override", func() bool {
		c := st.Changes(ip)
		return len(c) > 0 && c[len(c)-1].Value.Checked == "UP"
	})
	for _, c := range st.Changes(ip) {
		if c.State != health.Down || !c.Value.Override {
			t.Errorf("overridden new IP: change %+v, want only the override's DOWN", c)
		}
	}

	mt.Delete(t, cli, rec)
	deleted := time.Now()
	at := st.Wait(ip, health.Unknown, 10*time.Second)
	t.Logf("record deleted -> overridden status removed: %v (grace %v)", at.Sub(deleted), sc.StatusGrace)
	if at.Sub(deleted) < sc.StatusGrace {
		t.Errorf("status removed after %v, before the grace of %v", at.Sub(deleted), sc.StatusGrace)
	}
}
