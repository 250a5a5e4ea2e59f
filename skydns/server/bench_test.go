package server

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/etcdview"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/internal/topology"
	"github.com/skydns/skydns/skydns/zone"
)

// benchStore is a loaded store of n names with 3 addresses each, one in ten
// of them DOWN, and whatever extra writes.
func benchStore(b *testing.B, n int, extra ...clientv3.Op) *zone.Store {
	b.Helper()
	e := etcdtest.Start(b)
	cli := e.Client()
	ctx := context.Background()
	ops := extra
	flush := func() {
		if len(ops) == 0 {
			return
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			b.Fatal(err)
		}
		ops = ops[:0]
	}
	for i := range n {
		name := fmt.Sprintf("n%d.skydns.local.", i)
		for j := range 3 {
			r := record.Record{Host: fmt.Sprintf("198.%d.%d.%d", 18+j, (i/250)%250, i%250+1)}
			v, _ := r.Encode()
			ops = append(ops, opPut(record.Key("/skydns", name, record.ID(r)), string(v)))
			if i%10 == 0 && j == 0 {
				ops = append(ops, opPut(statusPath+r.Host, `{"status":"DOWN"}`))
			}
		}
		if len(ops) > 100 {
			flush()
		}
	}
	flush()
	store := zone.New(zone.Options{Prefix: "/skydns", Zones: []string{"skydns.local."}, StatusPath: statusPath,
		View: etcdview.Options{ProgressInterval: time.Second}})
	cctx, cancel := context.WithCancel(ctx)
	wait := store.Start(cctx, cli)
	b.Cleanup(func() { cancel(); wait() })
	if !store.Ready(cctx) {
		b.Fatal("not ready")
	}
	for !store.Loaded() {
		time.Sleep(time.Millisecond)
	}
	return store
}

// discardWriter is a ResponseWriter that packs the response, as the
// network path does, and drops it.
type discardWriter struct {
	fakeWriter
	buf []byte
}

func (w *discardWriter) WriteMsg(m *dns.Msg) error {
	var err error
	w.buf, err = m.PackBuffer(w.buf[:cap(w.buf)])
	return err
}

func benchServe(b *testing.B, mode policy.Mode) {
	store := benchStore(b, 1000)
	cfg := defaultConfig()
	cfg.DefaultMode = mode
	h := NewHandler(cfg, store, nil)
	w := &discardWriter{buf: make([]byte, 0, 512)}
	w.remote = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	reqs := make([]*dns.Msg, 1000)
	for i := range reqs {
		reqs[i] = new(dns.Msg)
		reqs[i].SetQuestion(fmt.Sprintf("n%d.skydns.local.", i), dns.TypeA)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		h.ServeDNS(w, reqs[i%len(reqs)])
	}
}

// BenchmarkServeDNS is the query path from an unpacked request to packed
// response bytes, without the network.
func BenchmarkServeDNS(b *testing.B) {
	for _, mode := range []policy.Mode{policy.ModeAll, policy.ModeHoldOne} {
		b.Run(string(mode), func(b *testing.B) { benchServe(b, mode) })
	}
}

func opPut(k, v string) clientv3.Op { return clientv3.OpPut(k, v) }

func dnsName(i int) string { return fmt.Sprintf("n%d.skydns.local.", i) }

// benchSites are 1,000 networks over 10 sites: a /26 around each group of
// the bench store's backends, the client's 127.0.0.0/24 and 183 more /24s
// of 127/8, and 768 host networks in the documentation ranges, so that the
// table is as deep as a large topology makes it.
func benchSites() []clientv3.Op {
	nets := make([][]string, 10)
	n := 0
	add := func(p string) { nets[n%10] = append(nets[n%10], p); n++ }
	for b := 18; b <= 20; b++ {
		for c := range 4 {
			for d := 0; d < 256; d += 64 {
				add(fmt.Sprintf("198.%d.%d.%d/26", b, c, d))
			}
		}
	}
	for c := range 184 {
		add(fmt.Sprintf("127.0.%d.0/24", c))
	}
	for _, p := range []string{"192.0.2.", "198.51.100.", "203.0.113."} {
		for d := range 256 {
			add(fmt.Sprintf("%s%d/32", p, d))
		}
	}
	var ops []clientv3.Op
	for i, ns := range nets {
		v, err := topology.Site{Networks: ns}.Encode(fmt.Sprintf("s%d", i))
		if err != nil {
			panic(err)
		}
		ops = append(ops, opPut(topology.Key("/skydns", fmt.Sprintf("s%d", i)), string(v)))
	}
	return ops
}

// BenchmarkSites is plain A throughput on the fast path with 1,000
// networks over 10 sites defined, against none, in one run: compare the
// lines (issue 11 asks for sites >= 0.95 x none). A client in a site gets
// a smaller answer (its site's addresses), so the client in no site, which
// gets the same answer as without sites, is the one that shows the cost.
func BenchmarkSites(b *testing.B) {
	for _, tc := range []struct {
		name  string
		extra []clientv3.Op
		from  string
	}{
		{"none", nil, "127.0.0.1"},
		{"sites/client-in-site", benchSites(), "127.0.0.1"},
		{"sites/client-in-no-site", benchSites(), "127.0.200.1"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			store := benchStore(b, 1000, tc.extra...)
			if want := len(tc.extra); store.Topology().Len() != want {
				b.Fatalf("%d sites, want %d", store.Topology().Len(), want)
			}
			h := NewHandler(defaultConfig(), store, nil)
			pkts := make([][]byte, 1000)
			for i := range pkts {
				m := new(dns.Msg)
				m.SetQuestion(dnsName(i), dns.TypeA)
				pkts[i], _ = m.Pack()
			}
			out := make([]byte, 0, 1232)
			scratch := make([]byte, 256)
			from := netip.MustParseAddr(tc.from)
			for _, p := range pkts { // each name places its addresses once
				h.fast(out, p, scratch, from)
			}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, ok := h.fast(out, pkts[i%len(pkts)], scratch, from); !ok {
					b.Fatal("fast path declined")
				}
			}
		})
	}
}

// BenchmarkSitesRatio measures the same thing as BenchmarkSites with the
// set-ups interleaved: batches of 1,000 queries (every name once) in turn,
// each batch timed, so that the load of a shared machine falls on all of
// them alike. It reports the median time per query of each and the
// throughput ratios against no sites (the target: >= 0.95); a
// second store without sites gives the noise floor (ratio-none-again).
func BenchmarkSitesRatio(b *testing.B) {
	type setup struct {
		h     *Handler
		from  netip.Addr
		times []time.Duration
	}
	sites := benchSites()
	setups := []*setup{
		{h: NewHandler(defaultConfig(), benchStore(b, 1000), nil), from: netip.MustParseAddr("127.0.0.1")},
		{h: NewHandler(defaultConfig(), benchStore(b, 1000, sites...), nil), from: netip.MustParseAddr("127.0.0.1")},
		{h: NewHandler(defaultConfig(), benchStore(b, 1000, sites...), nil), from: netip.MustParseAddr("127.0.200.1")},
		{h: NewHandler(defaultConfig(), benchStore(b, 1000), nil), from: netip.MustParseAddr("127.0.0.1")},
	}
	pkts := make([][]byte, 1000)
	for i := range pkts {
		m := new(dns.Msg)
		m.SetQuestion(dnsName(i), dns.TypeA)
		pkts[i], _ = m.Pack()
	}
	out := make([]byte, 0, 1232)
	scratch := make([]byte, 256)
	batch := func(s *setup) time.Duration {
		start := time.Now()
		for _, p := range pkts {
			if _, ok := s.h.fast(out, p, scratch, s.from); !ok {
				b.Fatal("fast path declined")
			}
		}
		return time.Since(start)
	}
	for _, s := range setups {
		batch(s) // each name places its addresses once
	}
	b.ReportAllocs()
	b.ResetTimer()
	for round := 0; round*len(pkts)*len(setups) < b.N || round == 0; round++ {
		for _, s := range setups {
			s.times = append(s.times, batch(s))
		}
	}
	b.StopTimer()
	med := func(ts []time.Duration) float64 {
		ts = slices.Clone(ts)
		slices.Sort(ts)
		return float64(ts[len(ts)/2]) / float64(len(pkts))
	}
	none, in, out2 := med(setups[0].times), med(setups[1].times), med(setups[2].times)
	b.ReportMetric(none, "ns/q-none")
	b.ReportMetric(in, "ns/q-client-in-site")
	b.ReportMetric(out2, "ns/q-client-in-no-site")
	b.ReportMetric(none/in, "ratio-in-site")
	b.ReportMetric(none/out2, "ratio-no-site")
	b.ReportMetric(none/med(setups[3].times), "ratio-none-again")
}
