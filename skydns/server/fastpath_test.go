package server

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/internal/policy"
)

// The fast path must give the same answer as the reference path for every
// query it takes, and decline the ones it cannot answer exactly.
func TestFastPathMatchesReference(t *testing.T) {
	s := newHarness(t, defaultConfig())
	s.addA("web.skydns.local.", "192.0.2.1", "192.0.2.2", "192.0.2.3")
	s.addA("v6.skydns.local.", "2001:db8::1", "2001:db8::2")
	s.addA("sticky.skydns.local.", "192.0.2.11", "192.0.2.12", "192.0.2.13")
	s.setPolicy("sticky.skydns.local.", policy.Policy{Mode: policy.ModeHoldOne, TTL: 5})
	s.addA("down.skydns.local.", "192.0.2.21")
	s.setStatus("192.0.2.21", "DOWN")
	s.setPolicy("down.skydns.local.", policy.Policy{AllDown: policy.AllDownServfail})
	s.addA("half.skydns.local.", "192.0.2.31", "192.0.2.32")
	s.setStatus("192.0.2.31", "DOWN")
	s.put("/skydns/local/skydns/alias/", `{"type":"CNAME","host":"web.skydns.local"}`)
	var big []string
	for i := range 60 {
		big = append(big, netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)}).String())
	}
	s.addA("big.skydns.local.", big...)
	// Records, policies and statuses come through separate etcd views:
	// wait for the last of each, or the two paths may see different states.
	s.eventually("records", "big.skydns.local.", dns.TypeA, func(m *dns.Msg) bool { return m.Truncated })
	deadline := time.Now().Add(10 * time.Second)
	for len(s.query("big.skydns.local.", dns.TypeA, overTCP).Answer) != len(big) {
		if time.Now().After(deadline) {
			t.Fatal("big.skydns.local. did not get all its records")
		}
		time.Sleep(2 * time.Millisecond)
	}
	s.eventually("policies", "down.skydns.local.", dns.TypeA, func(m *dns.Msg) bool { return m.Rcode == dns.RcodeServerFailure })
	s.eventually("statuses", "half.skydns.local.", dns.TypeA, sameIPs("192.0.2.32"))
	s.eventually("alias", "alias.skydns.local.", dns.TypeA, func(m *dns.Msg) bool { return len(m.Answer) == 4 })

	from := netip.MustParseAddr("127.0.0.7")
	type tc struct {
		name   string
		msg    func() *dns.Msg
		isFast bool
	}
	q := func(name string, t uint16, edit ...func(*dns.Msg)) func() *dns.Msg {
		return func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion(name, t)
			for _, e := range edit {
				e(m)
			}
			return m
		}
	}
	edns := func(size uint16, do bool) func(*dns.Msg) { return func(m *dns.Msg) { m.SetEdns0(size, do) } }
	noRD := func(m *dns.Msg) { m.RecursionDesired = false }
	for _, c := range []tc{
		{"plain A", q("web.skydns.local.", dns.TypeA), true},
		{"mixed case", q("WeB.SkyDNS.local.", dns.TypeA), true},
		{"no RD", q("web.skydns.local.", dns.TypeA, noRD), true},
		{"EDNS", q("web.skydns.local.", dns.TypeA, edns(4096, false)), true},
		{"EDNS DO", q("web.skydns.local.", dns.TypeA, edns(1232, true)), true},
		{"EDNS small size", q("web.skydns.local.", dns.TypeA, edns(100, false)), true},
		{"AAAA", q("v6.skydns.local.", dns.TypeAAAA), true},
		{"hold-one with policy TTL", q("sticky.skydns.local.", dns.TypeA), true},
		{"one of two down", q("half.skydns.local.", dns.TypeA), true},
		{"all down, servfail", q("down.skydns.local.", dns.TypeA), false},
		{"NODATA", q("web.skydns.local.", dns.TypeAAAA), false},
		{"NXDOMAIN", q("nope.skydns.local.", dns.TypeA), false},
		{"CNAME", q("alias.skydns.local.", dns.TypeA), false},
		{"too big for UDP", q("big.skydns.local.", dns.TypeA), false},
		{"other type", q("web.skydns.local.", dns.TypeTXT), false},
		{"outside the zones", q("example.org.", dns.TypeA), false},
		{"ECS", q("web.skydns.local.", dns.TypeA, func(m *dns.Msg) {
			m.SetEdns0(1232, false)
			m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(198, 18, 0, 0)})
		}), false},
		{"EDNS version 1", q("web.skydns.local.", dns.TypeA, func(m *dns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1) }), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := c.msg()
			pkt, err := req.Pack()
			if err != nil {
				t.Fatal(err)
			}
			resp, ok := s.h.fast(make([]byte, 0, 1232), pkt, make([]byte, 256), from)
			if ok != c.isFast {
				t.Fatalf("fast path taken = %v, want %v", ok, c.isFast)
			}
			if !ok {
				return
			}
			var got dns.Msg
			if err := got.Unpack(resp); err != nil {
				t.Fatalf("fast response does not parse: %v", err)
			}
			w := &fakeWriter{remote: &net.UDPAddr{IP: from.AsSlice(), Port: 5353}}
			s.h.ServeDNS(w, req)
			want := w.msg
			if got.MsgHdr != want.MsgHdr {
				t.Errorf("header\n got %+v\nwant %+v", got.MsgHdr, want.MsgHdr)
			}
			if !slices.Equal(got.Question, want.Question) {
				t.Errorf("question %v, want %v", got.Question, want.Question)
			}
			if g, w := sortedRRs(got.Answer), sortedRRs(want.Answer); !slices.Equal(g, w) {
				t.Errorf("answer\n got %q\nwant %q", g, w)
			}
			if g, w := sortedRRs(got.Extra), sortedRRs(want.Extra); !slices.Equal(g, w) {
				t.Errorf("extra\n got %q\nwant %q", g, w)
			}
			if len(got.Ns) != 0 || len(want.Ns) != 0 {
				t.Errorf("authority: got %v, want %v", got.Ns, want.Ns)
			}
		})
	}
}

func sortedRRs(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	slices.Sort(out)
	return out
}

// BenchmarkFastPath is the fast path from request bytes to response bytes.
func BenchmarkFastPath(b *testing.B) {
	for _, mode := range []policy.Mode{policy.ModeAll, policy.ModeHoldOne} {
		b.Run(string(mode), func(b *testing.B) {
			store := benchStore(b, 1000)
			cfg := defaultConfig()
			cfg.DefaultMode = mode
			h := NewHandler(cfg, store, nil)
			pkts := make([][]byte, 1000)
			for i := range pkts {
				m := new(dns.Msg)
				m.SetQuestion(dnsName(i), dns.TypeA)
				pkts[i], _ = m.Pack()
			}
			out := make([]byte, 0, 1232)
			scratch := make([]byte, 256)
			from := netip.MustParseAddr("127.0.0.1")
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, ok := h.fast(out, pkts[i%len(pkts)], scratch, from); !ok {
					b.Fatal("fast path declined")
				}
			}
		})
	}
}

func TestFastPathDoesNotAllocate(t *testing.T) {
	s := newHarness(t, defaultConfig())
	s.addA("web.skydns.local.", "192.0.2.1", "192.0.2.2", "192.0.2.3")
	s.eventually("loaded", "web.skydns.local.", dns.TypeA, func(m *dns.Msg) bool { return len(m.Answer) == 3 })
	m := new(dns.Msg)
	m.SetQuestion("web.skydns.local.", dns.TypeA)
	pkt, _ := m.Pack()
	out, scratch := make([]byte, 0, 1232), make([]byte, 256)
	from := netip.MustParseAddr("127.0.0.1")
	s.h.fast(out, pkt, scratch, from) // the name enters the stats map once
	if n := testing.AllocsPerRun(100, func() { s.h.fast(out, pkt, scratch, from) }); n != 0 {
		t.Fatalf("fast path allocates %.1f times per query", n)
	}
}
