package server

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/etcdview"
	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns/zone"
)

const statusPath = "/skydns/monitor/status/"

// harness is a DNS server on 127.0.0.1 over a real etcd.
type harness struct {
	t     *testing.T
	etcd  *etcdtest.Etcd
	cli   *clientv3.Client
	store *zone.Store
	h     *Handler
	addr  string
}

func defaultConfig() Config {
	return Config{TTL: 30, HealthTTLCap: 10, NegativeTTL: 60, ServeUnchecked: true, ClientMaskV4: 32, ClientMaskV6: 128,
		AllowPTR: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	e := etcdtest.Start(t)
	return startServer(t, e, cfg)
}

// startServer starts another server instance over the same etcd.
func startServer(t *testing.T, e *etcdtest.Etcd, cfg Config) *harness {
	t.Helper()
	return startServerDescending(t, e, cfg, nil)
}

// startServerDescending starts a server whose zones listed in descend
// answer records at every depth below a name (descend-zones).
func startServerDescending(t *testing.T, e *etcdtest.Etcd, cfg Config, descend []string) *harness {
	t.Helper()
	cli := e.Client()
	store := zone.New(zone.Options{
		Prefix: "/skydns", Zones: []string{"skydns.local.", "sub.skydns.local.", "other.test."}, Descend: descend,
		StatusPath: statusPath, View: etcdview.Options{ProgressInterval: 100 * time.Millisecond},
	})
	ctx, cancel := context.WithCancel(context.Background())
	wait := store.Start(ctx, cli)
	t.Cleanup(func() { cancel(); wait() })
	rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
	defer rcancel()
	if !store.Ready(rctx) {
		t.Fatal("store not ready")
	}
	waitFor(t, "store loaded", store.Loaded)
	h := NewHandler(cfg, store, nil)
	l, err := Listen("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Shutdown(context.Background()) })
	return &harness{t: t, etcd: e, cli: cli, store: store, h: h, addr: l.Addr()}
}

func (s *harness) put(key, value string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.cli.Put(ctx, key, value); err != nil {
		s.t.Fatal(err)
	}
}

func (s *harness) del(key string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.cli.Delete(ctx, key); err != nil {
		s.t.Fatal(err)
	}
}

// addA writes A (or AAAA) records of name as SkyDNS itself writes them.
func (s *harness) addA(name string, ips ...string) {
	s.t.Helper()
	for _, ip := range ips {
		r := record.Record{Host: ip}
		v, err := r.Encode()
		if err != nil {
			s.t.Fatal(err)
		}
		s.put(record.Key("/skydns", name, record.ID(r)), string(v))
	}
}

func (s *harness) setStatus(ip, status string) {
	s.t.Helper()
	s.put(health.Key(statusPath, netip.MustParseAddr(ip)), `{"status":"`+status+`"}`)
}

func (s *harness) setPolicy(name string, p policy.Policy) {
	s.t.Helper()
	s.put(policy.Key("/skydns", name), mustJSON(s.t, p))
}

// query asks the server over UDP (or TCP) and fails the test on a
// transport error.
func (s *harness) query(name string, qtype uint16, opts ...func(*dns.Msg, *dns.Client)) *dns.Msg {
	s.t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	for _, o := range opts {
		o(m, c)
	}
	r, _, err := c.Exchange(m, s.addr)
	if err != nil {
		s.t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return r
}

func overTCP(_ *dns.Msg, c *dns.Client) { c.Net = "tcp" }

func withEDNS(size uint16) func(*dns.Msg, *dns.Client) {
	return func(m *dns.Msg, _ *dns.Client) { m.SetEdns0(size, false) }
}

// withECS sends an EDNS client subnet.
func withECS(prefix string) func(*dns.Msg, *dns.Client) {
	return func(m *dns.Msg, _ *dns.Client) {
		p := netip.MustParsePrefix(prefix)
		m.SetEdns0(1232, false)
		family := uint16(1)
		if p.Addr().Is6() {
			family = 2
		}
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{
			Code: dns.EDNS0SUBNET, Family: family, SourceNetmask: uint8(p.Bits()), Address: net.IP(p.Addr().AsSlice()),
		})
	}
}

// ips returns the addresses in the answer section, sorted.
func ips(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		}
	}
	slices.Sort(out)
	return out
}

// eventually polls the server until check passes on an answer.
func (s *harness) eventually(what string, name string, qtype uint16, check func(*dns.Msg) bool) time.Duration {
	s.t.Helper()
	start := time.Now()
	deadline := start.Add(10 * time.Second)
	for {
		r := s.query(name, qtype)
		if check(r) {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: last answer:\n%v", what, r)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func sameIPs(want ...string) func(*dns.Msg) bool {
	slices.Sort(want)
	return func(m *dns.Msg) bool { return slices.Equal(ips(m), want) }
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
