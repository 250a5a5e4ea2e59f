package main

import (
	"bufio"
	"bytes"
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/internal/topology"
)

func testSpec(n int) Spec {
	return Spec{Prefix: "/skydns", StatusPath: "/skydns/monitor/status/", Zone: "bench.skydns.local",
		Names: n, IPsPerName: 3, DownPct: 10, Seed: 1}
}

func TestPoolIsServedOnlyRanges(t *testing.T) {
	pool := ipPool()
	if want := 3*254 + 131072 - 512*2; len(pool) != want {
		t.Fatalf("pool has %d addresses, want %d", len(pool), want)
	}
	seen := make(map[netip.Addr]bool, len(pool))
	for _, a := range pool {
		if seen[a] {
			t.Fatalf("%s twice in the pool", a)
		}
		seen[a] = true
		in := false
		for _, p := range pools {
			in = in || p.Contains(a)
		}
		if !in {
			t.Fatalf("%s is outside the documentation and benchmarking ranges", a)
		}
	}
}

// TestGenerate loads a small data set into a real etcd and checks that the
// keys are what SkyDNS reads back as the intended names, that every address
// has a status, and that the zone and query files describe the same names.
func TestGenerate(t *testing.T) {
	const n = 200
	p, err := NewPlan(testSpec(n))
	if err != nil {
		t.Fatal(err)
	}
	cli := etcdtest.Start(t).Client()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// Small transactions and a second load: the data must come out the same.
	for range 2 {
		st, err := p.Load(ctx, cli, 7, 4, nil)
		if err != nil {
			t.Fatal(err)
		}
		if st.Records != 3*n || st.Statuses != 3*n {
			t.Fatalf("load wrote %d records and %d statuses, want %d each", st.Records, st.Statuses, 3*n)
		}
	}

	// Records: names and ids as SkyDNS parses them.
	resp, err := cli.Get(ctx, record.PrefixOf("/skydns", "bench.skydns.local."), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 3*n {
		t.Fatalf("%d record keys, want %d", len(resp.Kvs), 3*n)
	}
	fromEtcd := map[string][]netip.Addr{}
	for _, kv := range resp.Kvs {
		r, err := record.Decode(kv.Value)
		if err != nil {
			t.Fatalf("%s: %v", kv.Key, err)
		}
		name, id, err := record.ParseKey("/skydns", string(kv.Key), r)
		if err != nil {
			t.Fatal(err)
		}
		if r.Type != record.TypeA || !r.IP().Is4() {
			t.Fatalf("%s = %s: want an A record", kv.Key, kv.Value)
		}
		if id != record.ID(r) {
			t.Fatalf("%s: id %q, want record.ID %q", kv.Key, id, record.ID(r))
		}
		if want := `{"host":"` + r.Host + `","type":"A"}`; string(kv.Value) != want {
			t.Fatalf("%s = %s, want %s", kv.Key, kv.Value, want)
		}
		fromEtcd[name] = append(fromEtcd[name], r.IP())
	}
	if len(fromEtcd) != n {
		t.Fatalf("%d names in etcd, want %d", len(fromEtcd), n)
	}
	for i := range n {
		ips := fromEtcd[p.Name(i)]
		if len(ips) != 3 || ips[0] == ips[1] || ips[1] == ips[2] || ips[0] == ips[2] {
			t.Fatalf("%s has addresses %v, want 3 distinct", p.Name(i), ips)
		}
	}

	// Statuses: one per address, UP or DOWN, about 10% DOWN.
	resp, err = cli.Get(ctx, "/skydns/monitor/status/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 3*n {
		t.Fatalf("%d status keys, want %d", len(resp.Kvs), 3*n)
	}
	state := map[netip.Addr]health.State{}
	down := 0
	for _, kv := range resp.Kvs {
		ip, err := health.ParseKey("/skydns/monitor/status/", string(kv.Key))
		if err != nil {
			t.Fatal(err)
		}
		s, err := health.Decode(kv.Value)
		if err != nil {
			t.Fatalf("%s = %s: %v", kv.Key, kv.Value, err)
		}
		st, _ := s.State()
		if st == health.Down {
			down++
		}
		if (st == health.Down) != p.Down(ip) {
			t.Fatalf("%s = %s disagrees with the plan", kv.Key, kv.Value)
		}
		state[ip] = st
	}
	if down < 3*n*4/100 || down > 3*n*18/100 {
		t.Fatalf("%d of %d addresses DOWN, want about 10%%", down, 3*n)
	}
	for name, ips := range fromEtcd {
		for _, ip := range ips {
			if _, ok := state[ip]; !ok {
				t.Fatalf("%s of %s has no status key", ip, name)
			}
		}
	}

	// Zone file: every name with the same three addresses, plus SOA and NS.
	dir := t.TempDir()
	if err := run([]string{"-names", "200", "-out", dir, "-zone", "bench.skydns.local."}); err != nil {
		t.Fatal(err)
	}
	zf, err := os.ReadFile(filepath.Join(dir, "bench.skydns.local.zone"))
	if err != nil {
		t.Fatal(err)
	}
	zp := dns.NewZoneParser(bytes.NewReader(zf), "", "")
	fromZone := map[string][]netip.Addr{}
	var soa, ns bool
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		switch rr := rr.(type) {
		case *dns.SOA:
			soa = rr.Hdr.Name == "bench.skydns.local."
		case *dns.NS:
			ns = true
		case *dns.A:
			if rr.Hdr.Ttl != 30 {
				t.Fatalf("%s: TTL %d, want 30", rr, rr.Hdr.Ttl)
			}
			if rr.Hdr.Name != "ns.bench.skydns.local." {
				a, _ := netip.AddrFromSlice(rr.A.To4())
				fromZone[rr.Hdr.Name] = append(fromZone[rr.Hdr.Name], a)
			}
		}
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	if !soa || !ns {
		t.Fatalf("zone file lacks SOA (%v) or NS (%v)", soa, ns)
	}
	if len(fromZone) != n {
		t.Fatalf("%d names in the zone file, want %d", len(fromZone), n)
	}
	for name, ips := range fromEtcd {
		if !sameSet(ips, fromZone[name]) {
			t.Fatalf("%s: etcd has %v, zone file %v", name, ips, fromZone[name])
		}
	}

	// Query file: every name once, not in order.
	qf, err := os.Open(filepath.Join(dir, "queries.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer qf.Close()
	seen := map[string]bool{}
	inOrder := true
	sc := bufio.NewScanner(qf)
	for i := 0; sc.Scan(); i++ {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || f[1] != "A" {
			t.Fatalf("query line %q, want <name> A", sc.Text())
		}
		if seen[f[0]] || fromEtcd[f[0]] == nil {
			t.Fatalf("query %q repeated or not a generated name", f[0])
		}
		seen[f[0]] = true
		inOrder = inOrder && f[0] == p.Name(i)
	}
	if len(seen) != n || inOrder {
		t.Fatalf("%d distinct queries (want %d), in order %v (want shuffled)", len(seen), n, inOrder)
	}
}

func TestQueriesWrapAround(t *testing.T) {
	p, err := NewPlan(testSpec(10))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := p.WriteQueries(&b, 25); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 25 {
		t.Fatalf("%d lines, want 25", len(lines))
	}
	count := map[string]int{}
	for _, l := range lines {
		count[l]++
	}
	for i := range 10 {
		if c := count[p.Name(i)+" A"]; c < 2 || c > 3 {
			t.Fatalf("%s asked %d times in 25 lines over 10 names", p.Name(i), c)
		}
	}
}

func sameSet(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[netip.Addr]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

// TestSpreadLayout: with Spread a name's addresses come from far apart in
// the pool, are distinct, and the names use the same addresses as without.
func TestSpreadLayout(t *testing.T) {
	for _, n := range []int{200, 10000, 100000} {
		s := testSpec(n)
		s.Spread = true
		p, err := NewPlan(s)
		if err != nil {
			t.Fatal(err)
		}
		used := map[netip.Addr]bool{}
		for j := range p.UsedIPs() {
			used[p.UsedIP(j)] = true
		}
		for i := range n {
			seen := map[netip.Addr]bool{}
			for k := range 3 {
				a := p.IP(i, k)
				if seen[a] {
					t.Fatalf("%d names: name %d has %s twice", n, i, a)
				}
				if !used[a] {
					t.Fatalf("%d names: name %d has %s, not among the used addresses", n, i, a)
				}
				seen[a] = true
			}
		}
	}
	s := testSpec(len(ipPool()))
	s.Spread = true
	if _, err := NewPlan(s); err == nil {
		t.Fatal("as many names as the pool: every address of a name would be the same, want an error")
	}
}

// TestSites is the benchmark topology as a spec: 1,000 valid networks over
// 10 sites that the server's compiler takes without a problem, the client
// in site0, and site selection that filters: a fair share of the names has
// an address in the client's site, and never all of them.
func TestSites(t *testing.T) {
	client := netip.MustParseAddr("127.0.0.1")
	for _, tc := range []struct {
		names          int
		spread         bool
		minIn, maxIn   float64 // share of names with an address in site0
		wantProbesMost bool
	}{
		{names: 10000, spread: true, minIn: 0.15, maxIn: 0.40, wantProbesMost: true},
		{names: 100000, spread: true, minIn: 0.15, maxIn: 0.40, wantProbesMost: true},
		{names: 1000000, spread: true, minIn: 0.15, maxIn: 0.40, wantProbesMost: true},
		{names: 10000, spread: false, minIn: 0.05, maxIn: 0.20},
	} {
		s := testSpec(tc.names)
		s.Spread = tc.spread
		p, err := NewPlan(s)
		if err != nil {
			t.Fatal(err)
		}
		set, err := p.Sites(client)
		if !tc.spread {
			// Consecutive addresses share a block: few names have exactly one
			// address in site0; a probe may or may not be found.
			if err != nil {
				continue
			}
		} else if err != nil {
			t.Fatalf("%d names: %v", tc.names, err)
		}
		if len(set.Sites) != 10 {
			t.Errorf("%d names: %d sites, want 10", tc.names, len(set.Sites))
		}
		nets := 0
		for name, site := range set.Sites {
			if _, err := site.Encode(name); err != nil {
				t.Errorf("%d names: site %s: %v", tc.names, name, err)
			}
			nets += len(site.Networks)
		}
		if nets != 1000 || set.BackendNets+set.ClientNets != 1000 || set.BackendNets > 800 {
			t.Errorf("%d names: %d networks (%d backend, %d client), want 1000 with at most 800 backend",
				tc.names, nets, set.BackendNets, set.ClientNets)
		}
		top, problems := topology.Compile(set.Sites)
		if len(problems) > 0 {
			t.Fatalf("%d names: %v", tc.names, problems)
		}
		if got := top.Site(client); got < 0 || top.Name(got) != "site0" {
			t.Errorf("%d names: client in site %d, want site0", tc.names, got)
		}
		share := float64(set.InClientSite) / float64(tc.names)
		if share < tc.minIn || share > tc.maxIn {
			t.Errorf("%d names (spread %v): %.2f of the names have an address in site0, want %.2f..%.2f",
				tc.names, tc.spread, share, tc.minIn, tc.maxIn)
		}
		if tc.wantProbesMost && len(set.Probes) != probesWanted {
			t.Errorf("%d names: %d probes, want %d", tc.names, len(set.Probes), probesWanted)
		}
		// Every backend address is in a site: the answers are sited ones.
		for j := range p.UsedIPs() {
			if top.Site(p.UsedIP(j)) < 0 {
				t.Fatalf("%d names: %s in no site", tc.names, p.UsedIP(j))
			}
		}
	}
}
