package zone

import (
	"net/netip"
	"testing"
	"unsafe"

	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/internal/topology"
)

// An IP held by two records of a name is served once, whichever record
// came first and whichever goes first.
func TestRepeatedIPServedOnce(t *testing.T) {
	a := func(ip string, port uint16, key uint64) *Addr {
		x := NewAddr(netip.MustParseAddr(ip))
		x.Port, x.key = port, key
		return &x
	}
	served := func(n *Node) []string {
		var out []string
		for _, x := range AppendUnique(nil, n.Addrs) {
			out = append(out, x.IP().String()+":"+string(rune('0'+x.Port)))
		}
		return out
	}
	n := &Node{Name: "web.skydns.local."}
	n = n.with(1, a("192.0.2.1", 0, 1), nil)
	n = n.with(2, a("192.0.2.2", 0, 2), nil)
	n = n.with(3, a("192.0.2.1", 0, 3), nil) // the same IP again
	n = n.with(4, a("192.0.2.1", 5, 4), nil) // the same IP at a port: another SRV target
	for _, tc := range []struct {
		name string
		node *Node
		want []string
	}{
		{"all four records", n, []string{"192.0.2.1:0", "192.0.2.1:5", "192.0.2.2:0"}},
		{"first of the pair gone", n.without(1, false, false), []string{"192.0.2.1:0", "192.0.2.1:5", "192.0.2.2:0"}},
		{"second of the pair gone", n.without(3, false, false), []string{"192.0.2.1:0", "192.0.2.1:5", "192.0.2.2:0"}},
		{"both gone", n.without(1, false, false).without(3, false, false), []string{"192.0.2.1:5", "192.0.2.2:0"}},
	} {
		got := served(tc.node)
		if len(got) != len(tc.want) {
			t.Errorf("%s: served %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: served %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
	if len(n.Addrs) != 4 {
		t.Fatalf("the node keeps every record (%d), so that removing one keeps the other", len(n.Addrs))
	}
}

// TestSizes keeps the per-name memory what the comments say: sites cost
// an Addr nothing (its padding holds them) and a Node one pointer.
func TestSizes(t *testing.T) {
	if n := unsafe.Sizeof(Addr{}); n != 40 {
		t.Errorf("Addr is %d bytes, want 40", n)
	}
	if n := unsafe.Sizeof(Node{}); n != 72 {
		t.Errorf("Node is %d bytes, want 72", n)
	}
}

// TestPlacement: an address is placed by its record's site field, else by
// the networks, once per topology.
func TestPlacement(t *testing.T) {
	sites := map[string]topology.Site{}
	for name, v := range map[string]string{"bj": `{"networks":["192.0.2.0/24"]}`, "sh": `{"networks":["2001:db8::/32"]}`} {
		s, err := topology.Decode(name, []byte(v))
		if err != nil {
			t.Fatal(err)
		}
		sites[name] = s
	}
	top, _ := topology.Compile(sites)
	n := &Node{Name: "web."}
	for _, r := range []record.Record{
		{Host: "192.0.2.1"}, {Host: "198.51.100.1"}, {Host: "198.51.100.2", Site: "sh"}, {Host: "2001:db8::1"},
	} {
		a := newAddr(netip.MustParseAddr(r.Host), r)
		n = n.with(uint64(len(n.Addrs)+1), &a, nil)
	}
	p := n.Placement(top)
	if n.Placement(top) != p {
		t.Fatal("placed twice under one topology")
	}
	want := map[string]string{"192.0.2.1": "bj", "198.51.100.1": "", "198.51.100.2": "sh", "2001:db8::1": "sh"}
	v4, sited4 := p.Family(false)
	v6, sited6 := p.Family(true)
	if len(v4) != 3 || len(v6) != 1 || !sited4 || !sited6 {
		t.Fatalf("Family: %d %v, %d %v", len(v4), sited4, len(v6), sited6)
	}
	for _, a := range append(v4, v6...) {
		got := ""
		if s := a.Site(); s >= 0 {
			got = top.Name(s)
		}
		if got != want[a.IP().String()] {
			t.Errorf("%v is in %q, want %q", a.IP(), got, want[a.IP().String()])
		}
	}
	top2, _ := topology.Compile(sites)
	if n.Placement(top2) == p {
		t.Fatal("a new topology kept the old placement")
	}
}
