package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/etcdview"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
	"github.com/skydns/skydns/skydns/server"
	"github.com/skydns/skydns/skydns/zone"
)

// A backend that dies leaves the DNS answer within fall x check-interval
// + 1 s and comes back after it recovers: the scanner agents probe it,
// the schedule turns their reports into a status, and the DNS server
// drops the IP from its answers. Everything real, in one process.
func TestFailoverReachesDNSAnswers(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 3)
	want := make([]string, len(bs))
	for i, b := range bs {
		want[i] = b.IP().String()
		if _, err := cli.Put(context.Background(), fmt.Sprintf("%s/local/skydns/app/%08x", mt.Prefix, i),
			fmt.Sprintf(`{"host":%q}`, b.IP())); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(want)

	mt.StartSchedule(t, cli, mt.ScheduleConfig(t, "s1"))
	for _, name := range []string{"a1", "a2"} {
		mt.StartAgent(t, cli, mt.AgentConfig(t, name, bs[0].Port()))
	}

	store := zone.New(zone.Options{Prefix: mt.Prefix, Zones: []string{"skydns.local."}, StatusPath: mt.Paths.Status,
		View: etcdview.Options{ProgressInterval: 200 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	wait := store.Start(ctx, cli)
	t.Cleanup(func() { cancel(); wait() })
	l, err := server.Listen("127.0.0.1:0", server.NewHandler(server.Config{HealthTTLCap: 10, ServeUnchecked: true}, store, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Shutdown(context.Background()) })

	answer := func() []string {
		m := new(dns.Msg)
		m.SetQuestion("app.skydns.local.", dns.TypeA)
		r, err := dns.Exchange(m, l.Addr())
		if err != nil {
			return nil
		}
		var out []string
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				out = append(out, a.A.String())
			}
		}
		slices.Sort(out)
		return out
	}
	mt.Eventually(t, 30*time.Second, "all backends UP and answered", func() bool {
		return slices.Equal(answer(), want) && store.State(bs[0].IP()) == 1 && store.State(bs[2].IP()) == 1
	})

	bound := time.Duration(mt.Fall)*mt.Interval + time.Second
	until := func(cond func([]string) bool) time.Time {
		deadline := time.Now().Add(bound + 10*time.Second)
		for time.Now().Before(deadline) {
			if cond(answer()) {
				return time.Now()
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("DNS answer did not change within %s: %v", bound+10*time.Second, answer())
		return time.Time{}
	}
	took := mt.Failover(bs,
		func(ip netip.Addr) time.Time {
			return until(func(a []string) bool { return len(a) > 0 && !slices.Contains(a, ip.String()) })
		},
		func(ip netip.Addr) time.Time {
			return until(func(a []string) bool { return slices.Contains(a, ip.String()) })
		})
	for i, d := range took {
		t.Logf("backend %s killed -> gone from the DNS answer in %v (bound %v)", bs[i].IP(), d.Round(time.Millisecond), bound)
		if d > bound {
			t.Errorf("backend %s left the answer after %v, over fall x interval + 1s = %v", bs[i].IP(), d, bound)
		}
	}
}
