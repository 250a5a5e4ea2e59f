package scheduler_test

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/health"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
)

// BenchmarkFailover measures "listener killed -> status DOWN in etcd"
// (seen by a watcher, as the DNS server sees it) with a real schedule and
// two real agents (R=2) in-process, other healthy targets being probed
// meanwhile (500 probe runs per second per agent: 1,000 targets at the
// default 2s interval), and fall 3. The bound it is held to is
// fall x check-interval + 1s. It runs the trials once whatever b.N is;
// use -benchtime=1x.
//
// The DNS server's part (status DOWN -> no longer in the answer) is not
// measured here; monitortest.Failover takes the wait as a function so that
// a benchmark that also runs the DNS server can measure up to its answer.
func BenchmarkFailover(b *testing.B) {
	for _, tc := range []struct {
		interval time.Duration
		trials   int
	}{
		{200 * time.Millisecond, 10},
		{time.Second, 5},
		{2 * time.Second, 3}, // the default check-interval
	} {
		b.Run(fmt.Sprintf("interval=%v", tc.interval), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if i > 0 {
					break
				}
				benchFailover(b, tc.interval, tc.trials)
			}
		})
	}
}

func benchFailover(b *testing.B, interval time.Duration, trials int) {
	// The same probe rate at every interval: both agents, the backends,
	// etcd and the schedule share this process and two cores.
	background := int(500 * interval.Seconds())
	etcd := etcdtest.Start(b)
	cli := etcd.Client()
	bs := mt.NewBackends(b, background+trials)
	var ops []clientv3.Op
	for i, bk := range bs {
		r := fmt.Sprintf(`{"host":%q}`, bk.IP())
		ops = append(ops, clientv3.OpPut(fmt.Sprintf("%s/local/skydns/bench%d/%08x", mt.Prefix, i%50, i), r))
		if len(ops) == 100 || i == len(bs)-1 {
			if _, err := cli.Txn(b.Context()).Then(ops...).Commit(); err != nil {
				b.Fatal(err)
			}
			ops = ops[:0]
		}
	}
	st := mt.WatchStatuses(b, cli, mt.Paths)
	sc := mt.ScheduleConfig(b, "s1")
	sc.Interval = time.Second
	mt.StartSchedule(b, cli, sc)
	for _, name := range []string{"a1", "a2"} {
		ac := mt.AgentConfig(b, name, bs[0].Port())
		ac.Interval = interval
		ac.MaxThreads = 256
		mt.StartAgent(b, cli, ac)
	}
	all := make([]netip.Addr, len(bs))
	for i, bk := range bs {
		all[i] = bk.IP()
	}
	if _, ok := st.WaitAll(all, health.Up, 60*time.Second); !ok {
		b.Fatal("targets not all UP within 60s")
	}

	bound := mt.Fall*interval + time.Second
	timeout := bound + 5*time.Second
	took := mt.Failover(bs[background:],
		func(ip netip.Addr) time.Time { return st.Wait(ip, health.Down, timeout) },
		func(ip netip.Addr) time.Time { return st.Wait(ip, health.Up, timeout) })
	slices.Sort(took)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(took[0]), "min-ms")
	b.ReportMetric(ms(took[len(took)/2]), "median-ms")
	b.ReportMetric(ms(took[len(took)-1]), "max-ms")
	b.ReportMetric(ms(bound), "bound-ms")
	b.Logf("check-interval %v, fall %d, %d trials: listener killed -> status DOWN in etcd: min %v, median %v, max %v (bound fall x interval + 1s = %v)",
		interval, mt.Fall, len(took), took[0].Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond),
		took[len(took)-1].Round(time.Millisecond), bound)
	if took[len(took)-1] > bound {
		b.Errorf("slowest failover %v is over the bound %v", took[len(took)-1], bound)
	}
}
