package monitortest

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/health"
)

// Eventually waits until cond holds, checking every 20ms, and fails the
// test after timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("monitortest: %s: not within %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Jobs reads the job directory: agent -> IPs.
func Jobs(t testing.TB, cli *clientv3.Client) map[string][]netip.Addr {
	t.Helper()
	out := map[string][]netip.Addr{}
	for _, kv := range get(t, cli, Paths.Job) {
		agent, ip, err := Paths.ParseJobKey(string(kv.Key))
		if err == nil {
			out[agent] = append(out[agent], ip)
		}
	}
	return out
}

// Reports reads the report directory: IP -> agent -> status.
func Reports(t testing.TB, cli *clientv3.Client) map[netip.Addr]map[string]health.State {
	t.Helper()
	out := map[netip.Addr]map[string]health.State{}
	for _, kv := range get(t, cli, Paths.Report) {
		ip, agent, err := Paths.ParseReportKey(string(kv.Key))
		if err != nil {
			continue
		}
		st, _ := health.Decode(kv.Value)
		state, _ := st.State()
		if out[ip] == nil {
			out[ip] = map[string]health.State{}
		}
		out[ip][agent] = state
	}
	return out
}

// Count is the number of keys under prefix.
func Count(t testing.TB, cli *clientv3.Client, prefix string) int {
	t.Helper()
	return len(get(t, cli, prefix))
}

func get(t testing.TB, cli *clientv3.Client, prefix string) []*mvccpb.KeyValue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatalf("monitortest: get %s: %v", prefix, err)
	}
	return resp.Kvs
}

// Metric returns the value of the gauge or counter name with the given
// labels, and whether it exists.
func Metric(g prometheus.Gatherer, name string, labels map[string]string) (float64, bool) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, false
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			}
		}
	}
	return 0, false
}
