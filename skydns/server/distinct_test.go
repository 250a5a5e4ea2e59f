package server

import (
	"fmt"
	"slices"
	"testing"

	"github.com/miekg/dns"
)

// TestIdenticalRecordsAnsweredOnce: an RRset holds no identical records
// (RFC 2181 §5), whatever etcd holds: the same data under two ids (as
// ExternalDNS leaves an old and a new TXT ownership record) is answered
// once, over UDP and TCP, with the lower of the two TTLs.
func TestIdenticalRecordsAnsweredOnce(t *testing.T) {
	s := newHarness(t, defaultConfig())
	owner := `"heritage=external-dns,external-dns/owner=default,external-dns/resource=service/default/web"`
	s.put("/skydns/local/skydns/dup/1a2b3c4d", `{"text":`+owner+`,"targetstrip":1}`)
	s.put("/skydns/local/skydns/dup/5e6f7a8b", `{"text":`+owner+`,"targetstrip":1}`)
	s.put("/skydns/local/skydns/dup/0000000c", `{"type":"TXT","text":"other"}`)
	s.put("/skydns/local/skydns/dup/0000000d", `{"type":"TXT","text":"Other"}`) // TXT is case-sensitive
	s.put("/skydns/local/skydns/dup/00000001", `{"type":"MX","host":"mx1.skydns.local","priority":10}`)
	s.put("/skydns/local/skydns/dup/00000002", `{"type":"MX","host":"MX1.skydns.local.","priority":10}`)
	s.put("/skydns/local/skydns/dup/00000003", `{"type":"MX","host":"mx1.skydns.local","priority":20}`)
	s.put("/skydns/local/skydns/dup/00000004", `{"type":"NS","host":"ns1.skydns.local"}`)
	s.put("/skydns/local/skydns/dup/00000005", `{"type":"NS","host":"ns1.skydns.local"}`)
	s.put("/skydns/local/skydns/srvdup/_tcp/_http/00000001", `{"type":"SRV","host":"web.skydns.local","port":80,"priority":1,"weight":5}`)
	s.put("/skydns/local/skydns/srvdup/_tcp/_http/00000002", `{"type":"SRV","host":"web.skydns.local","port":80,"priority":1,"weight":5}`)
	s.put("/skydns/local/skydns/srvdup/_tcp/_http/00000003", `{"type":"SRV","host":"web.skydns.local","port":8080,"priority":1,"weight":5}`)
	s.put("/skydns/local/skydns/ttl/00000001", `{"text":"t","ttl":300}`)
	s.put("/skydns/local/skydns/ttl/00000002", `{"text":"t","ttl":60}`)
	// A large set, past the pairwise comparison: 20 texts, each twice.
	for i := range 40 {
		s.put(fmt.Sprintf("/skydns/local/skydns/many/%08x", i), fmt.Sprintf(`{"text":"t%02d"}`, i%20))
	}
	s.addA("web.skydns.local.", "203.0.113.7")
	s.addA("mx1.skydns.local.", "203.0.113.25")
	var many []string
	for i := range 20 {
		many = append(many, fmt.Sprintf(`TXT "t%02d"`, i))
	}
	s.eventually("loaded", "mx1.skydns.local.", dns.TypeA, sameIPs("203.0.113.25"))
	s.eventually("many loaded", "many.skydns.local.", dns.TypeTXT, func(m *dns.Msg) bool { return len(m.Answer) == 20 })

	for _, c := range []struct {
		name  string
		qname string
		qtype uint16
		want  []string // rdata, sorted
		extra []string
		ttl   uint32 // of every answer; 0: not checked
	}{
		{"old and new TXT ownership records", "dup.skydns.local.", dns.TypeTXT,
			[]string{`TXT "Other"`, "TXT " + owner, `TXT "other"`}, nil, 0},
		{"MX, targets without case or final dot", "dup.skydns.local.", dns.TypeMX,
			[]string{"MX 10 mx1.skydns.local.", "MX 20 mx1.skydns.local."}, []string{"A 203.0.113.25"}, 0},
		{"NS", "dup.skydns.local.", dns.TypeNS, []string{"NS ns1.skydns.local."}, nil, 0},
		{"SRV, glue once", "_http._tcp.srvdup.skydns.local.", dns.TypeSRV,
			[]string{"SRV 1 5 80 web.skydns.local.", "SRV 1 5 8080 web.skydns.local."}, []string{"A 203.0.113.7"}, 0},
		{"the lower TTL", "ttl.skydns.local.", dns.TypeTXT, []string{`TXT "t"`}, nil, 60},
		{"a large set", "many.skydns.local.", dns.TypeTXT, many, nil, 0},
	} {
		for _, tr := range []string{"udp", "tcp"} {
			t.Run(c.name+"/"+tr, func(t *testing.T) {
				r := s.query(c.qname, c.qtype, func(_ *dns.Msg, cl *dns.Client) { cl.Net = tr }, withEDNS(1232))
				var got, extra []string
				for _, rr := range r.Answer {
					got = append(got, rdata(rr))
					if c.ttl != 0 && rr.Header().Ttl != c.ttl {
						t.Errorf("TTL %d, want %d: %v", rr.Header().Ttl, c.ttl, rr)
					}
				}
				for _, rr := range r.Extra {
					if rr.Header().Rrtype != dns.TypeOPT {
						extra = append(extra, rdata(rr))
					}
				}
				slices.Sort(got)
				if r.Rcode != dns.RcodeSuccess || r.Truncated || !slices.Equal(got, c.want) || !slices.Equal(extra, c.extra) {
					t.Errorf("answer %q extra %q, want %q extra %q:\n%v", got, extra, c.want, c.extra, r)
				}
			})
		}
	}
}

func TestDistinct(t *testing.T) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, n := range []int{2, smallSet + 5} { // both the pairwise and the map way
		var in []dns.RR
		for i := range n {
			in = append(in, rr(fmt.Sprintf(`a.example. %d IN TXT "x%d"`, 100+i, i/2)))
		}
		out := distinct(in)
		if len(out) != (n+1)/2 {
			t.Fatalf("n=%d: %d records kept, want %d", n, len(out), (n+1)/2)
		}
		for i, r := range out {
			if want := fmt.Sprintf(`"x%d"`, i); r.(*dns.TXT).String() != fmt.Sprintf("a.example.\t%d\tIN\tTXT\t%s", 100+2*i, want) {
				t.Errorf("n=%d: kept %v, want the first copy of %s, in order, with the lower TTL", n, r, want)
			}
		}
	}
}
