package scheduler_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
	"github.com/skydns/skydns/skydns-schedule/scheduler"
)

// Real scanners with a [General] site register it in their heartbeat, and
// the schedule (R = 2) gives each target its own site's agents first: sh's
// backend gets its one sh agent plus one other, gz's both gz agents. The
// targets still turn UP. Without the topology the choice is the plain
// rendezvous one again.
func TestSitesPreferLocalCheckers(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 2)
	sh, gz := bs[0].IP(), bs[1].IP()
	for _, b := range bs {
		mt.PutRecord(t, cli, mt.Prefix, "web.skydns.local.", b.IP())
	}
	put := func(k, v string) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := cli.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	put("/skydns/topology/sh", fmt.Sprintf(`{"networks":["%s/32"]}`, sh))
	put("/skydns/topology/gz", fmt.Sprintf(`{"networks":["%s/32"]}`, gz))
	st := mt.WatchStatuses(t, cli, mt.Paths)
	mt.StartSchedule(t, cli, mt.ScheduleConfig(t, "s1"))
	sites := map[string]string{"sh-1": "sh", "gz-1": "gz", "gz-2": "gz", "any-1": ""}
	for name, site := range sites {
		cfg := mt.AgentConfig(t, name, bs[0].Port())
		cfg.Site = site
		mt.StartAgent(t, cli, cfg)
	}
	checkers := func() map[netip.Addr][]string {
		out := map[netip.Addr][]string{}
		for agent, ips := range mt.Jobs(t, cli) {
			for _, ip := range ips {
				out[ip] = append(out[ip], agent)
			}
		}
		for _, a := range out {
			slices.Sort(a)
		}
		return out
	}
	// Which agent fills sh's second place is rendezvous's choice among
	// the three others; that sh-1 holds one is the rule.
	mt.Eventually(t, 15*time.Second, "site-local checkers", func() bool {
		c := checkers()
		return len(c[sh]) == 2 && slices.Contains(c[sh], "sh-1") && slices.Equal(c[gz], []string{"gz-1", "gz-2"})
	})
	st.Wait(sh, health.Up, 15*time.Second)
	st.Wait(gz, health.Up, 15*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, mt.Paths.AgentKey("gz-1"))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("heartbeat of gz-1: %v %v", resp, err)
	}
	if hb := monitor.DecodeHeartbeat(resp.Kvs[0].Value); hb.Site != "gz" || hb.TTL < 1 || hb.Version == "" {
		t.Errorf("heartbeat %s: want site gz with the other fields kept", resp.Kvs[0].Value)
	}

	// Without a site a target's checkers are the plain rendezvous pick
	// over all four agents, whatever their sites.
	all := []string{"any-1", "gz-1", "gz-2", "sh-1"}
	plain := func(ip netip.Addr) []string {
		p := scheduler.Pick(ip, "", all, 2)
		slices.Sort(p)
		return p
	}
	if _, err := cli.Delete(ctx, "/skydns/topology/sh"); err != nil {
		t.Fatal(err)
	}
	mt.Eventually(t, 15*time.Second, "sh's target, in no site now, checked as without sites", func() bool {
		c := checkers()
		return slices.Equal(c[sh], plain(sh)) && slices.Equal(c[gz], []string{"gz-1", "gz-2"})
	})
	if _, err := cli.Delete(ctx, "/skydns/topology/gz"); err != nil {
		t.Fatal(err)
	}
	mt.Eventually(t, 15*time.Second, "every target checked as without sites", func() bool {
		c := checkers()
		return slices.Equal(c[sh], plain(sh)) && slices.Equal(c[gz], plain(gz))
	})
}
