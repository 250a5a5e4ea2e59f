package zone

import (
	"net/netip"
	"testing"
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
