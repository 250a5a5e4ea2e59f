package zone

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/skydns/skydns/internal/record"
)

// Node is everything one owner name holds. A Node is never changed once it
// is published: a change builds a new Node and swaps it in, so the query
// path reads it without locks.
type Node struct {
	Name string
	// Addrs are the A records (first NumV4) then the AAAA records, each
	// group in a stable order (by IP), which selection relies on.
	Addrs []Addr
	NumV4 int
	// Other holds every record that is not an address, by type then key.
	Other []Entry
}

// Addr is an A or AAAA record, kept compact: a million names with three
// addresses each must fit in a few hundred megabytes.
type Addr struct {
	IP       netip.Addr
	TTL      uint32
	Weight   uint16
	Priority uint16
	Port     uint16 // the original API's SRV records are addresses with a port
	// Hash is a fixed hash of the IP for rendezvous selection: the same on
	// every replica and after every restart.
	Hash uint64
	key  uint64 // hash of the etcd key the record came from
}

func newAddr(ip netip.Addr, r record.Record, key uint64) Addr {
	return Addr{IP: ip, TTL: r.TTL, Weight: uint16(r.Weight), Priority: uint16(r.Priority),
		Port: uint16(r.Port), Hash: IPHash(ip), key: key}
}

// Entry is a record of any other type.
type Entry struct {
	Rec record.Record
	key uint64
}

// V4 and V6 are the A and the AAAA records.
func (n *Node) V4() []Addr { return n.Addrs[:n.NumV4] }
func (n *Node) V6() []Addr { return n.Addrs[n.NumV4:] }

// Of returns the non-address records of type t.
func (n *Node) Of(t record.Type) []Entry {
	i, _ := slices.BinarySearchFunc(n.Other, t, func(e Entry, t record.Type) int { return cmp.Compare(e.Rec.Type, t) })
	j := i
	for j < len(n.Other) && n.Other[j].Rec.Type == t {
		j++
	}
	return n.Other[i:j]
}

// CNAME returns the name's alias target, if it is an alias. Should writers
// have stored several, the first by key wins, the same on every replica.
func (n *Node) CNAME() (record.Record, bool) {
	if c := n.Of(record.TypeCNAME); len(c) > 0 {
		return c[0].Rec, true
	}
	return record.Record{}, false
}

func (n *Node) hasIP(ip netip.Addr) bool {
	for _, a := range n.Addrs {
		if a.IP == ip {
			return true
		}
	}
	return false
}

func (n *Node) empty() bool { return len(n.Addrs) == 0 && len(n.Other) == 0 }

// with returns a copy of n with the record from key put in (replacing what
// that key held).
func (n *Node) with(key uint64, r record.Record) *Node {
	m := n.without(key)
	if ip := r.IP(); ip.IsValid() {
		m.Addrs = append(m.Addrs, newAddr(ip, r, key))
		sortAddrs(m)
	} else {
		m.Other = append(m.Other, Entry{Rec: r, key: key})
		sortOther(m.Other)
	}
	return m
}

// without returns a copy of n without the record from key.
func (n *Node) without(key uint64) *Node {
	m := &Node{Name: n.Name, NumV4: 0}
	m.Addrs = make([]Addr, 0, len(n.Addrs)+1)
	for _, a := range n.Addrs {
		if a.key != key {
			m.Addrs = append(m.Addrs, a)
		}
	}
	for _, a := range m.Addrs {
		if a.IP.Is4() {
			m.NumV4++
		}
	}
	if len(n.Other) > 0 {
		m.Other = make([]Entry, 0, len(n.Other))
		for _, e := range n.Other {
			if e.key != key {
				m.Other = append(m.Other, e)
			}
		}
	}
	return m
}

func sortAddrs(n *Node) {
	slices.SortFunc(n.Addrs, func(a, b Addr) int {
		if a.IP.Is4() != b.IP.Is4() {
			if a.IP.Is4() {
				return -1
			}
			return 1
		}
		if c := a.IP.Compare(b.IP); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
	n.NumV4 = 0
	for _, a := range n.Addrs {
		if a.IP.Is4() {
			n.NumV4++
		}
	}
}

func sortOther(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int {
		if c := cmp.Compare(a.Rec.Type, b.Rec.Type); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
}

// IPHash is the rendezvous hash of an IP: FNV-1a of its 16-byte form,
// finished with a 64-bit mixer so that neighbouring IPs spread well.
func IPHash(ip netip.Addr) uint64 {
	b := ip.As16()
	return Mix(FNV64a(FNVOffset, b[:]))
}

// FNVOffset is the FNV-1a 64-bit offset basis, the start value for FNV64a.
const FNVOffset uint64 = 14695981039346656037

// FNV64a continues an FNV-1a 64-bit hash over b. Written out because
// hash/fnv's interface value escapes to the heap on the query path.
func FNV64a(h uint64, b []byte) uint64 {
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// Mix is the splitmix64 finaliser.
func Mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// keyHash identifies a record by the etcd key that holds it: a key holds
// one record, and two keys never share one.
func keyHash(key []byte) uint64 { return FNV64a(FNVOffset, key) }
