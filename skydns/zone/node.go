package zone

import (
	"bytes"
	"cmp"
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/internal/rendezvous"
	"github.com/skydns/skydns/internal/topology"
)

// Node is everything one owner name holds. A Node is never changed once it
// is published: a change builds a new Node and swaps it in, so the query
// path reads it without locks. 72 bytes: a million of them must be cheap.
type Node struct {
	Name string
	// Addrs are the A records then the AAAA records, each group in a
	// stable order (by IP), which selection relies on.
	Addrs []Addr
	// Other holds every record that is not an address, by type then key.
	Other []Entry
	// placed caches the sites of Addrs under one topology; see Placement.
	placed atomic.Pointer[Placement]
}

// Placement is a node's addresses placed in the sites of one topology:
// copies of its Addrs, each with its site set (see Addr.Site).
type Placement struct {
	gen   uint64 // the topology's Generation: a pointer would keep an old one alive
	Addrs []Addr
	n4    int // the A records come first
	// sited4 and sited6: some A (AAAA) address is in a site, so the answer
	// may depend on the client's site.
	sited4, sited6 bool
	// inline holds the Addrs of a small name, in the same allocation as
	// the rest: a query then reads a cache line or two fewer.
	inline [3]Addr
}

// Placement returns n's addresses placed in t's sites. It is computed once
// per node and topology, on the first query after either changes, so that
// a query walks no networks; a race computes it twice, harmlessly.
func (n *Node) Placement(t *topology.Topology) *Placement {
	if p := n.placed.Load(); p != nil && p.gen == t.Generation() {
		return p
	}
	p := &Placement{gen: t.Generation(), n4: n.numV4()}
	if len(n.Addrs) <= len(p.inline) {
		p.Addrs = p.inline[:len(n.Addrs)]
		copy(p.Addrs, n.Addrs)
	} else {
		p.Addrs = slices.Clone(n.Addrs)
	}
	for i := range p.Addrs {
		a := &p.Addrs[i]
		s := t.SiteOf(a.IP(), a.siteHash)
		a.site = uint16(s + 1) // Compile keeps indexes below 65535
		if s >= 0 {
			p.sited4 = p.sited4 || a.v4
			p.sited6 = p.sited6 || !a.v4
		}
	}
	n.placed.Store(p)
	return p
}

// Family returns the A (v6: AAAA) addresses, placed, and whether any of
// them is in a site.
func (p *Placement) Family(v6 bool) ([]Addr, bool) {
	if v6 {
		return p.Addrs[p.n4:], p.sited6
	}
	return p.Addrs[:p.n4], p.sited4
}

// Addr is an A or AAAA record. It holds no pointer, so the garbage
// collector never scans the millions of them, and it is 40 bytes.
// Addresses are compared with ==: two records of a name differ in key.
type Addr struct {
	ip       [16]byte // the 16-byte form; v4 as ::ffff:a.b.c.d
	key      uint64   // hash of the etcd key the record came from
	TTL      uint32
	Weight   uint16
	Priority uint16
	Port     uint16 // the original API's SRV records are addresses with a port
	v4       bool
	// dup: an earlier record of the name holds the same IP and port (the
	// original kubeapi's and the sync's, say); answers list it once. In
	// the padding: the flag costs no memory.
	dup bool
	// siteHash is topology.Hash of the record's site field, 0 for none: a
	// name rather than an index, so that a topology change leaves the
	// records alone. site is the index of the address's site plus one, set
	// only in a Placement's copies. Both in the padding, as dup is.
	siteHash, site uint16
}

// Site is the index of the address's site in the topology of the
// Placement it came from, -1 for none (or not placed).
func (a Addr) Site() int { return int(a.site) - 1 }

// NewAddr returns an address record of ip.
func NewAddr(ip netip.Addr) Addr {
	ip = ip.Unmap()
	return Addr{ip: ip.As16(), v4: ip.Is4()}
}

func newAddr(ip netip.Addr, r record.Record) Addr {
	a := NewAddr(ip)
	a.TTL, a.Weight, a.Priority, a.Port = r.TTL, uint16(r.Weight), uint16(r.Priority), uint16(r.Port)
	if r.Site != "" {
		a.siteHash = topology.Hash(r.Site)
	}
	return a
}

// IP is the address.
func (a Addr) IP() netip.Addr {
	if a.v4 {
		return netip.AddrFrom4([4]byte(a.ip[12:]))
	}
	return netip.AddrFrom16(a.ip)
}

// Is4 tells an A record from an AAAA record.
func (a Addr) Is4() bool { return a.v4 }

// AppendIP appends the address's 4 or 16 bytes, as on the wire.
func (a Addr) AppendIP(b []byte) []byte {
	if a.v4 {
		return append(b, a.ip[12:]...)
	}
	return append(b, a.ip[:]...)
}

// Hash is the rendezvous hash of the address: the same on every replica
// and after every restart.
func (a Addr) Hash() uint64 { return rendezvous.Mix(rendezvous.FNV64a(rendezvous.Offset, a.ip[:])) }

// Entry is a record of any other type.
type Entry struct {
	Rec record.Record
	key uint64
}

// V4 and V6 are the A and the AAAA records.
func (n *Node) V4() []Addr { return n.Addrs[:n.numV4()] }
func (n *Node) V6() []Addr { return n.Addrs[n.numV4():] }

func (n *Node) numV4() int {
	i := 0
	for i < len(n.Addrs) && n.Addrs[i].v4 {
		i++
	}
	return i
}

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

func (n *Node) hasIP(ip [16]byte) bool { return hasIP(n.Addrs, ip) }

func hasIP(as []Addr, ip [16]byte) bool {
	for _, a := range as {
		if a.ip == ip {
			return true
		}
	}
	return false
}

func (n *Node) empty() bool { return len(n.Addrs) == 0 && len(n.Other) == 0 }

// with returns a copy of n with a (or e) put in, replacing what key held.
func (n *Node) with(key uint64, a *Addr, e *Entry) *Node {
	m := n.without(key, a != nil, e != nil)
	if a != nil {
		m.Addrs = append(m.Addrs, *a)
		sortAddrs(m.Addrs)
		markDups(m.Addrs)
	} else {
		m.Other = append(m.Other, *e)
		sortOther(m.Other)
	}
	return m
}

// without returns a copy of n without the record from key, with room for
// one more address or entry.
func (n *Node) without(key uint64, roomAddr, roomOther bool) *Node {
	m := &Node{Name: n.Name}
	if len(n.Addrs) > 0 || roomAddr {
		m.Addrs = make([]Addr, 0, len(n.Addrs)+b2i(roomAddr))
		for _, a := range n.Addrs {
			if a.key != key {
				m.Addrs = append(m.Addrs, a)
			}
		}
	}
	if len(m.Addrs) < len(n.Addrs) {
		markDups(m.Addrs) // the first of a repeated IP may be the one gone
	}
	if len(n.Other) > 0 || roomOther {
		m.Other = make([]Entry, 0, len(n.Other)+b2i(roomOther))
		for _, e := range n.Other {
			if e.key != key {
				m.Other = append(m.Other, e)
			}
		}
	}
	return m
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// markDups flags each address whose IP and port an earlier record of the
// name already has. as is sorted, so records of one IP are next to each
// other and the scan back stops at the first other IP.
func markDups(as []Addr) {
	for i := range as {
		as[i].dup = false
		for j := i - 1; j >= 0 && as[j].ip == as[i].ip && as[j].v4 == as[i].v4; j-- {
			if as[j].Port == as[i].Port {
				as[i].dup = true
				break
			}
		}
	}
}

// AppendUnique appends the addresses of as that no earlier record of the
// name repeats.
func AppendUnique(dst, as []Addr) []Addr {
	for _, a := range as {
		if !a.dup {
			dst = append(dst, a)
		}
	}
	return dst
}

func sortAddrs(as []Addr) {
	slices.SortFunc(as, func(a, b Addr) int {
		if a.v4 != b.v4 {
			if a.v4 {
				return -1
			}
			return 1
		}
		if c := bytes.Compare(a.ip[:], b.ip[:]); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
}

func sortOther(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int {
		if c := cmp.Compare(a.Rec.Type, b.Rec.Type); c != 0 {
			return c
		}
		return cmp.Compare(a.key, b.key)
	})
}

// keyHash identifies a record by the etcd key that holds it: a key holds
// one record, and two keys never share one.
func keyHash(key []byte) uint64 { return rendezvous.FNV64a(rendezvous.Offset, key) }
