package scheduler

import (
	"fmt"
	"net/netip"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/monitor"
)

// BenchmarkFullRoundAssign is the leader's work on a full round (every
// schedule-interval) when nothing changed: 30,000 addresses over 20 names
// (1,500 each), every name with a check of its own, 20 agents, R = 2, the
// job directory already as wanted. Each op is one whole round: what it
// costs is what the leader spends every interval just to find nothing to
// write.
func BenchmarkFullRoundAssign(b *testing.B) {
	st := newState("/skydns", monitor.DefaultPaths(), "/skydns/monitor/lock", "")
	const names, perName, agents = 20, 1500, 20
	for n := range names {
		name := fmt.Sprintf("n%d.skydns.local.", n)
		st.putKey(fmt.Sprintf("/skydns/policy/%s", name[:len(name)-1]), []byte(fmt.Sprintf(`{"check":{"ports":[%d]}}`, 8000+n)))
		for i := range perName {
			k := n*perName + i
			ip := netip.AddrFrom4([4]byte{198, 18, byte(k / 250), byte(k%250 + 1)})
			st.putKey(fmt.Sprintf("/skydns/local/skydns/n%d/%08x", n, i), []byte(fmt.Sprintf(`{"host":%q}`, ip)))
		}
	}
	for a := range agents {
		st.agents[fmt.Sprintf("agent-%02d", a)] = agentEntry{lease: clientv3.LeaseID(a + 1)}
	}
	l := &leader{s: &Scheduler{cfg: Config{Replicas: 2}}, st: st, stale: map[clientv3.LeaseID]bool{}, distrusted: map[string]bool{}}
	eligible := l.eligible()
	jobs := l.assign(eligible, nil)
	l.applyJobs(jobs, map[netip.Addr]struct{}{})
	if len(jobs) != names*perName*2 {
		b.Fatalf("first round wrote %d jobs, want %d", len(jobs), names*perName*2)
	}
	b.ReportAllocs()
	for b.Loop() {
		if again := l.assign(eligible, nil); len(again) != 0 {
			b.Fatalf("a round without changes wants %d writes", len(again))
		}
	}
}
