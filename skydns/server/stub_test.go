package server

import (
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/skydns/forward"
)

// stubServer is another DNS server on 127.0.0.1, UDP and TCP on one port,
// authoritative for whatever it is asked: an A record 203.0.113.53 for
// every name, NXDOMAIN for names that start with "nx.".
type stubServer struct {
	addr  string
	mu    sync.Mutex
	asked []string // lower-case names, in order
}

func (s *stubServer) saw(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.asked {
		if n == name {
			return true
		}
	}
	return false
}

func startStub(t *testing.T) *stubServer {
	t.Helper()
	var (
		pc net.PacketConn
		ln net.Listener
	)
	// The kernel picks the UDP port; the same TCP port may be taken, so a
	// few tries.
	for try := 0; try < 10 && ln == nil; try++ {
		var err error
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp", pc.LocalAddr().String()); err != nil {
			pc.Close()
			ln = nil
		}
	}
	if ln == nil {
		t.Fatal("no port free for both UDP and TCP")
	}
	s := &stubServer{addr: pc.LocalAddr().String()}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		q := r.Question[0]
		name := strings.ToLower(q.Name)
		s.mu.Lock()
		s.asked = append(s.asked, name)
		s.mu.Unlock()
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		switch {
		case strings.HasPrefix(name, "nx."):
			m.Rcode = dns.RcodeNameError
			soa, _ := dns.NewRR(name[3:] + " 60 IN SOA ns.stub. hostmaster.stub. 7 3600 600 86400 60")
			m.Ns = append(m.Ns, soa)
		case q.Qtype == dns.TypeA:
			rr, _ := dns.NewRR(q.Name + " 300 IN A 203.0.113.53")
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})
	udp := &dns.Server{PacketConn: pc, Handler: h}
	tcp := &dns.Server{Listener: ln, Handler: h}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })
	return s
}

// TestStubZonesInsideServedZones: a name under a stub zone is answered by
// the stub zone's servers, even when the stub lies inside a served zone;
// the longest match between served and stub zones wins.
func TestStubZonesInsideServedZones(t *testing.T) {
	stub := startStub(t)
	// As the operator writes them: with and without the trailing dot, in
	// any case (the harness serves skydns.local., sub.skydns.local. and
	// other.test.).
	stubZones := []string{"corp.skydns.local", "a.deep.skydns.local.", "In.Sub.skydns.local", "lab.example."}
	fwdZones := map[string][]string{}
	for _, z := range stubZones {
		fwdZones[z] = []string{stub.addr}
	}
	fwd, err := forward.New(forward.Options{StubZones: fwdZones, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Close()

	cfg := defaultConfig()
	cfg.Forwarder = fwd
	cfg.StubZones = stubZones
	cfg.ForwardTimeout = 5 * time.Second
	cfg.AllowRecursion = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	s := newHarness(t, cfg)
	s.addA("www.skydns.local.", "198.51.100.1")
	// Records in etcd under a stub zone are not ours to serve: the stub
	// has the name.
	s.addA("host.corp.skydns.local.", "198.51.100.2")
	s.addA("b.sub.skydns.local.", "198.51.100.3")
	s.put("/skydns/local/skydns/alias/", `{"type":"CNAME","host":"host.corp.skydns.local"}`)
	// Each zone has its own etcd view: wait for the last record of each.
	s.eventually("sub.skydns.local. loaded", "b.sub.skydns.local.", dns.TypeA, sameIPs("198.51.100.3"))
	s.eventually("skydns.local. loaded", "alias.skydns.local.", dns.TypeCNAME, func(m *dns.Msg) bool { return len(m.Answer) == 1 })

	type want struct {
		rcode   int
		answer  string // "; "-joined rdata
		aa      bool
		stub    bool // the stub server was asked for the name
		soaName string
	}
	for _, c := range []struct {
		name  string
		qname string
		want  want
	}{
		{"name under a stub inside the served zone", "host.corp.skydns.local.", want{rcode: dns.RcodeSuccess, answer: "A 203.0.113.53", stub: true}},
		{"the stub zone's apex", "corp.skydns.local.", want{rcode: dns.RcodeSuccess, answer: "A 203.0.113.53", stub: true}},
		{"any case", "HoSt2.CORP.skydns.local.", want{rcode: dns.RcodeSuccess, answer: "A 203.0.113.53", stub: true}},
		{"the stub's NXDOMAIN passes through", "nx.corp.skydns.local.", want{rcode: dns.RcodeNameError, stub: true, soaName: "corp.skydns.local."}},
		{"stub configured with a trailing dot", "x.a.deep.skydns.local.", want{rcode: dns.RcodeSuccess, answer: "A 203.0.113.53", stub: true}},
		{"stub inside a nested served zone", "y.in.sub.skydns.local.", want{rcode: dns.RcodeSuccess, answer: "A 203.0.113.53", stub: true}},
		{"stub outside the served zones", "z.lab.example.", want{rcode: dns.RcodeSuccess, answer: "A 203.0.113.53", stub: true}},
		{"our CNAME into a stub zone", "alias.skydns.local.", want{rcode: dns.RcodeSuccess, answer: "CNAME host.corp.skydns.local.; A 203.0.113.53", aa: true, stub: true}},
		{"our name beside the stub", "www.skydns.local.", want{rcode: dns.RcodeSuccess, answer: "A 198.51.100.1", aa: true}},
		{"our nested zone beside the stub", "b.sub.skydns.local.", want{rcode: dns.RcodeSuccess, answer: "A 198.51.100.3", aa: true}},
		{"our missing name beside the stub", "nothere.skydns.local.", want{rcode: dns.RcodeNameError, aa: true, soaName: "skydns.local."}},
		{"a name between the apex and a stub exists: NODATA", "deep.skydns.local.", want{rcode: dns.RcodeSuccess, aa: true, soaName: "skydns.local."}},
		{"a name beside the stub's parent: NXDOMAIN", "b.deep.skydns.local.", want{rcode: dns.RcodeNameError, aa: true, soaName: "skydns.local."}},
	} {
		for _, tr := range []string{"udp", "tcp"} {
			t.Run(c.name+"/"+tr, func(t *testing.T) {
				r := s.query(c.qname, dns.TypeA, func(_ *dns.Msg, cl *dns.Client) { cl.Net = tr })
				var got []string
				for _, rr := range r.Answer {
					got = append(got, rdata(rr))
				}
				if r.Rcode != c.want.rcode || strings.Join(got, "; ") != c.want.answer || r.Authoritative != c.want.aa {
					t.Errorf("rcode %s aa %v answer %q, want %s aa %v %q:\n%v", dns.RcodeToString[r.Rcode], r.Authoritative,
						strings.Join(got, "; "), dns.RcodeToString[c.want.rcode], c.want.aa, c.want.answer, r)
				}
				target := strings.ToLower(c.qname)
				if c.want.answer != "" && strings.HasPrefix(c.want.answer, "CNAME ") {
					target = strings.TrimPrefix(strings.SplitN(c.want.answer, ";", 2)[0], "CNAME ")
				}
				if stub.saw(target) != c.want.stub {
					t.Errorf("stub server asked for %s: %v, want %v", target, stub.saw(target), c.want.stub)
				}
				if c.want.soaName != "" && (len(r.Ns) != 1 || r.Ns[0].Header().Name != c.want.soaName) {
					t.Errorf("authority %v, want the SOA of %s", r.Ns, c.want.soaName)
				}
			})
		}
	}

	// A client outside allow-recursion is refused for a stub's names, as
	// for any name it may not recurse for: the stub zone's data is not
	// ours to give, and a false authoritative NXDOMAIN would be cached.
	cfg.AllowRecursion = []netip.Prefix{netip.MustParsePrefix("::1/128")}
	s2 := startServer(t, s.etcd, cfg)
	for _, tr := range []string{"udp", "tcp"} {
		for _, qname := range []string{"host.corp.skydns.local.", "nx.corp.skydns.local.", "alias.skydns.local."} {
			r := s2.query(qname, dns.TypeA, func(_ *dns.Msg, cl *dns.Client) { cl.Net = tr })
			switch {
			case qname == "alias.skydns.local.":
				// Our own CNAME is ours to give; where it leads is not.
				if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 1 || rdata(r.Answer[0]) != "CNAME host.corp.skydns.local." {
					t.Errorf("%s %s outside allow-recursion: %v", tr, qname, r)
				}
			case r.Rcode != dns.RcodeRefused || r.Authoritative || r.RecursionAvailable || len(r.Answer) != 0:
				t.Errorf("%s %s outside allow-recursion: want REFUSED, got %v", tr, qname, r)
			}
		}
		if r := s2.query("www.skydns.local.", dns.TypeA, func(_ *dns.Msg, cl *dns.Client) { cl.Net = tr }); !slicesEqual(ips(r), "198.51.100.1") {
			t.Errorf("%s our own name outside allow-recursion: %v", tr, r)
		}
	}
}

func slicesEqual(got []string, want ...string) bool {
	return strings.Join(got, ",") == strings.Join(want, ",")
}
