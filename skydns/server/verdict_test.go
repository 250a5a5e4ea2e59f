package server

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/skydns/explain"
)

// TestPerCheckVerdicts is the web/db example as the DNS server sees it:
// one host behind web (port 80) and db (port 3306), each name with its own
// check and so its own verdict on the host. A name follows the verdict of
// its own check; without one, the IP's status; an override (in the status)
// wins over every check.
func TestPerCheckVerdicts(t *testing.T) {
	s := newHarness(t, defaultConfig())
	paths := monitor.Paths{Status: statusPath}
	host, other := "198.51.100.9", "198.51.100.10"
	web := policy.Policy{Check: &policy.Check{Ports: []int{80}}}
	db := policy.Policy{Check: &policy.Check{Ports: []int{3306}}}
	webID := monitor.CheckID(monitor.NameSpec(web.Check, nil))
	dbID := monitor.CheckID(monitor.NameSpec(db.Check, nil))
	verdict := func(ip, id, status string) {
		s.put(paths.VerdictKey(netip.MustParseAddr(ip), id), `{"status":"`+status+`"}`)
	}
	for _, n := range []string{"web", "db", "plain"} {
		s.addA(n+".skydns.local.", host, other)
	}
	s.setPolicy("web.skydns.local.", web)
	s.setPolicy("db.skydns.local.", db)
	s.setStatus(host, "UP")
	s.setStatus(other, "UP")
	both := sameIPs(host, other)
	s.eventually("all UP", "db.skydns.local.", dns.TypeA, both)

	for _, step := range []struct {
		what           string
		do             func()
		web, db, plain func(*dns.Msg) bool
	}{
		{"verdicts agree with the status", func() {
			verdict(host, webID, "UP")
			verdict(host, dbID, "UP")
			verdict(host, monitor.DefaultCheck, "UP")
		}, both, both, both},
		// MySQL dies: db's check fails, web's passes; the status stays UP
		// (UP while any check is UP), so plain, without a check of its
		// own... follows the default check, which still passes.
		{"db's check DOWN", func() { verdict(host, dbID, "DOWN") }, both, sameIPs(other), both},
		{"the default check DOWN too", func() { verdict(host, monitor.DefaultCheck, "DOWN") }, both, sameIPs(other), sameIPs(other)},
		{"an override UP wins over every check", func() {
			s.put(statusPath+host, `{"status":"UP","override":true,"checked":"UP"}`)
		}, both, both, both},
		{"the override ends", func() { s.setStatus(host, "UP") }, both, sameIPs(other), sameIPs(other)},
		{"an override DOWN wins too", func() {
			s.put(statusPath+host, `{"status":"DOWN","override":true,"checked":"UP"}`)
		}, sameIPs(other), sameIPs(other), sameIPs(other)},
		{"back", func() { s.setStatus(host, "UP") }, both, sameIPs(other), sameIPs(other)},
		{"db recovers", func() { verdict(host, dbID, "UP") }, both, both, sameIPs(other)},
		// A check without a verdict (deleted, or not written yet by an
		// old schedule): the status.
		{"verdicts gone: the status", func() {
			s.del(paths.VerdictKey(netip.MustParseAddr(host), monitor.DefaultCheck))
			s.del(paths.VerdictKey(netip.MustParseAddr(host), dbID))
		}, both, both, both},
		{"status DOWN, web's verdict UP", func() { s.setStatus(host, "DOWN") }, both, sameIPs(other), sameIPs(other)},
	} {
		step.do()
		s.eventually(step.what+": web", "web.skydns.local.", dns.TypeA, step.web)
		s.eventually(step.what+": db", "db.skydns.local.", dns.TypeA, step.db)
		s.eventually(step.what+": plain", "plain.skydns.local.", dns.TypeA, step.plain)
		if step.what == "db's check DOWN" {
			explainHost(t, s, "db", "DOWN", []explain.Check{{Check: dbID, Status: "DOWN"}})
			explainHost(t, s, "web", "UP", []explain.Check{})
		}
	}
}

// explainHost checks what /skydns/explain says of the first IP of name:
// the state the answer used and, when the name's own check decided it
// against the IP's status, that check.
func explainHost(t *testing.T, s *harness, name, status string, checks []explain.Check) {
	t.Helper()
	req, err := ParseExplainRequest(name+".skydns.local", "A", "", netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.h.Explain(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := e.Names[0].Health[0]
	if got.Status != status || !slices.Equal(got.Checks, checks) {
		t.Errorf("explain %s: %s %+v, want %s %+v", name, got.Status, got.Checks, status, checks)
	}
}

// TestOldDataKeepsItsAnswers: records, policies and statuses written
// before per-check verdicts (no verdict key anywhere) answer as they did:
// every name follows the IP's status, whatever its check.
func TestOldDataKeepsItsAnswers(t *testing.T) {
	s := newHarness(t, defaultConfig())
	s.addA("web.skydns.local.", "192.0.2.1", "192.0.2.2", "192.0.2.3")
	s.addA("db.skydns.local.", "192.0.2.1", "192.0.2.2")
	s.addA("plain.skydns.local.", "192.0.2.3")
	s.setPolicy("web.skydns.local.", policy.Policy{Check: &policy.Check{Ports: []int{80}}})
	s.setPolicy("db.skydns.local.", policy.Policy{Check: &policy.Check{Ports: []int{3306}, Require: policy.RequireAll}})
	s.setStatus("192.0.2.1", "UP")
	s.setStatus("192.0.2.2", "DOWN")
	s.put(statusPath+"192.0.2.3", `{"status":"UP","ports":["80"]}`) // the original kubeapi's form
	for _, tc := range []struct {
		name string
		want func(*dns.Msg) bool
	}{
		{"web.skydns.local.", sameIPs("192.0.2.1", "192.0.2.3")},
		{"db.skydns.local.", sameIPs("192.0.2.1")},
		{"plain.skydns.local.", sameIPs("192.0.2.3")},
	} {
		s.eventually("old data: "+tc.name, tc.name, dns.TypeA, tc.want)
	}
}

// BenchmarkFastPathVerdicts is BenchmarkFastPath/all with per-check
// verdicts that differ from the statuses: names with their own check, some
// of whose addresses their check finds DOWN while the status says nothing.
// Against BenchmarkFastPath/all it is the cost of answering per check.
func BenchmarkFastPathVerdicts(b *testing.B) {
	paths := monitor.Paths{Status: statusPath}
	check := policy.Policy{Check: &policy.Check{Ports: []int{80}}}
	id := monitor.CheckID(monitor.NameSpec(check.Check, nil))
	var extra []clientv3.Op
	for i := 0; i < 1000; i += 20 { // 50 names with a check, 40 of them with a DOWN verdict
		extra = append(extra, opPut(policy.Key("/skydns", dnsName(i)), `{"check":{"ports":[80]}}`))
		if i%100 != 0 {
			ip := netip.MustParseAddr(fmt.Sprintf("198.18.%d.%d", (i/250)%250, i%250+1))
			extra = append(extra, opPut(paths.VerdictKey(ip, id), `{"status":"DOWN"}`))
		}
	}
	store := benchStore(b, 1000, extra...)
	h := NewHandler(defaultConfig(), store, nil)
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
}
