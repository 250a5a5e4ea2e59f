package e2e

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/internal/etcdtest"
)

// The skydns binary with a stub zone inside its served zone, written in
// skydns.conf as an operator would (no trailing dot): the stub's names are
// asked of the stub's server, a real DNS server on loopback; the rest of
// the zone is still answered from etcd.
func TestStubZoneInsideServedZoneBinary(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Skipf("the stub's TCP port is taken: %v", err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Authoritative = true
		if r.Question[0].Qtype == dns.TypeA && strings.HasSuffix(strings.ToLower(r.Question[0].Name), ".corp.skydns.local.") {
			rr, _ := dns.NewRR(r.Question[0].Name + " 300 IN A 203.0.113.53")
			m.Answer = append(m.Answer, rr)
		} else {
			m.Rcode = dns.RcodeRefused // only its own zone
		}
		w.WriteMsg(m)
	})
	udp, tcp := &dns.Server{PacketConn: pc, Handler: h}, &dns.Server{Listener: ln, Handler: h}
	go udp.ActivateAndServe()
	go tcp.ActivateAndServe()
	t.Cleanup(func() { udp.Shutdown(); tcp.Shutdown() })

	etcd := etcdtest.Start(t)
	if _, err := etcd.Client().Put(t.Context(), "/skydns/local/skydns/www/0000000a", `{"host":"192.0.2.10"}`); err != nil {
		t.Fatal(err)
	}
	stub := pc.LocalAddr().String()
	p, dnsAddr, _ := startDNS(t, etcd, "Dns.inDomainServers=corp.skydns.local@"+stub,
		// The stub's server is the only server it may ask, for anything.
		"Dns.ex-nameservers="+stub, "Dns.allow-recursion=127.0.0.0/8")
	p.waitLog("ready", 20*time.Second)
	eventuallyIPs(t, dnsAddr, "www.skydns.local.", "192.0.2.10")
	for _, tr := range []string{"udp", "tcp"} {
		m := new(dns.Msg)
		m.SetQuestion("host.corp.skydns.local.", dns.TypeA)
		r, _, err := (&dns.Client{Net: tr, Timeout: 5 * time.Second}).Exchange(m, dnsAddr)
		if err != nil {
			t.Fatalf("%s: %v", tr, err)
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "203.0.113.53" {
			t.Errorf("%s: host.corp.skydns.local: %v", tr, r)
		}
	}
	p.stop(10 * time.Second)
}
