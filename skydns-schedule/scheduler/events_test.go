package scheduler_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/events"
	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
	"github.com/skydns/skydns/internal/policy"
)

// Every status the leader writes becomes an event: the IP, the names that
// use it, from and to, the votes, the reason and the agents that voted. The
// events go through their own etcd client here; cut off, the events are
// lost and counted, and the status changes they describe happen as fast as
// ever.
func TestStatusChangesBecomeEvents(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 2)
	for _, b := range bs {
		mt.PutRecord(t, cli, mt.Prefix, "web.skydns.local.", b.IP())
	}
	proxy := etcd.Proxy()
	reg := prometheus.NewRegistry()
	w := events.NewWriter(proxy.Client(t), events.WriterConfig{Prefix: mt.Prefix, Retention: time.Hour,
		RequestTimeout: 500 * time.Millisecond, Registry: reg})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	st := mt.WatchStatuses(t, cli, mt.Paths)
	sc := mt.ScheduleConfig(t, "s1")
	sc.Events = w
	mt.StartSchedule(t, cli, sc)
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a1", bs[0].Port()))
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a2", bs[0].Port()))
	if _, ok := st.WaitAll(ips(bs), health.Up, 15*time.Second); !ok {
		t.Fatal("not all UP")
	}

	victim := bs[0].IP().String()
	list := func(q events.Query) []events.Event {
		out, err := events.List(context.Background(), cli, mt.Prefix, q)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	bs[0].Kill()
	st.Wait(bs[0].IP(), health.Down, 10*time.Second)
	var got []events.Event
	mt.Eventually(t, 10*time.Second, "the DOWN event", func() bool {
		got = list(events.Query{IP: victim})
		return len(got) > 0 && got[0].To == "DOWN"
	})
	e := got[0]
	if e.Kind != events.KindStatus || e.From != "UP" || e.Votes != "2/2 down" || e.Reason == "" ||
		len(e.Names) != 1 || e.Names[0] != "web.skydns.local" || len(e.IPs) != 1 || e.IPs[0] != victim {
		t.Errorf("DOWN event %+v", e)
	}
	if len(e.Agents) != 2 || e.Agents[0] != (events.Agent{Name: "a1", Vote: "DOWN"}) || e.Agents[1] != (events.Agent{Name: "a2", Vote: "DOWN"}) {
		t.Errorf("agents %+v, want a1 and a2 voting DOWN", e.Agents)
	}
	// Before it, the UP that began the IP's history; the other IP's
	// events are not in this listing.
	if len(got) != 2 || got[1].To != "UP" || got[1].From != "" {
		t.Errorf("events of %s: %+v, want DOWN then the first UP", victim, got)
	}
	if n := len(list(events.Query{Name: "web.skydns.local"})); n != 3 {
		t.Errorf("events of the name: %d, want 3 (two first UPs and one DOWN)", n)
	}
	resp, err := cli.Get(context.Background(), events.Key(mt.Prefix, e.ID))
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Lease == 0 {
		t.Errorf("event key %s: %v %v, want it under a lease", e.ID, resp, err)
	}

	// The events' etcd goes away; the status change does not wait for it.
	proxy.Cut()
	bs[0].Restart()
	st.Wait(bs[0].IP(), health.Up, 10*time.Second)
	mt.Eventually(t, 10*time.Second, "the lost UP event counted", func() bool {
		v, _ := mt.Metric(reg, "skydns_events_dropped_total", map[string]string{"reason": "etcd"})
		return v >= 1
	})
	if got := list(events.Query{IP: victim}); len(got) != 2 {
		t.Errorf("events while the writer was cut off: %+v", got)
	}
}

// With several checks on one IP, a check's verdict is an event of its
// own: db's check fails and db loses the host while its status (UP while
// any check is UP) stays, so the status alone would leave no trace.
func TestVerdictChangesBecomeEvents(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 1)
	host := bs[0].IP()
	closed, err := net.Listen("tcp", net.JoinHostPort(host.String(), "0"))
	if err != nil {
		t.Fatal(err)
	}
	dbPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close() // nothing listens there: db's check fails
	mt.PutRecord(t, cli, mt.Prefix, "web.skydns.local.", host)
	mt.PutRecord(t, cli, mt.Prefix, "db.skydns.local.", host)
	mt.PutPolicy(t, cli, mt.Prefix, "web.skydns.local.", policy.Policy{Check: &policy.Check{Ports: []int{bs[0].Port()}}})
	db := policy.Check{Ports: []int{dbPort}}
	mt.PutPolicy(t, cli, mt.Prefix, "db.skydns.local.", policy.Policy{Check: &db})
	dbID := monitor.CheckID(monitor.NameSpec(&db, nil))

	w := events.NewWriter(cli, events.WriterConfig{Prefix: mt.Prefix, Retention: time.Hour, RequestTimeout: time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	sc := mt.ScheduleConfig(t, "s1")
	sc.Events = w
	mt.StartSchedule(t, cli, sc)
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a1"))
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a2"))

	var got []events.Event
	mt.Eventually(t, 15*time.Second, "db's check DOWN as an event", func() bool {
		got, err = events.List(context.Background(), cli, mt.Prefix, events.Query{IP: host.String()})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range got {
			if e.To == "DOWN" && strings.HasPrefix(e.Reason, "check "+dbID+":") {
				return true
			}
		}
		return false
	})
	for _, e := range got {
		if e.To == "DOWN" && !strings.HasPrefix(e.Reason, "check ") {
			t.Errorf("the IP's status went DOWN, though web's check passes: %+v", e)
		}
	}
}
