package server

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/miekg/dns"
	dto "github.com/prometheus/client_model/go"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/policy"
)

func TestHealthFiltersAnswers(t *testing.T) {
	s := newHarness(t, defaultConfig())
	s.addA("app.skydns.local.", "192.0.2.1", "192.0.2.2", "192.0.2.3")
	s.eventually("unchecked IPs served", "app.skydns.local.", dns.TypeA, sameIPs("192.0.2.1", "192.0.2.2", "192.0.2.3"))

	s.setStatus("192.0.2.2", "DOWN")
	took := s.eventually("DOWN IP leaves", "app.skydns.local.", dns.TypeA, sameIPs("192.0.2.1", "192.0.2.3"))
	t.Logf("status DOWN in etcd -> out of the answer: %v", took)
	s.setStatus("192.0.2.2", "UP")
	s.eventually("UP IP returns", "app.skydns.local.", dns.TypeA, sameIPs("192.0.2.1", "192.0.2.2", "192.0.2.3"))
	s.setStatus("192.0.2.2", "DOWN")
	s.eventually("DOWN again", "app.skydns.local.", dns.TypeA, sameIPs("192.0.2.1", "192.0.2.3"))
	s.del(statusPath + "192.0.2.2")
	s.eventually("status removed: unchecked again, served", "app.skydns.local.", dns.TypeA, sameIPs("192.0.2.1", "192.0.2.2", "192.0.2.3"))
	s.put(statusPath+"192.0.2.3", `{"status":"garbage"}`)
	s.eventually("bad status value: treated as unchecked", "app.skydns.local.", dns.TypeA, sameIPs("192.0.2.1", "192.0.2.2", "192.0.2.3"))
	// Rotation: each IP leads in turn.
	first := map[string]bool{}
	for range 9 {
		r := s.query("app.skydns.local.", dns.TypeA)
		first[r.Answer[0].(*dns.A).A.String()] = true
	}
	if len(first) != 3 {
		t.Fatalf("first answers over 9 queries: %v; want every IP to lead", first)
	}
}

func TestServeUncheckedOff(t *testing.T) {
	cfg := defaultConfig()
	cfg.ServeUnchecked = false
	s := newHarness(t, cfg)
	s.addA("app.skydns.local.", "192.0.2.1", "192.0.2.2")
	s.setStatus("192.0.2.1", "UP")
	s.eventually("only checked UP IP", "app.skydns.local.", dns.TypeA, sameIPs("192.0.2.1"))
}

func TestAllDown(t *testing.T) {
	s := newHarness(t, defaultConfig())
	for _, n := range []string{"all", "none", "servfail", "fallback", "dflt"} {
		s.addA(n+".skydns.local.", "192.0.2.1", "192.0.2.2")
	}
	s.setStatus("192.0.2.1", "DOWN")
	s.setStatus("192.0.2.2", "DOWN")
	s.setPolicy("all.skydns.local.", policy.Policy{AllDown: policy.AllDownAll})
	s.setPolicy("none.skydns.local.", policy.Policy{AllDown: policy.AllDownNone})
	s.setPolicy("servfail.skydns.local.", policy.Policy{AllDown: policy.AllDownServfail})
	s.setPolicy("fallback.skydns.local.", policy.Policy{AllDown: policy.AllDownFallback, Fallback: []string{"203.0.113.99"}})
	s.eventually("policies loaded", "fallback.skydns.local.", dns.TypeA, sameIPs("203.0.113.99"))

	s.eventually("default: all", "dflt.skydns.local.", dns.TypeA, sameIPs("192.0.2.1", "192.0.2.2"))
	s.eventually("all", "all.skydns.local.", dns.TypeA, sameIPs("192.0.2.1", "192.0.2.2"))
	r := s.query("none.skydns.local.", dns.TypeA)
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 {
		t.Fatalf("none: want NODATA with SOA, got %v", r)
	}
	if r := s.query("servfail.skydns.local.", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("servfail: rcode %s", dns.RcodeToString[r.Rcode])
	}
	// One comes back: the policy no longer applies.
	s.setStatus("192.0.2.2", "UP")
	s.eventually("recovered", "servfail.skydns.local.", dns.TypeA, sameIPs("192.0.2.2"))
	s.eventually("recovered", "fallback.skydns.local.", dns.TypeA, sameIPs("192.0.2.2"))

	cfg := defaultConfig()
	cfg.DefaultAllDown = policy.AllDownServfail
	s2 := startServer(t, s.etcd, cfg)
	s.setStatus("192.0.2.2", "DOWN")
	s2.eventually("server default servfail", "dflt.skydns.local.", dns.TypeA, func(m *dns.Msg) bool { return m.Rcode == dns.RcodeServerFailure })
}

func TestSelectionModes(t *testing.T) {
	s := newHarness(t, defaultConfig())
	s.addA("rnd.skydns.local.", "192.0.2.1", "192.0.2.2", "192.0.2.3")
	s.setPolicy("rnd.skydns.local.", policy.Policy{Mode: policy.ModeRandom})
	for i, w := range []int{1, 3} {
		s.put(fmt.Sprintf("/skydns/local/skydns/wgt/0000000%d", i), fmt.Sprintf(`{"host":"192.0.2.%d","weight":%d}`, 10+i, w))
	}
	s.setPolicy("wgt.skydns.local.", policy.Policy{Mode: policy.ModeWeighted})
	for i, p := range []int{10, 10, 20} {
		s.put(fmt.Sprintf("/skydns/local/skydns/pri/0000000%d", i), fmt.Sprintf(`{"host":"192.0.2.%d","priority":%d}`, 20+i, p))
	}
	s.setPolicy("pri.skydns.local.", policy.Policy{Mode: policy.ModePriority})
	s.addA("cap.skydns.local.", "192.0.2.31", "192.0.2.32", "192.0.2.33")
	s.setPolicy("cap.skydns.local.", policy.Policy{MaxAnswers: 2})
	// Policies come through their own etcd view: wait for them, not for
	// the records.
	waitFor(t, "policies loaded", func() bool {
		for _, n := range []string{"rnd", "wgt", "pri", "cap"} {
			if s.store.Policy(n+".skydns.local.") == nil {
				return false
			}
		}
		return true
	})
	s.eventually("records loaded", "cap.skydns.local.", dns.TypeA, func(m *dns.Msg) bool { return len(m.Answer) == 2 })
	s.eventually("records loaded", "pri.skydns.local.", dns.TypeA, sameIPs("192.0.2.20", "192.0.2.21"))
	s.eventually("records loaded", "wgt.skydns.local.", dns.TypeA, func(m *dns.Msg) bool {
		n, _ := s.store.ZoneOf("wgt.skydns.local.").Lookup("wgt.skydns.local.")
		return n != nil && len(n.Addrs) == 2
	})

	seen := map[string]int{}
	for range 300 {
		r := s.query("rnd.skydns.local.", dns.TypeA)
		if len(r.Answer) != 1 {
			t.Fatalf("random: %d answers, want 1", len(r.Answer))
		}
		seen[ips(r)[0]]++
	}
	for ip, n := range seen {
		if n < 50 {
			t.Errorf("random: %s chosen %d/300 times, want about 100", ip, n)
		}
	}

	clear(seen)
	for range 400 {
		seen[ips(s.query("wgt.skydns.local.", dns.TypeA))[0]]++
	}
	if n := seen["192.0.2.11"]; n < 240 || n > 360 {
		t.Errorf("weighted 1:3: the weight-3 IP chosen %d/400 times, want about 300", n)
	}

	s.eventually("priority: best group", "pri.skydns.local.", dns.TypeA, sameIPs("192.0.2.20", "192.0.2.21"))
	s.setStatus("192.0.2.20", "DOWN")
	s.setStatus("192.0.2.21", "DOWN")
	s.eventually("priority: failover to the next group", "pri.skydns.local.", dns.TypeA, sameIPs("192.0.2.22"))
}

// holdOneMapping asks for name as n clients (each its own /24 via ECS) and
// returns the IP each got.
func holdOneMapping(s *harness, name string, n int) map[string]string {
	s.t.Helper()
	m := map[string]string{}
	for i := range n {
		client := fmt.Sprintf("198.%d.%d.0/24", 18+i/256, i%256) // only a label in the query
		r := s.query(name, dns.TypeA, withECS(client))
		got := ips(r)
		if len(got) != 1 {
			s.t.Fatalf("hold-one for %s: %v, want one IP", client, got)
		}
		m[client] = got[0]
		e := r.IsEdns0()
		if e == nil || len(e.Option) != 1 || e.Option[0].(*dns.EDNS0_SUBNET).SourceScope != 24 {
			s.t.Fatalf("ECS not echoed with scope 24: %v", e)
		}
	}
	return m
}

func TestHoldOne(t *testing.T) {
	cfg := defaultConfig()
	cfg.DefaultMode = policy.ModeHoldOne
	s := newHarness(t, cfg)
	backends := []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"}
	s.addA("sticky.skydns.local.", backends...)
	// Hold-one answers one IP however many are loaded: wait for all four.
	waitFor(t, "all four loaded", func() bool {
		n, _ := s.store.ZoneOf("sticky.skydns.local.").Lookup("sticky.skydns.local.")
		return n != nil && len(n.Addrs) == 4
	})

	const clients = 400
	before := holdOneMapping(s, "sticky.skydns.local.", clients)
	per := map[string]int{}
	for _, ip := range before {
		per[ip]++
	}
	for _, ip := range backends {
		if per[ip] < clients/4/2 {
			t.Errorf("%s holds %d of %d clients, want about a quarter", ip, per[ip], clients)
		}
	}
	if again := holdOneMapping(s, "sticky.skydns.local.", clients); fmt.Sprint(again) != fmt.Sprint(before) {
		t.Fatal("mapping changed between two rounds with nothing changed")
	}

	// A second replica, and a record change elsewhere, give the same mapping.
	s2 := startServer(t, s.etcd, cfg)
	s.addA("unrelated.skydns.local.", "192.0.2.200")
	if other := holdOneMapping(s2, "sticky.skydns.local.", clients); fmt.Sprint(other) != fmt.Sprint(before) {
		t.Fatal("a second server instance maps clients differently")
	}

	// Kill one backend: only its clients move.
	down := netip.MustParseAddr("192.0.2.3")
	s.setStatus("192.0.2.3", "DOWN")
	waitFor(t, "DOWN seen by both servers", func() bool {
		return s.store.State(down) == health.Down && s2.store.State(down) == health.Down
	})
	during := holdOneMapping(s, "sticky.skydns.local.", clients)
	moved := 0
	for c, ip := range before {
		if during[c] != ip {
			moved++
			if ip != "192.0.2.3" {
				t.Errorf("client %s moved from healthy %s to %s", c, ip, during[c])
			}
		}
		if during[c] == "192.0.2.3" {
			t.Errorf("client %s still gets the DOWN IP", c)
		}
	}
	t.Logf("one of 4 down: %d of %d clients moved (%.0f%%)", moved, clients, 100*float64(moved)/clients)
	if moved != per["192.0.2.3"] {
		t.Errorf("%d clients moved, want exactly the %d that held the DOWN IP", moved, per["192.0.2.3"])
	}

	// It recovers: they come back, on both servers.
	s.setStatus("192.0.2.3", "UP")
	waitFor(t, "UP seen by both servers", func() bool {
		return s.store.State(down) == health.Up && s2.store.State(down) == health.Up
	})
	if after := holdOneMapping(s2, "sticky.skydns.local.", clients); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("clients did not return to their IP after it recovered")
	}

	// A restarted server (a new store and handler) maps the same.
	s3 := startServer(t, s.etcd, cfg)
	if after := holdOneMapping(s3, "sticky.skydns.local.", clients); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("a restarted server maps clients differently")
	}
}

// An all-down answer counts once per query, whichever path answers it and
// over either transport: the fast path that gives up (SERVFAIL) leaves the
// count to the reference path.
func TestAllDownCountedOnce(t *testing.T) {
	s := newHarness(t, defaultConfig())
	s.addA("sf.skydns.local.", "192.0.2.71")
	s.setPolicy("sf.skydns.local.", policy.Policy{AllDown: policy.AllDownServfail})
	s.addA("open.skydns.local.", "192.0.2.72")
	s.setStatus("192.0.2.72", "DOWN")
	s.setStatus("192.0.2.71", "DOWN")
	s.eventually("servfail", "sf.skydns.local.", dns.TypeA, func(m *dns.Msg) bool { return m.Rcode == dns.RcodeServerFailure })
	s.eventually("fail open", "open.skydns.local.", dns.TypeA, sameIPs("192.0.2.72"))
	count := func(a policy.AllDown) float64 {
		var m dto.Metric
		if err := s.h.metrics.allDowns.WithLabelValues(string(a)).Write(&m); err != nil {
			t.Fatal(err)
		}
		return m.GetCounter().GetValue()
	}
	for _, tc := range []struct {
		name   string
		action policy.AllDown
		opts   []func(*dns.Msg, *dns.Client)
	}{
		{"sf.skydns.local.", policy.AllDownServfail, nil},
		{"sf.skydns.local.", policy.AllDownServfail, []func(*dns.Msg, *dns.Client){overTCP}},
		{"open.skydns.local.", policy.AllDownAll, nil},
		{"open.skydns.local.", policy.AllDownAll, []func(*dns.Msg, *dns.Client){overTCP}},
	} {
		before := count(tc.action)
		s.query(tc.name, dns.TypeA, tc.opts...)
		if got := count(tc.action) - before; got != 1 {
			t.Errorf("%s (%d options): all-down %s counted %v times, want 1", tc.name, len(tc.opts), tc.action, got)
		}
	}
}
