package server

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
)

// want is what a query should get: the sorted "TYPE rdata" of its answer
// records; nil with rcode 0 is NODATA.
type want struct {
	qname  string
	qtype  uint16
	rcode  int
	answer []string
}

// answerOf reads an answer as a want, for comparison.
func answerOf(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		out = append(out, rdata(rr))
	}
	slices.Sort(out)
	return out
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// check asks w over UDP and over TCP and reports any difference. Over UDP
// an answer too big for it may come back truncated instead.
func (s *harness) check(w want) error {
	wantAns := sortedCopy(w.answer)
	for _, net := range []string{"udp", "tcp"} {
		var opts []func(*dns.Msg, *dns.Client)
		if net == "tcp" {
			opts = append(opts, overTCP)
		}
		r := s.query(w.qname, w.qtype, opts...)
		if net == "udp" && r.Truncated && len(w.answer) > 20 {
			continue
		}
		if r.Rcode != w.rcode || !slices.Equal(answerOf(r), wantAns) {
			return fmt.Errorf("%s %s over %s: %s %q, want %s %q", w.qname, dns.TypeToString[w.qtype], net,
				dns.RcodeToString[r.Rcode], answerOf(r), dns.RcodeToString[w.rcode], wantAns)
		}
	}
	return nil
}

// checkAll waits until every want holds (the watch may lag the writes),
// then fails the test with the differences left at the deadline.
func (s *harness) checkAll(wants []want) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var errs []string
		for _, w := range wants {
			if err := s.check(w); err != nil {
				errs = append(errs, err.Error())
			}
		}
		if len(errs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatal(strings.Join(errs, "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func a(ips ...string) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = "A " + ip
	}
	return out
}

func bigLeaves() (kvs [][2]string, ips []string) {
	for i := 1; i <= 100; i++ {
		ip := fmt.Sprintf("198.51.100.%d", i)
		kvs = append(kvs, [2]string{fmt.Sprintf("/skydns/local/skydns/big/%d", i), `{"host":"` + ip + `","ttl":30}`})
		ips = append(ips, ip)
	}
	return kvs, ips
}

// TestLeavesBelowAName is the table of docs/data-model.md "Which names a
// record serves", row by row: the keys as each writer stores them, and
// what every name they touch answers, over UDP and TCP.
func TestLeavesBelowAName(t *testing.T) {
	s := newHarness(t, defaultConfig())
	big, bigIPs := bigLeaves()
	const nodata, nx = 0, dns.RcodeNameError
	for _, row := range []struct {
		layout string
		kvs    [][2]string
		wants  []want
	}{
		{"leaves of one's own choosing (operators, CoreDNS users)",
			[][2]string{{"/skydns/local/skydns/www/ttggxuxp", `{"host":"198.51.100.7"}`}, {"/skydns/local/skydns/www/jzlnykyj", `{"host":"198.51.100.8"}`}},
			[]want{
				{"www.skydns.local.", dns.TypeA, 0, a("198.51.100.7", "198.51.100.8")},
				{"ttggxuxp.www.skydns.local.", dns.TypeA, 0, a("198.51.100.7")},
				{"jzlnykyj.www.skydns.local.", dns.TypeA, 0, a("198.51.100.8")},
				{"www.skydns.local.", dns.TypeAAAA, nodata, nil},
			}},
		{"numbered leaves with a TTL", big,
			[]want{{"big.skydns.local.", dns.TypeA, 0, a(bigIPs...)}, {"7.big.skydns.local.", dns.TypeA, 0, a("198.51.100.7")}}},
		{"kube-style leaves with a trailing slash",
			[][2]string{
				{"/skydns/local/skydns/svc/default/svc-0/x1/", `{"host":"203.0.113.1","type":"A"}`},
				{"/skydns/local/skydns/svc/default/svc-0/x2/", `{"host":"203.0.113.2","type":"A"}`},
				{"/skydns/local/skydns/svc/default/svc-0/x3/", `{"host":"203.0.113.3","type":"A"}`},
			},
			[]want{
				{"svc-0.default.svc.skydns.local.", dns.TypeA, 0, a("203.0.113.1", "203.0.113.2", "203.0.113.3")},
				{"x2.svc-0.default.svc.skydns.local.", dns.TypeA, 0, a("203.0.113.2")},
				{"default.svc.skydns.local.", dns.TypeA, nodata, nil}, // one level only
				{"svc.skydns.local.", dns.TypeA, nodata, nil},
			}},
		{"a TXT leaf",
			[][2]string{{"/skydns/local/skydns/txtrec/aa01", `{"text":"hello"}`}},
			[]want{{"txtrec.skydns.local.", dns.TypeTXT, 0, []string{`TXT "hello"`}}, {"aa01.txtrec.skydns.local.", dns.TypeTXT, 0, []string{`TXT "hello"`}}}},
		{"original API: unpadded FNV ids with a trailing slash",
			[][2]string{{"/skydns/local/skydns/cctv2/af19cb2/", `{"host":"192.0.2.1","type":"A"}`}, {"/skydns/local/skydns/cctv2/4af19cb2/", `{"host":"192.0.2.2","type":"A"}`}},
			[]want{{"cctv2.skydns.local.", dns.TypeA, 0, a("192.0.2.1", "192.0.2.2")}, {"af19cb2.cctv2.skydns.local.", dns.TypeA, nx, nil}}},
		{"original API: a CNAME at the name's own path",
			[][2]string{{"/skydns/local/skydns/tv1/", `{"type":"CNAME","host":"www.example.org"}`}},
			[]want{{"tv1.skydns.local.", dns.TypeCNAME, 0, []string{"CNAME www.example.org."}}, {"skydns.local.", dns.TypeCNAME, nodata, nil}}},
		{"a CNAME at a leaf stays its own name's",
			[][2]string{{"/skydns/local/skydns/alias/leaf", `{"host":"www.example.org"}`}},
			[]want{{"leaf.alias.skydns.local.", dns.TypeCNAME, 0, []string{"CNAME www.example.org."}}, {"alias.skydns.local.", dns.TypeCNAME, nodata, nil}}},
		{"original kubeapi",
			[][2]string{{"/skydns/local/skydns/svc/default/nginx/0a1b2c3d/", `{"host":"198.51.100.200"}`}},
			[]want{{"nginx.default.svc.skydns.local.", dns.TypeA, 0, a("198.51.100.200")}, {"default.svc.skydns.local.", dns.TypeA, nodata, nil}}},
		{"ExternalDNS: a random leaf and targetstrip",
			[][2]string{{"/skydns/local/skydns/web/1f2e3d4c", `{"host":"203.0.113.7","targetstrip":1}`}, {"/skydns/local/skydns/web/zz-leaf", `{"host":"203.0.113.8","targetstrip":1}`}},
			[]want{{"web.skydns.local.", dns.TypeA, 0, a("203.0.113.7", "203.0.113.8")}, {"zz-leaf.web.skydns.local.", dns.TypeA, nx, nil}}},
		{"SkyDNS: 8-hex FNV ids",
			[][2]string{{record.Key("/skydns", "own.skydns.local.", record.ID(record.Record{Host: "192.0.2.9"})), `{"host":"192.0.2.9","type":"A"}`}},
			[]want{{"own.skydns.local.", dns.TypeA, 0, a("192.0.2.9")}}},
		{"CoreDNS user: the name's own path, below the apex",
			[][2]string{{"/skydns/local/skydns/x", `{"host":"192.0.2.50"}`}},
			[]want{{"x.skydns.local.", dns.TypeA, 0, a("192.0.2.50")}, {"skydns.local.", dns.TypeA, nodata, nil}}},
		{"a wildcard stays below its parent",
			[][2]string{{"/skydns/local/skydns/wild/*", `{"host":"192.0.2.99"}`}},
			[]want{{"any.wild.skydns.local.", dns.TypeA, 0, a("192.0.2.99")}, {"wild.skydns.local.", dns.TypeA, nodata, nil}}},
		{"the apex of a nested zone holds no child's record",
			[][2]string{{"/skydns/local/skydns/sub/h", `{"host":"203.0.113.20"}`}},
			[]want{{"h.sub.skydns.local.", dns.TypeA, 0, a("203.0.113.20")}, {"sub.skydns.local.", dns.TypeA, nodata, nil}}},
	} {
		t.Run(row.layout, func(t *testing.T) {
			s.t = t
			for _, kv := range row.kvs {
				s.put(kv[0], kv[1])
			}
			s.checkAll(row.wants)
		})
	}
	s.t = t

	// PTR names every name an address serves.
	r := s.query("7.100.51.198.in-addr.arpa.", dns.TypePTR)
	if got, wantPTR := answerOf(r), []string{"PTR 7.big.skydns.local.", "PTR big.skydns.local.", "PTR ttggxuxp.www.skydns.local.", "PTR www.skydns.local."}; !slices.Equal(got, wantPTR) {
		t.Errorf("PTR = %q, want %q", got, wantPTR)
	}
}

// A key that serves two names leaves, changes and comes back in both.
func TestLeavesFollowChanges(t *testing.T) {
	s := newHarness(t, defaultConfig())
	const leafA, leafB = "/skydns/local/skydns/www2/a", "/skydns/local/skydns/www2/b"
	s.put(leafA, `{"host":"198.51.100.7"}`)
	s.put(leafB, `{"host":"198.51.100.8"}`)
	s.checkAll([]want{{"www2.skydns.local.", dns.TypeA, 0, a("198.51.100.7", "198.51.100.8")}})

	s.put(leafA, `{"host":"198.51.100.9"}`)
	s.checkAll([]want{
		{"www2.skydns.local.", dns.TypeA, 0, a("198.51.100.8", "198.51.100.9")},
		{"a.www2.skydns.local.", dns.TypeA, 0, a("198.51.100.9")},
		{"7.100.51.198.in-addr.arpa.", dns.TypePTR, dns.RcodeRefused, nil},
	})

	// Turned into a CNAME, the leaf keeps it to itself.
	s.put(leafA, `{"host":"www.example.org"}`)
	s.checkAll([]want{
		{"www2.skydns.local.", dns.TypeA, 0, a("198.51.100.8")},
		{"a.www2.skydns.local.", dns.TypeCNAME, 0, []string{"CNAME www.example.org."}},
	})

	s.del(leafB)
	s.checkAll([]want{
		{"www2.skydns.local.", dns.TypeA, 0, nil}, // an empty non-terminal above a.www2
		{"b.www2.skydns.local.", dns.TypeA, dns.RcodeNameError, nil},
		{"8.100.51.198.in-addr.arpa.", dns.TypePTR, dns.RcodeRefused, nil},
	})

	s.put(leafA, `{"host":"198.51.100.7"}`)
	s.checkAll([]want{{"www2.skydns.local.", dns.TypeA, 0, a("198.51.100.7")}})
	s.del(leafA)
	s.checkAll([]want{
		{"www2.skydns.local.", dns.TypeA, dns.RcodeNameError, nil},
		{"a.www2.skydns.local.", dns.TypeA, dns.RcodeNameError, nil},
	})
}

// Health, truncation and hold-one treat a name fed by leaves like any other.
func TestLeavesHealthTruncationHoldOne(t *testing.T) {
	s := newHarness(t, defaultConfig())
	big, ips := bigLeaves()
	for _, kv := range big {
		s.put(kv[0], kv[1])
	}
	s.checkAll([]want{{"big.skydns.local.", dns.TypeA, 0, a(ips...)}})

	udp := s.query("big.skydns.local.", dns.TypeA)
	udp.Compress = true // as sent: Len counts what the wire held
	if !udp.Truncated || udp.Len() > 512 {
		t.Fatalf("UDP without EDNS: TC=%v, %d bytes; want TC and at most 512", udp.Truncated, udp.Len())
	}
	tcp := s.query("big.skydns.local.", dns.TypeA, overTCP)
	if tcp.Truncated || len(tcp.Answer) != 100 {
		t.Fatalf("TCP: TC=%v, %d answers; want all 100", tcp.Truncated, len(tcp.Answer))
	}
	if ttl := tcp.Answer[0].Header().Ttl; ttl != 10 {
		t.Errorf("TTL %d, want the leaves' 30 capped to health-ttl-cap 10", ttl)
	}

	s.setStatus("198.51.100.1", "DOWN")
	s.checkAll([]want{{"big.skydns.local.", dns.TypeA, 0, a(ips[1:]...)}})

	s.setPolicy("big.skydns.local.", policy.Policy{Mode: policy.ModeHoldOne})
	s.eventually("hold-one", "big.skydns.local.", dns.TypeA, func(m *dns.Msg) bool { return len(m.Answer) == 1 })
	first := ips0(s.query("big.skydns.local.", dns.TypeA))
	for range 5 {
		if got := ips0(s.query("big.skydns.local.", dns.TypeA)); got != first {
			t.Fatalf("hold-one moved from %s to %s", first, got)
		}
	}
	s.setStatus(first, "DOWN")
	s.eventually("hold-one moves off a DOWN address", "big.skydns.local.", dns.TypeA, func(m *dns.Msg) bool {
		return len(m.Answer) == 1 && ips0(m) != first && ips0(m) != "198.51.100.1"
	})
}

func ips0(m *dns.Msg) string {
	if got := ips(m); len(got) > 0 {
		return got[0]
	}
	return ""
}

// With descend-zones a name answers the records at every depth below it,
// ids or not, as CoreDNS does, but still never the apex.
func TestDescendZones(t *testing.T) {
	s := newHarness(t, defaultConfig())
	plain := startServer(t, s.etcd, defaultConfig())
	deep := startServerDescending(t, s.etcd, defaultConfig(), []string{"skydns.local."})
	s.put("/skydns/local/skydns/svc/default/svc-0/x1/", `{"host":"203.0.113.1","type":"A"}`)
	s.put("/skydns/local/skydns/svc/default/svc-1/x1", `{"host":"203.0.113.2"}`)
	s.put("/skydns/local/skydns/svc/default/nginx/0a1b2c3d/", `{"host":"203.0.113.3"}`)
	s.put("/skydns/local/skydns/sub/y/x/w", `{"host":"203.0.113.4"}`)
	deep.checkAll([]want{
		{"svc-0.default.svc.skydns.local.", dns.TypeA, 0, a("203.0.113.1")},
		{"nginx.default.svc.skydns.local.", dns.TypeA, 0, a("203.0.113.3")},
		{"default.svc.skydns.local.", dns.TypeA, 0, a("203.0.113.1", "203.0.113.2", "203.0.113.3")},
		{"svc.skydns.local.", dns.TypeA, 0, a("203.0.113.1", "203.0.113.2", "203.0.113.3")},
		{"skydns.local.", dns.TypeA, 0, nil},
		{"x.y.sub.skydns.local.", dns.TypeA, 0, a("203.0.113.4")}, // sub.skydns.local does not descend
		{"y.sub.skydns.local.", dns.TypeA, 0, nil},
	})
	plain.checkAll([]want{
		{"svc-0.default.svc.skydns.local.", dns.TypeA, 0, a("203.0.113.1")},
		{"default.svc.skydns.local.", dns.TypeA, 0, nil},
		{"svc.skydns.local.", dns.TypeA, 0, nil},
	})
	s.del("/skydns/local/skydns/svc/default/svc-1/x1")
	deep.checkAll([]want{{"default.svc.skydns.local.", dns.TypeA, 0, a("203.0.113.1", "203.0.113.3")}})
}
