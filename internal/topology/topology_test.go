package topology

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		nets     string // the networks after Decode, joined by " "
		err      string // substring; "" = valid
	}{
		{"bj", `{"networks":["198.51.100.0/25","192.0.2.0/26","2001:db8:1::/48"],"fallback":["sh","gz"]}`, "198.51.100.0/25 192.0.2.0/26 2001:db8:1::/48", ""},
		{"bj", `{}`, "", ""},
		{"a-1", `{"networks":["198.51.100.7/24"],"unknown":1}`, "198.51.100.0/24", ""},
		{"bj", `{"networks":["2001:DB8:0:0::1/32"]}`, "2001:db8::/32", ""},
		{"bj", `{"networks":["198.51.100.0"]}`, "", `network "198.51.100.0": not a CIDR`},
		{"bj", `{"networks":["198.51.100.0/33"]}`, "", "not a CIDR"},
		{"bj", `{"networks":["fe80::/64%eth0"]}`, "", "not a CIDR"},
		{"bj", `{"networks":["::ffff:198.51.100.0/120"]}`, "", "IPv4-mapped"},
		{"bj", `{"fallback":["bj"]}`, "", "the site itself"},
		{"bj", `{"fallback":["sh","sh"]}`, "", "given twice"},
		{"bj", `{"fallback":["Sh"]}`, "", `fallback "Sh" is not a site name`},
		{"BJ", `{}`, "", `site name "BJ"`},
		{"-bj", `{}`, "", "site name"},
		{"b.j", `{}`, "", "site name"},
		{strings.Repeat("a", 64), `{}`, "", "site name"},
		{"bj", `{"networks":`, "", "topology:"},
		{"bj", `{"networks":"198.51.100.0/24"}`, "", "topology:"},
	} {
		s, err := Decode(tc.name, []byte(tc.in))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("Decode(%s, %s): %v", tc.name, tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("Decode(%s, %s) = %v, want error with %q", tc.name, tc.in, err, tc.err)
		case tc.err == "" && strings.Join(s.Networks, " ") != tc.nets:
			t.Errorf("Decode(%s, %s).Networks = %v, want %s", tc.name, tc.in, s.Networks, tc.nets)
		}
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	b, err := Site{Networks: []string{"192.0.2.9/24"}, Fallback: []string{"sh"}}.Encode("bj")
	if err != nil || string(b) != `{"networks":["192.0.2.0/24"],"fallback":["sh"]}` {
		t.Fatalf("Encode = %s, %v", b, err)
	}
	if _, err := (Site{Networks: []string{"x"}}).Encode("bj"); err == nil {
		t.Fatal("Encode of a bad network succeeded")
	}
}

func TestKey(t *testing.T) {
	if k := Key("/skydns/", "bj"); k != "/skydns/topology/bj" {
		t.Fatalf("Key = %q", k)
	}
	for _, tc := range []struct{ key, site string }{
		{"/skydns/topology/bj", "bj"},
		{"/skydns/topology/BJ", ""},
		{"/skydns/topology/", ""},
		{"/skydns/topology/bj/x", ""},
		{"/skydns/policy/bj", ""},
	} {
		site, err := ParseKey("/skydns", tc.key)
		if site != tc.site || (err == nil) != (tc.site != "") {
			t.Errorf("ParseKey(%q) = %q, %v; want %q", tc.key, site, err, tc.site)
		}
	}
}

func mustSites(t *testing.T, vals map[string]string) map[string]Site {
	t.Helper()
	out := map[string]Site{}
	for n, v := range vals {
		s, err := Decode(n, []byte(v))
		if err != nil {
			t.Fatal(err)
		}
		out[n] = s
	}
	return out
}

func TestCompileProblems(t *testing.T) {
	sites := mustSites(t, map[string]string{
		"sh": `{"networks":["198.51.100.0/24"],"fallback":["nowhere","bj"]}`,
		"bj": `{"networks":["198.51.100.0/24","192.0.2.0/24"]}`,
	})
	top, problems := Compile(sites)
	var c Conflict
	if len(problems) != 2 || !errors.As(problems[0], &c) || c.Sites != [2]string{"bj", "sh"} ||
		!strings.Contains(problems[0].Error(), `"bj"`) || !strings.Contains(problems[0].Error(), `"sh"`) {
		t.Fatalf("problems = %v, want the conflict naming bj and sh, then the unknown fallback", problems)
	}
	if !strings.Contains(problems[1].Error(), `fallback "nowhere"`) {
		t.Fatalf("problems[1] = %v", problems[1])
	}
	if s, _ := top.Lookup(netip.MustParseAddr("198.51.100.1")); top.Name(s) != "bj" {
		t.Fatalf("the conflict went to %s, want bj (sorts first)", top.Name(s))
	}
	if fb := top.Fallback(top.Index("sh")); len(fb) != 1 || fb[0][0] != top.Index("bj") {
		t.Fatalf("sh's fallback = %v, want [[bj]]", fb)
	}
	if err := Check(sites); err == nil {
		t.Fatal("Check passed a conflict")
	}
}

func TestLookup(t *testing.T) {
	top, problems := Compile(mustSites(t, map[string]string{
		"bj": `{"networks":["198.51.100.0/25","198.51.100.128/25","192.0.2.0/24","2001:db8:1::/48"],"fallback":["sh","gz"]}`,
		"sh": `{"networks":["192.0.2.64/26","203.0.113.7/32","2001:db8:1:2::/64"]}`,
		"gz": `{"networks":["192.0.2.96/27","0.0.0.0/0"]}`,
	}))
	if len(problems) != 0 {
		t.Fatal(problems)
	}
	for _, tc := range []struct {
		ip    string
		site  string // "" = none
		scope int
	}{
		// Two adjacent halves of one site answer alike: the scope is the /24.
		{"198.51.100.1", "bj", 24},
		{"198.51.100.200", "bj", 24},
		{"192.0.2.1", "bj", 26},   // a /24 with a /26 of another site inside
		{"192.0.2.130", "bj", 25}, // the upper half of that /24 is all bj
		{"192.0.2.65", "sh", 27},  // sh's /26 with gz's /27 inside
		{"192.0.2.100", "gz", 27}, // gz's /27 inside sh's /26 inside bj's /24
		{"203.0.113.7", "sh", 32}, // a host
		{"203.0.113.6", "gz", 32}, // next to it: gz's 0.0.0.0/0
		{"8.8.8.8", "gz", 1},      // 0.0.0.0/1 holds no other site's network
		{"::ffff:192.0.2.1", "bj", 26},
		{"2001:db8:1::1", "bj", 63},
		{"2001:db8:1:2::1", "sh", 64},
		{"2001:db8:2::1", "", 47},
		{"::1", "", 3},
	} {
		s, scope := top.Lookup(netip.MustParseAddr(tc.ip))
		name := ""
		if s >= 0 {
			name = top.Name(s)
		}
		if name != tc.site || scope != tc.scope {
			t.Errorf("Lookup(%s) = %q /%d, want %q /%d", tc.ip, name, scope, tc.site, tc.scope)
		}
	}
	var none *Topology
	if s, scope := none.Lookup(netip.MustParseAddr("192.0.2.1")); s != -1 || scope != 0 {
		t.Errorf("nil Lookup = %d /%d", s, scope)
	}
	empty, _ := Compile(nil)
	if s, scope := empty.Lookup(netip.MustParseAddr("192.0.2.1")); s != -1 || scope != 0 {
		t.Errorf("empty Lookup = %d /%d", s, scope)
	}
}

func TestSiteOf(t *testing.T) {
	top, _ := Compile(mustSites(t, map[string]string{
		"bj": `{"networks":["192.0.2.0/24"]}`,
		"sh": `{}`,
	}))
	ip := netip.MustParseAddr("192.0.2.1")
	for _, tc := range []struct {
		hash uint32
		want string
	}{{0, "bj"}, {Hash("sh"), "sh"}, {Hash("nowhere"), "bj"}} {
		if got := top.SiteOf(ip, tc.hash); top.Name(got) != tc.want {
			t.Errorf("SiteOf(%v, %d) = %s, want %s", ip, tc.hash, top.Name(got), tc.want)
		}
	}
	if top.SiteOf(netip.MustParseAddr("198.51.100.1"), 0) != -1 {
		t.Error("an address in no network has a site")
	}
}

// TestLookupMatchesNaive checks the flattened table against the definition:
// the longest prefix wins, and the scope is the shortest block around the
// address that no other answer reaches into.
func TestLookupMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sites := map[string]Site{}
	names := []string{"a", "b", "c", "d"}
	type claim struct {
		p    netip.Prefix
		site string
	}
	var claims []claim
	seen := map[netip.Prefix]bool{}
	for range 300 {
		// Prefixes inside 192.0.2.0/24 so that they nest often.
		ip := netip.AddrFrom4([4]byte{192, 0, 2, byte(r.IntN(256))})
		p := netip.PrefixFrom(ip, 24+r.IntN(9)).Masked()
		if seen[p] {
			continue
		}
		seen[p] = true
		n := names[r.IntN(len(names))]
		s := sites[n]
		s.Networks = append(s.Networks, p.String())
		sites[n] = s
		claims = append(claims, claim{p, n})
	}
	top, problems := Compile(sites)
	if len(problems) != 0 {
		t.Fatal(problems)
	}
	naive := func(ip netip.Addr) string {
		best, site := -1, ""
		for _, c := range claims {
			if c.p.Contains(ip) && c.p.Bits() > best {
				best, site = c.p.Bits(), c.site
			}
		}
		return site
	}
	for i := range 512 {
		ip := netip.AddrFrom4([4]byte{192, 0, byte(1 + i/256*1), byte(i)})
		want := naive(ip)
		s, scope := top.Lookup(ip)
		got := ""
		if s >= 0 {
			got = top.Name(s)
		}
		if got != want {
			t.Fatalf("Lookup(%v) = %q, naive %q", ip, got, want)
		}
		// Every address in the scope block answers alike; the block one
		// shorter does not.
		block := netip.PrefixFrom(ip, scope).Masked()
		for j := range 256 {
			o := netip.AddrFrom4([4]byte{192, 0, 2, byte(j)})
			if block.Contains(o) && naive(o) != want {
				t.Fatalf("Lookup(%v) scope /%d covers %v in %q", ip, scope, o, naive(o))
			}
		}
		if scope > 0 {
			wider := netip.PrefixFrom(ip, scope-1).Masked()
			differs := false
			for j := range 1024 {
				o := netip.AddrFrom4([4]byte{192, 0, byte(j / 256), byte(j)})
				if wider.Contains(o) && naive(o) != want {
					differs = true
					break
				}
			}
			if !differs && scope > 22 {
				t.Fatalf("Lookup(%v) scope /%d is longer than needed", ip, scope)
			}
		}
	}
}

func TestLookupAllocs(t *testing.T) {
	top, _ := Compile(mustSites(t, map[string]string{"bj": `{"networks":["192.0.2.0/24","2001:db8::/32"]}`}))
	ips := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("198.51.100.1")}
	if n := testing.AllocsPerRun(100, func() {
		for _, ip := range ips {
			top.Lookup(ip)
			top.SiteOf(ip, Hash("bj"))
		}
	}); n != 0 {
		t.Fatalf("Lookup allocates %v times", n)
	}
}
