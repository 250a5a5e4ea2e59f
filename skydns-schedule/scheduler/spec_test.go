package scheduler

import (
	"maps"
	"net/netip"
	"testing"
	"time"

	"github.com/skydns/skydns/internal/config"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/policy"
)

func TestMergeSpec(t *testing.T) {
	on, off := true, false
	h1 := &policy.HTTPCheck{Path: "/a"}
	h2 := &policy.HTTPCheck{Path: "/b"}
	for _, tc := range []struct {
		name        string
		checks      []*policy.Check
		statusPorts []int
		want        string
	}{
		{"no policy, no status ports: agent defaults", []*policy.Check{nil}, nil, `{}`},
		{"status ports when no policy gives any", []*policy.Check{nil}, []int{443, 80}, `{"ports":[80,443]}`},
		{"policy ports win over status ports", []*policy.Check{{Ports: []int{8080}}}, []int{80}, `{"ports":[8080]}`},
		{"ports of all names", []*policy.Check{{Ports: []int{81, 80}}, nil, {Ports: []int{80, 82}}}, nil, `{"ports":[80,81,82]}`},
		{"icmp on wins", []*policy.Check{{ICMP: &off}, {ICMP: &on}}, nil, `{"icmp":true}`},
		{"icmp off when nobody wants it", []*policy.Check{{ICMP: &off}, nil}, nil, `{"icmp":false}`},
		{"first http check by name", []*policy.Check{nil, {HTTP: h1}, {HTTP: h2}}, nil, `{"http":{"path":"/a"}}`},
		{"first dns and grpc checks by name", []*policy.Check{
			{DNS: &policy.DNSCheck{Name: "a.example."}},
			{DNS: &policy.DNSCheck{Name: "b.example."}, GRPC: &policy.GRPCCheck{Port: 9090}, Ports: []int{80}},
			{GRPC: &policy.GRPCCheck{Port: 9091}},
		}, nil, `{"ports":[80],"dns":{"name":"a.example."},"grpc":{"port":9090}}`},
		{"http match, tls-verify and min-cert-days carried", []*policy.Check{
			{HTTP: &policy.HTTPCheck{Scheme: "https", Match: "ok", TLSVerify: true, MinCertDays: 14}},
		}, nil, `{"http":{"scheme":"https","match":"ok","tls-verify":true,"min-cert-days":14}}`},
		{"require all wins", []*policy.Check{{Require: policy.RequireAny}, {Require: policy.RequireAll}}, nil, `{"require":"all"}`},
		{"require any is the default", []*policy.Check{{Require: policy.RequireAny}}, nil, `{}`},
		{"bad status ports dropped", nil, []int{0, 80, 70000}, `{"ports":[80]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(mergeSpec(tc.checks, tc.statusPorts).Encode())
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if _, err := monitor.DecodeSpec([]byte(got)); err != nil {
				t.Errorf("agent cannot read it: %v", err)
			}
		})
	}
}

// The records view sees every key under the prefix; only A/AAAA records
// outside the monitor and policy subtrees are targets.
func TestStateTargets(t *testing.T) {
	s := newState("/skydns", monitor.DefaultPaths(), "/skydns/monitor/lock", "")
	put := func(k, v string) { s.putKey(k, []byte(v)) }
	put("/skydns/local/skydns/web/0a000001", `{"host":"192.0.2.1"}`)
	put("/skydns/local/skydns/web/0a000002", `{"host":"192.0.2.2","type":"A"}`)
	put("/skydns/local/skydns/api", `{"host":"192.0.2.1"}`)                          // same IP, other name
	put("/skydns/local/skydns/v6/0000abcd", `{"host":"2001:db8::1"}`)                // AAAA
	put("/skydns/local/skydns/alias/", `{"type":"CNAME","host":"web.skydns.local"}`) // not probed
	put("/skydns/local/skydns/txt/0000abce", `{"text":"hello"}`)
	put("/skydns/local/skydns/bad/0000abcf", `not json`)
	put("/skydns/monitor/status/192.0.2.9", `{"status":"UP"}`)      // monitor subtree
	put("/skydns/monitor/job/a1/192.0.2.8", `{"host":"192.0.2.8"}`) // even if it looks like a record
	put("/skydns/monitor/lock/694d8", `{"host":"192.0.2.7"}`)
	put("/skydns/policy/web.skydns.local", `{"check":{"ports":[8080]}}`)
	// Leaves below a name are its records (record.Rule): www's policy
	// checks them.
	put("/skydns/local/skydns/www/leaf1", `{"host":"192.0.2.4"}`)
	put("/skydns/local/skydns/www/leaf2/", `{"host":"192.0.2.5"}`)
	put("/skydns/policy/www.skydns.local", `{"check":{"ports":[8443]}}`)

	// Knowing no zones, the scheduler counts the parent of api too, the
	// apex skydns.local (which the DNS server never gives api's record).
	want := map[string][]string{
		"192.0.2.1":   {"api.skydns.local.", "skydns.local.", "web.skydns.local."},
		"192.0.2.2":   {"web.skydns.local."},
		"192.0.2.4":   {"leaf1.www.skydns.local.", "www.skydns.local."},
		"192.0.2.5":   {"leaf2.www.skydns.local.", "www.skydns.local."},
		"2001:db8::1": {"v6.skydns.local."},
	}
	if len(s.ipNames) != len(want) {
		t.Fatalf("targets %v, want %v", s.ipNames, want)
	}
	for ip, names := range want {
		got := s.ipNames[netip.MustParseAddr(ip)]
		if len(got) != len(names) {
			t.Errorf("%s: names %v, want %v", ip, got, names)
		}
		for _, n := range names {
			if got[n] != 1 {
				t.Errorf("%s: names %v, want %v", ip, got, names)
			}
		}
	}
	// Each name's own check is a target: api and the apex have no policy
	// (the default check), web has its own.
	if got, want := s.checks(netip.MustParseAddr("192.0.2.1")), checksOf(`{}`, `{"ports":[8080]}`); !maps.Equal(got, want) {
		t.Errorf("checks of shared IP = %v, want %v", got, want)
	}
	for _, ip := range []string{"192.0.2.4", "192.0.2.5"} {
		if got, want := s.checks(netip.MustParseAddr(ip)), checksOf(`{}`, `{"ports":[8443]}`); !maps.Equal(got, want) {
			t.Errorf("checks of www's leaf %s = %v, want %v", ip, got, want)
		}
	}
	s.deleteKey("/skydns/local/skydns/www/leaf1")
	if _, ok := s.ipNames[netip.MustParseAddr("192.0.2.4")]; ok || len(s.nameIPs["www.skydns.local."]) != 1 {
		t.Errorf("leaf1 not gone from both names: %v %v", s.ipNames, s.nameIPs["www.skydns.local."])
	}

	// Deleting the policy and one record.
	s.deleteKey("/skydns/policy/web.skydns.local")
	s.deleteKey("/skydns/local/skydns/api")
	if got := s.ipNames[netip.MustParseAddr("192.0.2.1")]; len(got) != 1 || got["web.skydns.local."] != 1 {
		t.Errorf("after delete: %v", got)
	}
	if got, want := s.checks(netip.MustParseAddr("192.0.2.1")), checksOf(`{}`); !maps.Equal(got, want) {
		t.Errorf("checks without policy = %v, want %v", got, want)
	}
	// A record that changes its IP moves.
	put("/skydns/local/skydns/web/0a000002", `{"host":"192.0.2.3"}`)
	if _, ok := s.ipNames[netip.MustParseAddr("192.0.2.2")]; ok {
		t.Errorf("192.0.2.2 still a target after its record moved")
	}
	if _, ok := s.ipNames[netip.MustParseAddr("192.0.2.3")]; !ok {
		t.Errorf("192.0.2.3 not a target")
	}
	if len(s.nameIPs["api.skydns.local."]) != 0 {
		t.Errorf("name index not cleaned: %v", s.nameIPs)
	}
}

// checksOf is the checks map of the given encoded specs.
func checksOf(specs ...string) map[string]string {
	m := map[string]string{}
	for _, s := range specs {
		m[monitor.CheckIDOf([]byte(s))] = s
	}
	return m
}

func TestJobIndex(t *testing.T) {
	jt := jobTable{jobs: map[string]map[monitor.Target]string{}, holders: map[monitor.Target]map[string]struct{}{},
		held: map[netip.Addr]map[string]int{}}
	ip := netip.MustParseAddr("192.0.2.1")
	web := monitor.Target{IP: ip, Check: monitor.CheckIDOf([]byte(`{"ports":[80]}`))}
	db := monitor.Target{IP: ip, Check: monitor.CheckIDOf([]byte(`{"ports":[3306]}`))}
	jt.set("a1", web, `{"ports":[80]}`)
	jt.set("a1", web, `{"ports":[80]}`) // again: counted once
	jt.set("a2", web, `{"ports":[80]}`)
	jt.set("a1", db, `{"ports":[3306]}`)
	if len(jt.held[ip]) != 2 || jt.held[ip][web.Check] != 2 || jt.held[ip][db.Check] != 1 {
		t.Fatalf("checks held on the IP: %v", jt.held[ip])
	}
	jt.del("a1", web)
	jt.del("a1", web) // again: nothing
	if len(jt.holders[web]) != 1 || len(jt.jobs) != 2 || jt.held[ip][web.Check] != 1 {
		t.Fatalf("after delete: jobs %v holders %v held %v", jt.jobs, jt.holders, jt.held)
	}
	jt.del("a2", web)
	jt.del("a1", db)
	if len(jt.holders) != 0 || len(jt.jobs) != 0 || len(jt.held) != 0 {
		t.Fatalf("not empty: jobs %v holders %v held %v", jt.jobs, jt.holders, jt.held)
	}
}

func TestFromConfig(t *testing.T) {
	var c config.Schedule
	if _, err := config.Load("", &c, nil); err != nil {
		t.Fatal(err)
	}
	c.General.Hostname = "sched-1"
	got := FromConfig(&c)
	if got.Name != "sched-1" || got.Prefix != "/skydns" || got.Paths != monitor.DefaultPaths() ||
		got.LockPath != "/skydns/monitor/lock" || got.LockTTL != 10*time.Second || got.Replicas != 2 ||
		got.OverridePath != "/skydns/monitor/override/" ||
		got.Interval != 5*time.Second || got.AgentDowntime != 15*time.Second || got.StatusGrace != 300*time.Second {
		t.Errorf("FromConfig = %+v", got)
	}
}

// TestSiteKeysAreNoRecords: a site key under the prefix is neither a probe
// target nor a bad record.
func TestSiteKeysAreNoRecords(t *testing.T) {
	s := newState("/skydns", monitor.DefaultPaths(), "/skydns/monitor/lock", "")
	bad := 0
	s.badRecords = func() { bad++ }
	s.putKey("/skydns/topology/bj", []byte(`{"networks":["192.0.2.0/24"]}`))
	if !s.skipped("/skydns/topology/bj") || bad != 0 || len(s.recs) != 0 {
		t.Fatalf("a site key was read as a record: skipped %v, bad %d, records %d", s.skipped("/skydns/topology/bj"), bad, len(s.recs))
	}
}

// A target's site, for choosing its checkers: its records' site field when
// that site exists, else its address's site by longest prefix, else none;
// a topology key is never taken for a record, and an unreadable one is no
// site.
func TestStateSiteOf(t *testing.T) {
	s := newState("/skydns", monitor.DefaultPaths(), "/skydns/monitor/lock", "")
	bad := 0
	s.badRecords = func() { bad++ }
	put := func(k, v string) { s.putKey(k, []byte(v)) }
	put("/skydns/local/skydns/web/00000001", `{"host":"198.51.100.1"}`)
	put("/skydns/local/skydns/web/00000002", `{"host":"203.0.113.1"}`)
	put("/skydns/local/skydns/web/00000003", `{"host":"192.0.2.1","site":"gz"}`)
	put("/skydns/local/skydns/web/00000004", `{"host":"192.0.2.2","site":"nowhere"}`)
	put("/skydns/local/skydns/web/00000005", `{"host":"198.51.100.2","site":"gz"}`)
	check := func(when string, want map[string]string) {
		t.Helper()
		for ip, site := range want {
			if got := s.siteOf(netip.MustParseAddr(ip)); got != site {
				t.Errorf("%s: site of %s = %q, want %q", when, ip, got, site)
			}
		}
	}
	none := map[string]string{"198.51.100.1": "", "203.0.113.1": "", "192.0.2.1": "", "192.0.2.2": "", "198.51.100.2": ""}
	check("no topology", none)

	put("/skydns/topology/sh", `{"networks":["198.51.100.0/24"],"fallback":["gz"]}`)
	put("/skydns/topology/gz", `{"networks":["203.0.113.0/24"]}`)
	put("/skydns/topology/broken", `{"networks":["not a network"]}`)
	if !s.agentsChanged {
		t.Error("a topology change does not reassign the targets")
	}
	check("two sites", map[string]string{
		"198.51.100.1": "sh", // by network
		"203.0.113.1":  "gz", // by network
		"192.0.2.1":    "gz", // by its record's site field
		"192.0.2.2":    "",   // a site field naming no site: by network, none
		"198.51.100.2": "gz", // the field wins over the network
		"192.0.2.99":   "",   // not a target, in no site
	})
	if _, ok := s.ipNames[netip.MustParseAddr("198.51.100.1")]; !ok || len(s.ipNames) != 5 {
		t.Errorf("topology keys changed the targets: %v", s.ipNames)
	}
	if bad != 1 {
		t.Errorf("bad values counted %d, want 1 (the broken site)", bad)
	}
	s.deleteKey("/skydns/local/skydns/web/00000005")
	s.deleteKey("/skydns/topology/gz")
	check("gz deleted", map[string]string{"198.51.100.1": "sh", "203.0.113.1": "", "192.0.2.1": ""})
	s.deleteKey("/skydns/topology/sh")
	check("no sites left", none)
}
