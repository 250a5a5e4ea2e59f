package selector

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/skydns/skydns/skydns/zone"
)

func addrs(ips ...string) []zone.Addr {
	var out []zone.Addr
	for _, s := range ips {
		ip := netip.MustParseAddr(s)
		out = append(out, zone.NewAddr(ip))
	}
	return out
}

func ipsOf(as []zone.Addr) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.IP().String())
	}
	return out
}

func TestRotate(t *testing.T) {
	as := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3")
	for n, want := range [][]string{
		{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
		{"192.0.2.2", "192.0.2.3", "192.0.2.1"},
		{"192.0.2.3", "192.0.2.1", "192.0.2.2"},
		{"192.0.2.1", "192.0.2.2", "192.0.2.3"},
	} {
		if got := ipsOf(Rotate(nil, as, uint64(n))); !slices.Equal(got, want) {
			t.Errorf("Rotate(%d) = %v, want %v", n, got, want)
		}
	}
	if got := Rotate(nil, nil, 5); len(got) != 0 {
		t.Errorf("Rotate of nothing = %v", got)
	}
}

func TestPriority(t *testing.T) {
	as := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4")
	as[0].Priority, as[1].Priority, as[2].Priority, as[3].Priority = 20, 10, 10, 30
	if got := ipsOf(Priority(nil, as)); !slices.Equal(got, []string{"192.0.2.2", "192.0.2.3"}) {
		t.Errorf("Priority = %v", got)
	}
	if got := ipsOf(Priority(nil, as[3:])); !slices.Equal(got, []string{"192.0.2.4"}) {
		t.Errorf("Priority of one = %v", got)
	}
}

func TestWeighted(t *testing.T) {
	as := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3")
	as[0].Weight, as[1].Weight, as[2].Weight = 1, 0, 3
	n := map[string]int{}
	for range 4000 {
		n[Weighted(as).IP().String()]++
	}
	if n["192.0.2.2"] != 0 {
		t.Errorf("weight 0 chosen %d times beside weighted peers", n["192.0.2.2"])
	}
	if r := float64(n["192.0.2.3"]) / float64(n["192.0.2.1"]); r < 2.4 || r > 3.8 {
		t.Errorf("weight 3:1 gave %v", n)
	}
	clear(n)
	flat := addrs("192.0.2.1", "192.0.2.2")
	for range 1000 {
		n[Weighted(flat).IP().String()]++
	}
	if n["192.0.2.1"] < 400 || n["192.0.2.2"] < 400 {
		t.Errorf("all weights 0 must be uniform, got %v", n)
	}
}

// HoldOne's promises: stable, balanced, minimal movement, and the same
// answer whatever the order of the healthy set.
func TestHoldOneProperties(t *testing.T) {
	as := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5")
	clients := make([]uint64, 5000)
	for i := range clients {
		clients[i] = ClientHash(netip.MustParseAddr(fmt.Sprintf("198.18.%d.%d", i/256, i%256)), 32)
	}
	before := map[uint64]netip.Addr{}
	count := map[netip.Addr]int{}
	for _, c := range clients {
		a := HoldOne(as, c).IP()
		before[c] = a
		count[a]++
	}
	for ip, n := range count {
		if n < 800 || n > 1200 {
			t.Errorf("%s holds %d of 5000 clients, want about 1000", ip, n)
		}
	}
	reversed := slices.Clone(as)
	slices.Reverse(reversed)
	without := slices.Delete(slices.Clone(as), 2, 3) // 192.0.2.3 gone
	for _, c := range clients {
		if HoldOne(reversed, c).IP() != before[c] {
			t.Fatal("the order of the healthy set changed a client's address")
		}
		got := HoldOne(without, c).IP()
		if before[c] != as[2].IP() && got != before[c] {
			t.Fatalf("client of %s moved to %s when another address left", before[c], got)
		}
	}
}

func TestClientHashMasks(t *testing.T) {
	a := ClientHash(netip.MustParseAddr("198.51.100.7"), 24)
	b := ClientHash(netip.MustParseAddr("198.51.100.200"), 24)
	c := ClientHash(netip.MustParseAddr("198.51.101.7"), 24)
	if a != b || a == c {
		t.Fatal("a /24 mask must group 198.51.100.x and nothing else")
	}
	if ClientHash(netip.MustParseAddr("::ffff:198.51.100.7"), 24) != a {
		t.Fatal("a v4-mapped address must hash as its v4 form")
	}
	if ClientHash(netip.MustParseAddr("198.51.100.7"), 32) == a {
		t.Fatal("the prefix length must be part of the key")
	}
}

func BenchmarkHoldOne(b *testing.B) {
	as := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3")
	c := ClientHash(netip.MustParseAddr("198.51.100.7"), 32)
	b.ReportAllocs()
	for b.Loop() {
		HoldOne(as, c)
	}
}
