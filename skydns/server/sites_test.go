package server

import (
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/internal/topology"
)

// The sites of these tests: three data centres, their backends in
// 192.0.2.0/24, their clients in 198.51.100.0/24 and 203.0.113.0/24 (by
// ECS) and on 127.0.0.2 and 127.0.0.3 (by source address).
var testSites = map[string]string{
	"bj": `{"networks":["192.0.2.0/25","198.51.100.0/24","127.0.0.2/32"],"fallback":["sh","gz"]}`,
	"sh": `{"networks":["192.0.2.128/26","203.0.113.0/25","127.0.0.3/32"]}`,
	"gz": `{"networks":["192.0.2.192/27","203.0.113.128/25"],"fallback":["sh"]}`,
}

// The backends of web.skydns.local. 192.0.2.250 is in no site; vip's
// address is in gz's networks but its record's site field puts it in bj.
const (
	bj1, bj2, vip = "192.0.2.1", "192.0.2.2", "203.0.113.200"
	sh1, sh2      = "192.0.2.129", "192.0.2.130"
	gz1           = "192.0.2.193"
	nowhere       = "192.0.2.250"
)

var webIPs = []string{bj1, bj2, vip, sh1, sh2, gz1, nowhere}

// siteClient is one client of a site: by ECS (a /32, so that hold-one's
// own scope is 32) and by its source address.
type siteClient struct {
	ecs   string // the ECS source, a /32
	from  string // the source address of the query
	scope int    // the ECS scope of its site: the site network around ecs
}

var siteClients = map[string]siteClient{
	"bj":   {"198.51.100.7/32", "127.0.0.2", 24},
	"sh":   {"203.0.113.9/32", "127.0.0.3", 25},
	"gz":   {"203.0.113.130/32", "", 25}, // 127.0.0.0/8 has no third address in a site: ECS only
	"none": {"192.0.2.240/32", "127.0.0.1", 27},
}

// sitesHarness is two servers (replicas) on one etcd with the sites and
// web's records written.
func sitesHarness(t *testing.T) []*harness {
	t.Helper()
	s := newHarness(t, defaultConfig())
	for name, v := range testSites {
		s.put(topology.Key("/skydns", name), v)
	}
	for i, ip := range webIPs {
		r := record.Record{Host: ip, Priority: i + 1}
		if ip == vip {
			r.Site = "bj"
		}
		if ip == bj1 {
			r.Priority = 0 // the best priority of bj
		}
		v, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		s.put(record.Key("/skydns", "web.skydns.local.", record.ID(r)), string(v))
	}
	replicas := []*harness{s, startServer(t, s.etcd, defaultConfig())}
	for _, r := range replicas {
		waitFor(t, "sites loaded", func() bool { return r.store.Topology().Len() == len(testSites) })
		r.eventually("records loaded", "web.skydns.local.", dns.TypeA, func(m *dns.Msg) bool { return len(m.Answer) > 0 })
	}
	return replicas
}

// setState writes the health of every backend (down ones DOWN, the others
// UP) and the policy of web, and waits until every replica has it, so that
// the answers after it are determined.
func setState(t *testing.T, replicas []*harness, down []string, pol *policy.Policy) {
	t.Helper()
	s := replicas[0]
	for _, ip := range webIPs {
		st := "UP"
		if slices.Contains(down, ip) {
			st = "DOWN"
		}
		s.setStatus(ip, st)
	}
	if pol == nil {
		s.del(policy.Key("/skydns", "web.skydns.local."))
	} else {
		s.setPolicy("web.skydns.local.", *pol)
	}
	for _, r := range replicas {
		waitFor(t, "state applied", func() bool {
			for _, ip := range webIPs {
				want := health.Up
				if slices.Contains(down, ip) {
					want = health.Down
				}
				if r.store.State(netip.MustParseAddr(ip)) != want {
					return false
				}
			}
			got := r.store.Policy("web.skydns.local.")
			return (got == nil) == (pol == nil) && (pol == nil || reflect.DeepEqual(*got, *pol))
		})
	}
}

// ask queries web A as a client of site, by ECS or by source address.
func ask(t *testing.T, s *harness, c siteClient, byECS bool, network string) *dns.Msg {
	t.Helper()
	opts := []func(*dns.Msg, *dns.Client){func(_ *dns.Msg, cl *dns.Client) { cl.Net = network }}
	if byECS {
		opts = append(opts, withECS(c.ecs))
	} else {
		from := net.ParseIP(c.from)
		opts = append(opts, func(_ *dns.Msg, cl *dns.Client) {
			cl.Dialer = &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.UDPAddr{IP: from}}
			if network == "tcp" {
				cl.Dialer.LocalAddr = &net.TCPAddr{IP: from}
			}
		})
	}
	return s.query("web.skydns.local.", dns.TypeA, opts...)
}

// ecsScope returns the scope of the reply's client subnet option, -1 for
// none.
func ecsScope(m *dns.Msg) int {
	if opt := m.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				return int(e.SourceScope)
			}
		}
	}
	return -1
}

var (
	all = []string{bj1, bj2, vip, sh1, sh2, gz1, nowhere}
	bj  = []string{bj1, bj2, vip}
	sh  = []string{sh1, sh2}
)

func pol(mode policy.Mode, topo policy.Topology, minHealthy int) *policy.Policy {
	return &policy.Policy{Mode: mode, Topology: topo, MinHealthy: minHealthy}
}

// TestSites is the behaviour of issue 11 as a table: a client of a site,
// the health of the backends and the name's policy give the set an answer
// is drawn from, and, for an ECS client, the scope the answer holds for.
func TestSites(t *testing.T) {
	replicas := sitesHarness(t)
	for _, tc := range []struct {
		what   string
		client string // a key of siteClients
		down   []string
		pol    *policy.Policy
		want   []string // the set chosen; the mode then picks in it
		scope  int      // ECS scope for the client's /32 ECS
	}{
		{"own site", "bj", nil, nil, bj, 24},
		{"the record's site field wins over the address", "bj", nil, pol(policy.ModeAll, policy.TopologyLocal, 0), bj, 24},
		{"first fallback", "bj", bj, nil, sh, 24},
		{"second fallback", "bj", append(bj, sh...), nil, []string{gz1}, 24},
		{"anywhere: only the IPs in no site are left", "bj", []string{bj1, bj2, vip, sh1, sh2, gz1}, nil, []string{nowhere}, 24},
		{"all down: the all-down policy (all), for every client alike", "bj", all, nil, all, 0},
		{"no fallback list: all other sites together", "sh", sh, nil, []string{bj1, bj2, vip, gz1}, 25},
		{"gz falls back to sh", "gz", []string{gz1}, nil, sh, 25},
		{"gz, sh down too: anywhere", "gz", []string{gz1, sh1, sh2}, nil, []string{bj1, bj2, vip, nowhere}, 25},
		{"a client in no site: every healthy IP", "none", []string{bj1}, nil, []string{bj2, vip, sh1, sh2, gz1, nowhere}, 27},
		{"topology any: every healthy IP, whoever asks", "bj", []string{sh1}, pol("", policy.TopologyAny, 0), []string{bj1, bj2, vip, sh2, gz1, nowhere}, 0},
		{"min-healthy 2 met", "bj", []string{bj1}, pol("", "", 2), []string{bj2, vip}, 24},
		{"min-healthy 2 missed: fallback", "bj", []string{bj1, bj2}, pol("", "", 2), sh, 24},
		{"min-healthy 2: gz never has 2", "gz", nil, pol("", "", 2), sh, 25},
		{"min-healthy 3: sh's others together", "sh", nil, pol("", "", 3), []string{bj1, bj2, vip, gz1}, 25},
		{"min-healthy 4 nowhere met: anywhere", "bj", nil, pol("", "", 4), all, 24},
		{"priority within the site", "bj", nil, pol(policy.ModePriority, "", 0), []string{bj1}, 24},
		{"priority within the fallback", "bj", bj, pol(policy.ModePriority, "", 0), []string{sh1}, 24},
		{"random within the site", "sh", nil, pol(policy.ModeRandom, "", 0), sh, 25},
		{"weighted within the fallback", "gz", []string{gz1}, pol(policy.ModeWeighted, "", 0), sh, 25},
		{"hold-one within the site: scope of the client's /32", "bj", nil, pol(policy.ModeHoldOne, "", 0), bj, 32},
		{"hold-one within the fallback", "bj", bj, pol(policy.ModeHoldOne, "", 0), sh, 32},
		{"hold-one, topology any: today's scope", "bj", nil, pol(policy.ModeHoldOne, policy.TopologyAny, 0), all, 32},
	} {
		t.Run(tc.what, func(t *testing.T) {
			setState(t, replicas, tc.down, tc.pol)
			c := siteClients[tc.client]
			mode := policy.ModeAll
			if tc.pol != nil && tc.pol.Mode != "" {
				mode = tc.pol.Mode
			}
			for _, byECS := range []bool{true, false} {
				if !byECS && c.from == "" {
					continue
				}
				for _, network := range []string{"udp", "tcp"} {
					var first []string
					for i, s := range replicas {
						m := ask(t, s, c, byECS, network)
						got := ips(m)
						where := fmt.Sprintf("replica %d, %s, ECS %v", i, network, byECS)
						if m.Rcode != dns.RcodeSuccess {
							t.Fatalf("%s: rcode %s", where, dns.RcodeToString[m.Rcode])
						}
						switch mode {
						case policy.ModeAll, policy.ModePriority:
							if !slices.Equal(got, sorted(tc.want)) {
								t.Errorf("%s: answer %v, want %v", where, got, sorted(tc.want))
							}
						default:
							if len(got) != 1 || !slices.Contains(tc.want, got[0]) {
								t.Errorf("%s: answer %v, want one of %v", where, got, tc.want)
							}
						}
						if mode == policy.ModeHoldOne {
							// The same on both replicas, on UDP and TCP.
							if first != nil && !slices.Equal(got, first) {
								t.Errorf("%s: hold-one gave %v, the first replica %v", where, got, first)
							}
							first = got
						}
						wantScope := tc.scope
						if !byECS {
							wantScope = -1 // no ECS asked, none answered
						}
						if sc := ecsScope(m); sc != wantScope {
							t.Errorf("%s: ECS scope %d, want %d", where, sc, wantScope)
						}
					}
				}
			}
		})
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestSiteFailsOverAndBack: hold-one clients of bj keep their backend, go
// to sh while bj is down, and come back to the same backend, on both
// replicas, by ECS and by source address.
func TestSiteFailsOverAndBack(t *testing.T) {
	replicas := sitesHarness(t)
	hold := pol(policy.ModeHoldOne, "", 0)
	c := siteClients["bj"]
	// answers is what the two client keys get from each replica.
	answers := func() []string {
		var got []string
		for _, s := range replicas {
			for _, byECS := range []bool{true, false} {
				a := ips(ask(t, s, c, byECS, "udp"))
				if len(a) != 1 {
					t.Fatalf("hold-one answered %v", a)
				}
				got = append(got, a[0])
			}
		}
		return got
	}
	setState(t, replicas, nil, hold)
	before := answers()
	for round := range 2 {
		setState(t, replicas, bj, hold)
		during := answers()
		for _, a := range during {
			if !slices.Contains(sh, a) {
				t.Fatalf("round %d, bj down: %v, want sh's", round, during)
			}
		}
		setState(t, replicas, nil, hold)
		if after := answers(); !slices.Equal(after, before) {
			t.Fatalf("round %d: before the failover %v, after it %v (during %v)", round, before, after, during)
		}
		t.Logf("round %d: %v, then %v, then back", round, before, during)
	}
}

// TestTopologyChange: a change of a topology key shows in the next answers,
// and a bad value or a conflict in etcd is logged and skipped while the
// other sites keep serving.
func TestTopologyChange(t *testing.T) {
	replicas := sitesHarness(t)
	s := replicas[0]
	setState(t, replicas, nil, nil)
	c := siteClients["bj"]
	if got := ips(ask(t, s, c, true, "udp")); !slices.Equal(got, sorted(bj)) {
		t.Fatalf("before: %v", got)
	}
	// Move bj's clients to sh.
	s.put(topology.Key("/skydns", "bj"), `{"networks":["192.0.2.0/25","127.0.0.2/32"],"fallback":["sh","gz"]}`)
	s.put(topology.Key("/skydns", "sh"), `{"networks":["192.0.2.128/26","203.0.113.0/25","127.0.0.3/32","198.51.100.0/24"]}`)
	took := s.eventuallyECS("clients moved", c.ecs, func(m *dns.Msg) bool { return slices.Equal(ips(m), sorted(sh)) && ecsScope(m) == 24 })
	t.Logf("topology change seen in answers %v after the puts returned", took)

	// Garbage, a name that is no label, and a conflicting network: logged
	// and skipped, the rest serves.
	s.put(topology.Key("/skydns", "xx"), `{"networks":["not a cidr"]}`)
	s.put("/skydns/topology/Not_A_Label", `{"networks":["198.51.100.0/24"]}`)
	s.put(topology.Key("/skydns", "aa"), `{"networks":["198.51.100.0/24"]}`) // sorts before sh: takes the network
	s.eventuallyECS("conflict resolved by the first name", c.ecs, func(m *dns.Msg) bool {
		// aa holds no backend: its clients fall back to all other sites.
		return slices.Equal(ips(m), sorted([]string{bj1, bj2, vip, sh1, sh2, gz1})) && ecsScope(m) == 24
	})
	if got := ips(ask(t, s, siteClients["sh"], true, "tcp")); !slices.Equal(got, sorted(sh)) {
		t.Fatalf("sh's clients after the bad values: %v", got)
	}
	// A backend moves: a /32 of gz inside bj's /25 places bj1 in gz.
	s.put(topology.Key("/skydns", "gz"), `{"networks":["192.0.2.192/27","203.0.113.128/25","192.0.2.1/32"],"fallback":["sh"]}`)
	s.eventuallyECS("bj1 moved to gz", siteClients["gz"].ecs, func(m *dns.Msg) bool {
		return slices.Equal(ips(m), sorted([]string{gz1, bj1})) && ecsScope(m) == 25
	})
	// Every site gone: today's behaviour, scope 0.
	for _, name := range []string{"bj", "sh", "gz", "xx", "aa"} {
		s.del(topology.Key("/skydns", name))
	}
	s.eventuallyECS("no sites", c.ecs, func(m *dns.Msg) bool { return slices.Equal(ips(m), sorted(all)) && ecsScope(m) == 0 })
}

func (s *harness) eventuallyECS(what, ecs string, check func(*dns.Msg) bool) time.Duration {
	s.t.Helper()
	start := time.Now()
	deadline := start.Add(10 * time.Second)
	for {
		r := s.query("web.skydns.local.", dns.TypeA, withECS(ecs))
		if check(r) {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: last answer:\n%v", what, r)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSitesFastPath: with sites, a plain query from a client of a site
// takes the fast path, allocation-free, and gets its site's answer.
func TestSitesFastPath(t *testing.T) {
	replicas := sitesHarness(t)
	s := replicas[0]
	setState(t, replicas, nil, nil)
	m := new(dns.Msg)
	m.SetQuestion("web.skydns.local.", dns.TypeA)
	pkt, _ := m.Pack()
	out, scratch := make([]byte, 0, 1232), make([]byte, 256)
	from := netip.MustParseAddr("127.0.0.3")
	resp, ok := s.h.fast(out, pkt, scratch, from) // places web's IPs once
	if !ok {
		t.Fatal("fast path declined")
	}
	var r dns.Msg
	if err := r.Unpack(resp); err != nil || !slices.Equal(ips(&r), sorted(sh)) {
		t.Fatalf("fast path answer %v, %v; want %v", ips(&r), err, sh)
	}
	if n := testing.AllocsPerRun(100, func() { s.h.fast(out, pkt, scratch, from) }); n != 0 {
		t.Fatalf("fast path with sites allocates %.1f times per query", n)
	}
	if !strings.Contains(r.String(), sh1) {
		t.Fatal("no sh address")
	}
}

// TestSitesWorkedExample is the two-data-centre example of docs/sites.md,
// key for key.
func TestSitesWorkedExample(t *testing.T) {
	s := newHarness(t, defaultConfig())
	for key, value := range map[string]string{
		"/skydns/topology/bj":               `{"networks":["192.0.2.0/25","198.51.100.0/24"],"fallback":["sh"]}`,
		"/skydns/topology/sh":               `{"networks":["192.0.2.128/25","203.0.113.0/24"],"fallback":["bj"]}`,
		"/skydns/local/skydns/web/1a2b3c01": `{"host":"192.0.2.10"}`,
		"/skydns/local/skydns/web/1a2b3c02": `{"host":"192.0.2.11"}`,
		"/skydns/local/skydns/web/1a2b3c03": `{"host":"192.0.2.140"}`,
		"/skydns/local/skydns/web/1a2b3c04": `{"host":"203.0.113.80","site":"bj"}`,
	} {
		s.put(key, value)
	}
	waitFor(t, "sites loaded", func() bool { return s.store.Topology().Len() == 2 })
	beijing := []string{"192.0.2.10", "192.0.2.11", "203.0.113.80"}
	shanghai := []string{"192.0.2.140"}
	check := func(what, ecs string, want []string, scope int) {
		t.Helper()
		s.eventuallyECS(what, ecs, func(m *dns.Msg) bool { return slices.Equal(ips(m), sorted(want)) && ecsScope(m) == scope })
	}
	check("a Beijing client", "198.51.100.7/32", beijing, 24)
	check("a Shanghai client", "203.0.113.9/32", shanghai, 24)
	s.setStatus("192.0.2.140", "DOWN")
	check("Shanghai down: Beijing's", "203.0.113.9/32", beijing, 24)
	s.setStatus("192.0.2.140", "UP")
	s.setPolicy("web.skydns.local.", policy.Policy{MinHealthy: 2})
	check("min-healthy 2: Shanghai's one is too few", "203.0.113.9/32", beijing, 24)
	s.setStatus("192.0.2.10", "DOWN")
	s.setStatus("192.0.2.11", "DOWN")
	check("min-healthy 2, two of Beijing's down: anywhere", "198.51.100.7/32", []string{"203.0.113.80", "192.0.2.140"}, 24)
}
