package server

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// loadCatalog writes records the way each writer of BRIEF §3 writes them.
func loadCatalog(s *harness) {
	// The original skydns API: FNV ids, keys ending in "/"; CNAMEs at the
	// name's own path.
	s.put("/skydns/local/skydns/cctv2/4af19cb2/", `{"host":"192.0.2.1","type":"A"}`)
	s.put("/skydns/local/skydns/cctv2/5bf19cb3/", `{"host":"192.0.2.2","type":"A"}`)
	s.put("/skydns/local/skydns/cctv2/6cf19cb4/", `{"host":"192.0.2.3","type":"A"}`)
	// The same address in a second record (the original kubeapi's and the
	// sync's): answered once.
	s.put("/skydns/local/skydns/cctv2/0000d0b1", `{"host":"192.0.2.3"}`)
	s.put("/skydns/local/skydns/tv1/", `{"type":"CNAME","host":"cctv2.skydns.local"}`)
	// Its kubeapi.
	s.put("/skydns/local/skydns/svc/default/nginx/0a1b2c3d/", `{"host":"198.51.100.10"}`)
	// ExternalDNS: random 8-hex leaf, targetstrip, no type.
	s.put("/skydns/local/skydns/web/1f2e3d4c", `{"host":"203.0.113.7","targetstrip":1}`)
	// CoreDNS etcd users: the value at the name's path.
	s.put("/skydns/local/skydns/x", `{"host":"192.0.2.50"}`)

	s.addA("v6.skydns.local.", "2001:db8::1")
	s.addA("dual.skydns.local.", "192.0.2.60", "2001:db8::60")
	s.put("/skydns/local/skydns/mail/00000001", `{"type":"MX","host":"mx1.skydns.local","priority":10}`)
	s.addA("mx1.skydns.local.", "192.0.2.25")
	s.put("/skydns/local/skydns/txt/00000001", `{"type":"TXT","text":"hello world"}`)
	s.put("/skydns/local/skydns/srv/_tcp/_http/00000001", `{"type":"SRV","host":"web.skydns.local","port":80,"priority":1,"weight":5}`)
	// The original API's SRV: an address with a port, typed SRV.
	s.put("/skydns/local/skydns/sip/_udp/_sip/c0000214/", `{"type":"SRV","host":"192.0.2.20","port":5060,"priority":10,"weight":1}`)
	s.put("/skydns/local/skydns/loop1/", `{"type":"CNAME","host":"loop2.skydns.local"}`)
	s.put("/skydns/local/skydns/loop2/", `{"type":"CNAME","host":"loop1.skydns.local"}`)
	s.put("/skydns/local/skydns/ext/", `{"type":"CNAME","host":"www.example.org"}`)
	s.put("/skydns/local/skydns/wild/*/00000001", `{"host":"192.0.2.99"}`)
	s.addA("host.sub.skydns.local.", "203.0.113.20")
	s.addA("a.other.test.", "203.0.113.30")
}

type answerCase struct {
	name   string
	qname  string
	qtype  uint16
	rcode  int
	answer []string // "TYPE rdata" of each answer RR, in order unless sorted
	sorted bool
	soa    string // origin of the SOA expected in authority, "" for none
	extra  []string
}

func rdata(rr dns.RR) string {
	s := rr.String()
	h := rr.Header().String()
	return dns.TypeToString[rr.Header().Rrtype] + " " + strings.TrimPrefix(s, h)
}

func TestAnswers(t *testing.T) {
	s := newHarness(t, defaultConfig())
	loadCatalog(s)
	// Each zone has its own etcd view: wait for the last record of each.
	s.eventually("skydns.local. loaded", "a.wild.skydns.local.", dns.TypeA, sameIPs("192.0.2.99"))
	s.eventually("sub.skydns.local. loaded", "host.sub.skydns.local.", dns.TypeA, sameIPs("203.0.113.20"))
	s.eventually("other.test. loaded", "a.other.test.", dns.TypeA, sameIPs("203.0.113.30"))

	for _, tc := range []answerCase{
		{name: "A of the original API", qname: "cctv2.skydns.local.", qtype: dns.TypeA, sorted: true,
			answer: []string{"A 192.0.2.1", "A 192.0.2.2", "A 192.0.2.3"}},
		{name: "CNAME of the original API, chased", qname: "tv1.skydns.local.", qtype: dns.TypeA,
			answer: []string{"CNAME cctv2.skydns.local.", "A 192.0.2.1", "A 192.0.2.2", "A 192.0.2.3"}, sorted: true},
		{name: "CNAME query", qname: "tv1.skydns.local.", qtype: dns.TypeCNAME, answer: []string{"CNAME cctv2.skydns.local."}},
		{name: "kubeapi service", qname: "nginx.default.svc.skydns.local.", qtype: dns.TypeA, answer: []string{"A 198.51.100.10"}},
		{name: "empty non-terminal", qname: "default.svc.skydns.local.", qtype: dns.TypeA, soa: "skydns.local."},
		{name: "empty non-terminal higher", qname: "svc.skydns.local.", qtype: dns.TypeA, soa: "skydns.local."},
		{name: "NXDOMAIN", qname: "nope.skydns.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: "skydns.local."},
		{name: "NXDOMAIN below a name", qname: "a.cctv2.skydns.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: "skydns.local."},
		{name: "ExternalDNS", qname: "web.skydns.local.", qtype: dns.TypeA, answer: []string{"A 203.0.113.7"}},
		{name: "CoreDNS user", qname: "x.skydns.local.", qtype: dns.TypeA, answer: []string{"A 192.0.2.50"}},
		{name: "apex holds no child's record", qname: "skydns.local.", qtype: dns.TypeA, soa: "skydns.local."},
		{name: "AAAA", qname: "v6.skydns.local.", qtype: dns.TypeAAAA, answer: []string{"AAAA 2001:db8::1"}},
		{name: "A of an AAAA-only name is NODATA", qname: "v6.skydns.local.", qtype: dns.TypeA, soa: "skydns.local."},
		{name: "dual stack A", qname: "dual.skydns.local.", qtype: dns.TypeA, answer: []string{"A 192.0.2.60"}},
		{name: "dual stack AAAA", qname: "dual.skydns.local.", qtype: dns.TypeAAAA, answer: []string{"AAAA 2001:db8::60"}},
		{name: "MX with glue", qname: "mail.skydns.local.", qtype: dns.TypeMX, answer: []string{"MX 10 mx1.skydns.local."},
			extra: []string{"A 192.0.2.25"}},
		{name: "TXT", qname: "txt.skydns.local.", qtype: dns.TypeTXT, answer: []string{`TXT "hello world"`}},
		{name: "SRV with glue", qname: "_http._tcp.srv.skydns.local.", qtype: dns.TypeSRV,
			answer: []string{"SRV 1 5 80 web.skydns.local."}, extra: []string{"A 203.0.113.7"}},
		{name: "original API's SRV", qname: "_sip._udp.sip.skydns.local.", qtype: dns.TypeSRV,
			answer: []string{"SRV 10 1 5060 _sip._udp.sip.skydns.local."}, extra: []string{"A 192.0.2.20"}},
		{name: "original API's SRV answers A too", qname: "_sip._udp.sip.skydns.local.", qtype: dns.TypeA,
			answer: []string{"A 192.0.2.20"}},
		{name: "CNAME loop stops", qname: "loop1.skydns.local.", qtype: dns.TypeA,
			answer: []string{"CNAME loop2.skydns.local.", "CNAME loop1.skydns.local."}},
		{name: "CNAME out of the zones, no recursion", qname: "ext.skydns.local.", qtype: dns.TypeA,
			answer: []string{"CNAME www.example.org."}},
		{name: "SOA at the apex", qname: "skydns.local.", qtype: dns.TypeSOA, answer: []string{"SOA"}},
		{name: "NS at the apex", qname: "skydns.local.", qtype: dns.TypeNS, answer: []string{"NS ns.dns.skydns.local."}},
		{name: "SOA below the apex is NODATA", qname: "cctv2.skydns.local.", qtype: dns.TypeSOA, soa: "skydns.local."},
		{name: "ANY per RFC 8482", qname: "cctv2.skydns.local.", qtype: dns.TypeANY, answer: []string{`HINFO "RFC8482" ""`}},
		{name: "PTR of a served IP", qname: "1.2.0.192.in-addr.arpa.", qtype: dns.TypePTR, answer: []string{"PTR cctv2.skydns.local."}},
		{name: "PTR of an IPv6", qname: "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.", qtype: dns.TypePTR,
			answer: []string{"PTR v6.skydns.local."}},
		{name: "PTR of an unknown IP is refused", qname: "9.9.0.192.in-addr.arpa.", qtype: dns.TypePTR, rcode: dns.RcodeRefused},
		{name: "wildcard", qname: "a.wild.skydns.local.", qtype: dns.TypeA, answer: []string{"A 192.0.2.99"}},
		{name: "nested zone", qname: "host.sub.skydns.local.", qtype: dns.TypeA, answer: []string{"A 203.0.113.20"}},
		{name: "nested zone's own SOA", qname: "nope.sub.skydns.local.", qtype: dns.TypeA, rcode: dns.RcodeNameError, soa: "sub.skydns.local."},
		{name: "second zone", qname: "a.other.test.", qtype: dns.TypeA, answer: []string{"A 203.0.113.30"}},
		{name: "outside the zones, no recursion", qname: "www.example.org.", qtype: dns.TypeA, rcode: dns.RcodeRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.query(tc.qname, tc.qtype)
			if r.Rcode != tc.rcode {
				t.Fatalf("rcode = %s, want %s\n%v", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode], r)
			}
			if tc.rcode != dns.RcodeRefused && !r.Authoritative {
				t.Errorf("AA not set")
			}
			var got []string
			for _, rr := range r.Answer {
				if !strings.EqualFold(rr.Header().Name, tc.qname) && rr.Header().Rrtype != dns.TypeA && rr.Header().Rrtype != dns.TypeCNAME {
					t.Errorf("answer owner %s, want %s", rr.Header().Name, tc.qname)
				}
				g := rdata(rr)
				if rr.Header().Rrtype == dns.TypeSOA {
					g = "SOA"
				}
				got = append(got, g)
			}
			if tc.sorted {
				slices.Sort(got)
				slices.Sort(tc.answer)
			}
			if !slices.Equal(got, tc.answer) {
				t.Fatalf("answer = %q, want %q", got, tc.answer)
			}
			var soa *dns.SOA
			for _, rr := range r.Ns {
				if s, ok := rr.(*dns.SOA); ok {
					soa = s
				}
			}
			switch {
			case tc.soa == "" && soa != nil:
				t.Errorf("unexpected SOA in authority: %v", soa)
			case tc.soa != "" && soa == nil:
				t.Errorf("no SOA in authority")
			case tc.soa != "":
				if soa.Hdr.Name != tc.soa || soa.Hdr.Ttl != 60 || soa.Minttl != 60 || soa.Mbox != "hostmaster."+tc.soa {
					t.Errorf("SOA = %v, want origin %s, TTL and minimum 60", soa, tc.soa)
				}
			}
			var extra []string
			for _, rr := range r.Extra {
				if rr.Header().Rrtype != dns.TypeOPT {
					extra = append(extra, rdata(rr))
				}
			}
			if !slices.Equal(extra, tc.extra) {
				t.Errorf("extra = %q, want %q", extra, tc.extra)
			}
		})
	}
}

func TestCaseIsKeptAndTTLCapped(t *testing.T) {
	s := newHarness(t, defaultConfig())
	s.put("/skydns/local/skydns/cctv2/00000001", `{"host":"192.0.2.1","ttl":300}`)
	s.put("/skydns/local/skydns/plain/00000001", `{"host":"192.0.2.2"}`)
	s.eventually("loaded", "plain.skydns.local.", dns.TypeA, sameIPs("192.0.2.2"))
	r := s.query("CcTv2.SkyDNS.Local.", dns.TypeA)
	if r.Question[0].Name != "CcTv2.SkyDNS.Local." || r.Answer[0].Header().Name != "CcTv2.SkyDNS.Local." {
		t.Fatalf("spelling not kept: %v", r)
	}
	if ttl := r.Answer[0].Header().Ttl; ttl != 10 {
		t.Fatalf("TTL = %d, want the health cap 10", ttl)
	}
	cfg := defaultConfig()
	cfg.HealthTTLCap = 3600
	s2 := startServer(t, s.etcd, cfg)
	if ttl := s2.query("cctv2.skydns.local.", dns.TypeA).Answer[0].Header().Ttl; ttl != 300 {
		t.Fatalf("TTL = %d, want the record's 300", ttl)
	}
	if ttl := s2.query("plain.skydns.local.", dns.TypeA).Answer[0].Header().Ttl; ttl != 30 {
		t.Fatalf("TTL = %d, want the default 30", ttl)
	}
}

func TestTruncationAndTCP(t *testing.T) {
	s := newHarness(t, defaultConfig())
	var all []string
	for i := range 100 {
		all = append(all, fmt.Sprintf("198.51.100.%d", i+1))
	}
	s.addA("big.skydns.local.", all...)
	// One put per record: wait for the last, over TCP, where all fit.
	deadline := time.Now().Add(10 * time.Second)
	for len(s.query("big.skydns.local.", dns.TypeA, overTCP).Answer) != len(all) {
		if time.Now().After(deadline) {
			t.Fatal("the 100 records did not all arrive")
		}
		time.Sleep(2 * time.Millisecond)
	}

	udp := s.query("big.skydns.local.", dns.TypeA)
	udp.Compress = true // as sent: Len counts what the wire held
	if !udp.Truncated || udp.Len() > 512 {
		t.Fatalf("UDP without EDNS: TC=%v, %d bytes; want TC and at most 512", udp.Truncated, udp.Len())
	}
	edns := s.query("big.skydns.local.", dns.TypeA, withEDNS(4096))
	edns.Compress = true
	if !edns.Truncated || edns.Len() > 1232 {
		t.Fatalf("EDNS 4096: TC=%v, %d bytes; want TC within our 1232", edns.Truncated, edns.Len())
	}
	tcp := s.query("big.skydns.local.", dns.TypeA, overTCP)
	if tcp.Truncated || len(tcp.Answer) != 100 {
		t.Fatalf("TCP: TC=%v, %d answers; want all 100", tcp.Truncated, len(tcp.Answer))
	}
}

func TestEDNS(t *testing.T) {
	s := newHarness(t, defaultConfig())
	s.addA("e.skydns.local.", "192.0.2.1")
	s.eventually("loaded", "e.skydns.local.", dns.TypeA, sameIPs("192.0.2.1"))
	r := s.query("e.skydns.local.", dns.TypeA, withEDNS(4096))
	opt := r.IsEdns0()
	if opt == nil || opt.UDPSize() != 1232 {
		t.Fatalf("OPT = %v, want one echoed with size 1232", opt)
	}
	if r := s.query("e.skydns.local.", dns.TypeA); r.IsEdns0() != nil {
		t.Fatal("OPT in the answer to a query without EDNS")
	}
	bad := s.query("e.skydns.local.", dns.TypeA, func(m *dns.Msg, _ *dns.Client) {
		m.SetEdns0(1232, false)
		m.IsEdns0().SetVersion(1)
	})
	if bad.Rcode != dns.RcodeBadVers {
		t.Fatalf("EDNS version 1: rcode %s, want BADVERS", dns.RcodeToString[bad.Rcode])
	}
	chaos := s.query("version.bind.", dns.TypeTXT, func(m *dns.Msg, _ *dns.Client) { m.Question[0].Qclass = dns.ClassCHAOS })
	if chaos.Rcode != dns.RcodeRefused {
		t.Fatalf("CHAOS: rcode %s, want REFUSED", dns.RcodeToString[chaos.Rcode])
	}
}
