package main

import (
	"net/netip"
	"testing"

	"github.com/skydns/skydns/internal/topology"
)

// TestSampleSites: the sites the stack writes are what the README's
// walkthrough relies on. The newcomer test (e2e) runs the walkthrough; this
// says why it works, and fails first, and more plainly, when someone edits
// the samples.
func TestSampleSites(t *testing.T) {
	sites := map[string]topology.Site{}
	for _, s := range sampleSites {
		b, err := s.site().Encode(s.name)
		if err != nil {
			t.Fatalf("site %s: %v", s.name, err)
		}
		d, err := topology.Decode(s.name, b)
		if err != nil {
			t.Fatalf("site %s: %v", s.name, err)
		}
		sites[s.name] = d
	}
	top, problems := topology.Compile(sites)
	if len(problems) > 0 {
		t.Fatalf("the sample sites do not compile cleanly: %v", problems)
	}
	siteOf := func(ip string) string {
		if i := top.Site(netip.MustParseAddr(ip)); i >= 0 {
			return top.Name(i)
		}
		return ""
	}
	documentation := []netip.Prefix{
		netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("198.51.100.0/24"),
		netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32"),
	}

	for _, s := range sampleSites {
		t.Run(s.name, func(t *testing.T) {
			if len(s.members()) == 0 {
				t.Errorf("holds none of the sample backends %v: there is nothing to fail over from", sampleBackends)
			}
			for _, ip := range s.members() {
				if got := siteOf(ip); got != s.name {
					t.Errorf("backend %s is in site %q, want %q", ip, got, s.name)
				}
			}
			// The README's +subnet queries put this network's first address
			// in the ECS option; it must place the client in the site, and
			// be a documentation address, since it is never sent to.
			c := netip.MustParsePrefix(s.clients)
			if got := siteOf(c.Addr().String()); got != s.name {
				t.Errorf("client network %s is in site %q, want %q", c, got, s.name)
			}
			inDoc := false
			for _, d := range documentation {
				inDoc = inDoc || d.Bits() <= c.Bits() && d.Contains(c.Addr())
			}
			if !inDoc {
				t.Errorf("client network %s is not in a documentation range (RFC 5737, RFC 3849)", c)
			}
			if _, ok := sites[s.fallback]; !ok || s.fallback == s.name {
				t.Errorf("falls back to %q, which is not another sample site", s.fallback)
			}
		})
	}

	// The README's plain dig queries come from 127.0.0.1: in no site, they
	// get every healthy backend of the name, so the walkthrough before the
	// sites section reads as it would without sites.
	if got := siteOf("127.0.0.1"); got != "" {
		t.Errorf("127.0.0.1 is in site %q; the README's plain dig queries would be answered for that site", got)
	}
	// Every sample backend is in a site, and spare backends in none: they
	// serve the walkthrough's web, which shows a name without sites.
	for _, ip := range sampleBackends {
		if siteOf(ip) == "" {
			t.Errorf("sample backend %s is in no site", ip)
		}
	}
	for _, ip := range spareBackends {
		if got := siteOf(ip); got != "" {
			t.Errorf("spare backend %s is in site %q", ip, got)
		}
	}
}
