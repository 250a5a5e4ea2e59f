package main

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/etcdview"
	"github.com/skydns/skydns/internal/topology"
	"github.com/skydns/skydns/skydns/server"
	"github.com/skydns/skydns/skydns/zone"
)

// TestSitesServed runs -sites on and off against a real skydns server over
// a real etcd, and checks every name's answer to 127.0.0.1 (dnsperf's
// address) against the rule of docs/sites.md: with the sites, the healthy
// addresses of site0, else of its fallbacks site1 then site2, else all
// healthy ones; without, or with site0 around another client, all healthy
// ones. And that the sites filter for a fair share of the names: the
// benchmark measures real selection work.
func TestSitesServed(t *testing.T) {
	const n = 2000
	s := testSpec(n)
	s.Spread = true
	p, err := NewPlan(s)
	if err != nil {
		t.Fatal(err)
	}
	e := etcdtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := p.Load(ctx, e.Client(), 128, 4, nil); err != nil {
		t.Fatal(err)
	}
	store := zone.New(zone.Options{Prefix: "/skydns", Zones: []string{p.Zone}, StatusPath: s.StatusPath,
		View: etcdview.Options{ProgressInterval: 100 * time.Millisecond}})
	sctx, scancel := context.WithCancel(context.Background())
	wait := store.Start(sctx, e.Client())
	t.Cleanup(func() { scancel(); wait() })
	if !store.Ready(ctx) {
		t.Fatal("store not ready")
	}
	for !store.Loaded() {
		if ctx.Err() != nil {
			t.Fatal("store not loaded")
		}
		time.Sleep(5 * time.Millisecond)
	}
	h := server.NewHandler(server.Config{TTL: 30, HealthTTLCap: 10, NegativeTTL: 60, ServeUnchecked: true,
		ClientMaskV4: 32, ClientMaskV6: 128}, store, nil)
	l, err := server.Listen("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Shutdown(context.Background()) })

	client := netip.MustParseAddr("127.0.0.1")
	set, err := p.Sites(client)
	if err != nil {
		t.Fatal(err)
	}
	top, _ := topology.Compile(set.Sites)
	endpoints := strings.Join(e.Endpoints(), ",")
	c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
	answer := func(name string) []netip.Addr {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		r, _, err := c.Exchange(m, l.Addr())
		if err != nil {
			t.Fatal(err)
		}
		var out []netip.Addr
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				ip, _ := netip.AddrFromSlice(a.A)
				out = append(out, ip.Unmap())
			}
		}
		slices.SortFunc(out, netip.Addr.Compare)
		return out
	}
	healthyIn := func(i int, in func(netip.Addr) bool) []netip.Addr {
		var out []netip.Addr
		for k := range p.IPsPerName {
			if a := p.IP(i, k); !p.Down(a) && in(a) {
				out = append(out, a)
			}
		}
		slices.SortFunc(out, netip.Addr.Compare)
		return out
	}
	inSite := func(name string) func(netip.Addr) bool {
		idx := top.Index(name)
		return func(a netip.Addr) bool { return top.Site(a) == idx }
	}
	all := func(netip.Addr) bool { return true }

	for _, tc := range []struct {
		mode, site0 string // -sites, -client
		want        func(i int) []netip.Addr
	}{
		{"on", "127.0.0.1", func(i int) []netip.Addr {
			for _, site := range []string{"site0", "site1", "site2"} {
				if got := healthyIn(i, inSite(site)); len(got) > 0 {
					return got
				}
			}
			return healthyIn(i, all)
		}},
		{"off", "127.0.0.1", func(i int) []netip.Addr { return healthyIn(i, all) }},
		// The same table with site0's client /24 elsewhere: 127.0.0.1 is in
		// no site and gets what it gets without sites.
		{"on", "127.128.0.1", func(i int) []netip.Addr { return healthyIn(i, all) }},
		{"off", "127.128.0.1", func(i int) []netip.Addr { return healthyIn(i, all) }},
	} {
		if err := runSites(p, tc.mode, endpoints, l.Addr(), tc.site0, 30*time.Second); err != nil {
			t.Fatalf("-sites %s -client %s: %v", tc.mode, tc.site0, err)
		}
		filtered := 0
		for i := range n {
			if len(healthyIn(i, all)) == 0 {
				continue // the all-down action: not what this is about
			}
			want, got := tc.want(i), answer(p.Name(i))
			if !slices.Equal(got, want) {
				t.Fatalf("sites %s, site0 around %s: %s answers %v, want %v", tc.mode, tc.site0, p.Name(i), got, want)
			}
			if len(got) < len(healthyIn(i, all)) {
				filtered++
			}
		}
		if share := float64(filtered) / n; tc.mode == "on" && tc.site0 == client.String() && share < 0.5 {
			t.Errorf("sites on: %.2f of the names get fewer than all their healthy addresses, want >= 0.5", share)
		}
		t.Logf("sites %s, site0 around %s: %d of %d answers to 127.0.0.1 filtered by site", tc.mode, tc.site0, filtered, n)
	}
}
