package server

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/etcdview"
	"github.com/skydns/skydns/skydns/forward"
	"github.com/skydns/skydns/skydns/zone"
)

// While etcd stops and starts again, clients querying all the time get
// every answer, and the right one.
func TestEtcdOutageUnderQueries(t *testing.T) {
	s := newHarness(t, defaultConfig())
	s.addA("steady.skydns.local.", "192.0.2.1", "192.0.2.2")
	s.eventually("loaded", "steady.skydns.local.", dns.TypeA, sameIPs("192.0.2.1", "192.0.2.2"))

	var failures, wrong, total atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c := &dns.Client{Net: "udp", Timeout: time.Second}
			m := new(dns.Msg)
			m.SetQuestion("steady.skydns.local.", dns.TypeA)
			for i := 0; i < 100000; i++ { // bounded; stop ends it sooner
				select {
				case <-stop:
					return
				default:
				}
				r, _, err := c.Exchange(m, s.addr)
				total.Add(1)
				switch {
				case err != nil:
					failures.Add(1)
				case len(r.Answer) != 2 || r.Rcode != dns.RcodeSuccess:
					wrong.Add(1)
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	s.etcd.Stop()
	waitFor(t, "store reports stale", func() bool { return s.store.Status().Stale })
	time.Sleep(300 * time.Millisecond)
	s.etcd.Start()
	s.addA("after.skydns.local.", "192.0.2.9")
	s.eventually("change after restart served", "after.skydns.local.", dns.TypeA, sameIPs("192.0.2.9"))
	waitFor(t, "store current again", func() bool { return !s.store.Status().Stale })
	close(stop)
	wg.Wait()
	t.Logf("%d queries during the outage: %d failed, %d wrong", total.Load(), failures.Load(), wrong.Load())
	if failures.Load() != 0 || wrong.Load() != 0 || total.Load() < 100 {
		t.Fatalf("%d failed, %d wrong of %d", failures.Load(), wrong.Load(), total.Load())
	}
}

// Before the first load the server does not know the zones: SERVFAIL, not
// a wrong NXDOMAIN.
func TestServfailBeforeLoad(t *testing.T) {
	e := etcdtest.Start(t)
	e.Stop() // nothing to load from
	store := zone.New(zone.Options{Prefix: "/skydns", Zones: []string{"skydns.local."}, StatusPath: statusPath,
		View: etcdview.Options{ProgressInterval: 100 * time.Millisecond}})
	cli := e.Client()
	ctx, cancel := context.WithCancel(context.Background())
	wait := store.Start(ctx, cli)
	defer func() { cancel(); wait() }()
	l, err := Listen("127.0.0.1:0", NewHandler(defaultConfig(), store, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Shutdown(context.Background())
	m := new(dns.Msg)
	m.SetQuestion("anything.skydns.local.", dns.TypeA)
	r, err := dns.Exchange(m, l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("rcode %s before the first load, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
}

// upstream is a DNS server on 127.0.0.1 that answers every A query with
// 203.0.113.80 and counts what it got.
func upstream(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		n.Add(1)
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		if r.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(r.Question[0].Name + " 300 IN A 203.0.113.80")
			m.Answer = append(m.Answer, rr)
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String(), &n
}

func TestForwarding(t *testing.T) {
	up, count := upstream(t)
	fwd, err := forward.New(forward.Options{Upstreams: []string{up}, CacheSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Close()

	cfg := defaultConfig()
	cfg.Forwarder = fwd
	cfg.AllowRecursion = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	s := newHarness(t, cfg)
	s.put("/skydns/local/skydns/ext/", `{"type":"CNAME","host":"www.example.org"}`)
	s.eventually("loaded", "ext.skydns.local.", dns.TypeA, func(m *dns.Msg) bool { return len(m.Answer) == 2 })

	r := s.query("www.example.org.", dns.TypeA)
	if r.Rcode != dns.RcodeSuccess || !r.RecursionAvailable || r.Authoritative || len(ips(r)) != 1 || ips(r)[0] != "203.0.113.80" {
		t.Fatalf("forwarded answer: %v", r)
	}
	r = s.query("ext.skydns.local.", dns.TypeA)
	if got := rdata(r.Answer[0]) + " / " + rdata(r.Answer[1]); got != "CNAME www.example.org. / A 203.0.113.80" {
		t.Fatalf("CNAME out of the zones, recursion allowed: %s", got)
	}
	if count.Load() != 1 {
		t.Fatalf("upstream saw %d queries, want 1 (the second from the cache)", count.Load())
	}

	// The same server refuses a client outside the allow list.
	cfg.AllowRecursion = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
	s2 := startServer(t, s.etcd, cfg)
	if r := s2.query("www.example.org.", dns.TypeA); r.Rcode != dns.RcodeRefused || r.RecursionAvailable {
		t.Fatalf("client outside allow-recursion: %v", r)
	}
}
