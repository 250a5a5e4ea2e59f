package topology

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"sync/atomic"
)

// Topology is a compiled set of sites, built once per topology change and
// then only read: Lookup neither allocates nor locks, so any number of
// queries share one.
//
// The networks of all sites are flattened, per address family, into
// disjoint ranges sorted by their first address, each holding the site its
// addresses belong to by longest prefix (or none). Lookup is a binary
// search over those ranges; a thousand networks make about eleven steps.
type Topology struct {
	gen      uint64   // unique per Compile: what placements are keyed on
	names    []string // sorted; a site's index is its position here
	byHash   map[uint16]int32
	fallback [][]int // per site: the sites tried in order; empty: all others together
	v4, v6   []span
	// starts4 and sites4 are v4 again, packed for Site, the lookup of
	// every query: 8 bytes a span keep a large table in the first caches.
	starts4 []uint32
	sites4  []int32
}

// span is a range of addresses, from start up to the next span's start,
// whose addresses all belong to site (-1: to none). Addresses are held as
// 128-bit numbers with the network bits at the top, IPv4 in the first 32.
type span struct {
	start u128
	site  int32
}

type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

// next returns the address after a, in a family whose addresses step by
// unit; false when a is the last one.
func (a u128) next(unit u128) (u128, bool) {
	lo := a.lo + unit.lo
	hi := a.hi + unit.hi
	if lo < a.lo {
		hi++
	}
	if hi < a.hi || hi == a.hi && lo <= a.lo {
		return u128{}, false
	}
	return u128{hi, lo}, true
}

func (a u128) dec() u128 {
	if a.lo == 0 {
		return u128{a.hi - 1, ^uint64(0)}
	}
	return u128{a.hi, a.lo - 1}
}

var maxU128 = u128{^uint64(0), ^uint64(0)}

// mask keeps the top n bits.
func mask(n int) u128 {
	var m u128
	switch {
	case n >= 128:
		m = maxU128
	case n > 64:
		m = u128{^uint64(0), ^(^uint64(0) >> (n - 64))}
	case n > 0:
		m = u128{^(^uint64(0) >> n), 0}
	}
	return m
}

func (a u128) and(m u128) u128 { return u128{a.hi & m.hi, a.lo & m.lo} }
func (a u128) or(m u128) u128  { return u128{a.hi | m.hi, a.lo | m.lo} }
func (a u128) not() u128       { return u128{^a.hi, ^a.lo} }

// key returns ip as a 128-bit number and its family's table selector.
func key(ip netip.Addr) (u128, bool) {
	if ip.Is4() || ip.Is4In6() {
		b := ip.Unmap().As4()
		return u128{uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32, 0}, true
	}
	b := ip.As16()
	var k u128
	for i := 0; i < 8; i++ {
		k.hi = k.hi<<8 | uint64(b[i])
		k.lo = k.lo<<8 | uint64(b[8+i])
	}
	return k, false
}

// Hash is the FNV-1a of a site name folded to 16 bits, never 0: what a
// record's "site" field is kept as, in two bytes without pointers. Two
// sites of one hash are reported by Compile.
func Hash(name string) uint16 {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= 16777619
	}
	f := uint16(h ^ h>>16)
	if f == 0 {
		f = 1
	}
	return f
}

// MaxSites is the most sites a topology holds; Compile leaves out the
// rest (by name order) and reports it.
const MaxSites = 1 << 15

// Compile builds the table of a set of decoded sites. It never fails: what
// it cannot use it leaves out and reports, for the server to log.
//   - The same network in two sites (a Conflict): the site whose name
//     sorts first keeps it.
//   - A fallback to a site that does not exist: skipped.
func Compile(sites map[string]Site) (*Topology, []error) {
	var problems []error
	t := &Topology{gen: generations.Add(1), names: sortedNames(sites), byHash: map[uint16]int32{}}
	if len(t.names) > MaxSites {
		problems = append(problems, fmt.Errorf("topology: %d sites, at most %d are used: those after %q are left out", len(t.names), MaxSites, t.names[MaxSites-1]))
		t.names = t.names[:MaxSites]
	}
	index := make(map[string]int, len(t.names))
	for i, n := range t.names {
		index[n] = i
		h := Hash(n)
		if j, ok := t.byHash[h]; ok {
			// Two names, one 32-bit hash: a record's site field cannot
			// tell them apart, so it places its IP in the first.
			problems = append(problems, fmt.Errorf("topology: sites %q and %q have the same hash; a record's site %q means %q", t.names[j], n, n, t.names[j]))
			continue
		}
		t.byHash[h] = int32(i)
	}

	type claim struct {
		p    netip.Prefix
		site int
	}
	var claims []claim
	owner := map[netip.Prefix]int{}
	for i, n := range t.names {
		for _, p := range sites[n].Prefixes() {
			if j, ok := owner[p]; ok {
				if j != i {
					problems = append(problems, Conflict{Network: p, Sites: [2]string{t.names[j], n}})
				}
				continue
			}
			owner[p] = i
			claims = append(claims, claim{p, i})
		}
	}

	for _, n := range t.names {
		var order []int
		for _, f := range sites[n].Fallback {
			j, ok := index[f]
			if !ok {
				problems = append(problems, fmt.Errorf("topology: site %q: fallback %q: no such site", n, f))
				continue
			}
			order = append(order, j)
		}
		t.fallback = append(t.fallback, order)
	}

	var p4, p6 []flatPrefix
	for _, c := range claims {
		k, is4 := key(c.p.Addr())
		b := c.p.Bits()
		if is4 {
			p4 = append(p4, flatPrefix{k, k.or(mask(b).not().and(mask(32))), b, int32(c.site)})
		} else {
			p6 = append(p6, flatPrefix{k, k.or(mask(b).not()), b, int32(c.site)})
		}
	}
	t.v4 = flatten(p4, u128{1 << 32, 0})
	t.v6 = flatten(p6, u128{0, 1})
	for _, sp := range t.v4 {
		// An IPv4 span starts at an address: its low 96 bits are 0.
		t.starts4 = append(t.starts4, uint32(sp.start.hi>>32))
		t.sites4 = append(t.sites4, sp.site)
	}
	return t, problems
}

// generations numbers the compiled topologies of the process.
var generations atomic.Uint64

// Generation tells this topology from every other compiled in the process,
// without keeping it alive as a pointer would. 0 for nil.
func (t *Topology) Generation() uint64 {
	if t == nil {
		return 0
	}
	return t.gen
}

type flatPrefix struct {
	start, end u128
	bits       int
	site       int32
}

// flatten turns nested or disjoint prefixes into disjoint spans where the
// longest prefix wins. Prefixes never partly overlap, so a sweep in order
// of start (outer before inner) with a stack of the open ones does it.
func flatten(ps []flatPrefix, unit u128) []span {
	slices.SortFunc(ps, func(a, b flatPrefix) int {
		if a.start != b.start {
			if a.start.less(b.start) {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.bits, b.bits)
	})
	out := []span{{site: -1}}
	emit := func(at u128, site int32) {
		last := &out[len(out)-1]
		if last.start == at {
			last.site = site
			// The span before may now say the same: merge.
			if len(out) > 1 && out[len(out)-2].site == site {
				out = out[:len(out)-1]
			}
			return
		}
		if last.site != site {
			out = append(out, span{at, site})
		}
	}
	var stack []flatPrefix
	closeTo := func(limit u128, all bool) {
		for len(stack) > 0 {
			top := stack[len(stack)-1]
			if !all && !top.end.less(limit) {
				return
			}
			stack = stack[:len(stack)-1]
			next, ok := top.end.next(unit)
			if !ok {
				continue
			}
			site := int32(-1)
			if len(stack) > 0 {
				site = stack[len(stack)-1].site
			}
			emit(next, site)
		}
	}
	for _, p := range ps {
		closeTo(p.start, false)
		emit(p.start, p.site)
		stack = append(stack, p)
	}
	closeTo(u128{}, true)
	return out
}

// Site returns the site of ip, -1 for none. It neither allocates nor
// locks. A nil Topology has no site.
func (t *Topology) Site(ip netip.Addr) int {
	if t == nil || !ip.IsValid() {
		return -1
	}
	if ip.Is4() || ip.Is4In6() {
		b := ip.Unmap().As4()
		k := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		starts := t.starts4
		lo, hi := 0, len(starts)
		for hi-lo > 1 {
			m := int(uint(lo+hi) >> 1)
			if k < starts[m] {
				hi = m
			} else {
				lo = m
			}
		}
		return int(t.sites4[lo])
	}
	spans, k, _ := t.spans(ip)
	return int(spans[search(spans, k)].site)
}

// Lookup returns the site of ip (-1: none) and the ECS scope: the length
// of the shortest prefix around ip whose addresses all belong to that same
// site, and so get the same answer. It neither allocates nor locks.
func (t *Topology) Lookup(ip netip.Addr) (site int, scope int) {
	if t == nil || !ip.IsValid() {
		return -1, 0
	}
	spans, k, is4 := t.spans(ip)
	if len(spans) <= 1 {
		// At most one span: every address of the family is alike.
		if len(spans) == 1 {
			return int(spans[0].site), 0
		}
		return -1, 0
	}
	i := search(spans, k)
	start, end := spans[i].start, maxU128
	if i+1 < len(spans) {
		end = spans[i+1].start.dec()
	}
	host := maxU128 // the bits below the network: all of them, or IPv4's 32
	width := 128
	if is4 {
		host, width = mask(32), 32
	}
	// The shortest n whose block around k lies in [start, end]; a longer
	// block fits whenever a shorter one does.
	n, m := 0, width
	for n < m {
		mid := (n + m) / 2
		b := mask(mid)
		first := k.and(b)
		last := first.or(b.not().and(host))
		if !first.less(start) && !end.less(last) {
			m = mid
		} else {
			n = mid + 1
		}
	}
	return int(spans[i].site), n
}

// spans returns the table of ip's family and ip as a key in it.
func (t *Topology) spans(ip netip.Addr) ([]span, u128, bool) {
	k, is4 := key(ip)
	if is4 {
		return t.v4, k, true
	}
	return t.v6, k, false
}

// search returns the last span whose start is not after k; spans[0]
// starts at 0.
func search(spans []span, k u128) int {
	lo, hi := 0, len(spans)
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if k.less(spans[m].start) {
			hi = m
		} else {
			lo = m
		}
	}
	return lo
}

// Len is the number of sites.
func (t *Topology) Len() int {
	if t == nil {
		return 0
	}
	return len(t.names)
}

// Name is the name of site i.
func (t *Topology) Name(i int) string { return t.names[i] }

// Index returns the index of a site name, or -1.
func (t *Topology) Index(name string) int {
	if t == nil {
		return -1
	}
	if i, ok := slices.BinarySearch(t.names, name); ok {
		return i
	}
	return -1
}

// ByHash returns the site whose name has Hash h (a record's site field), or
// -1. It does not allocate.
func (t *Topology) ByHash(h uint16) int {
	if t == nil || h == 0 {
		return -1
	}
	if i, ok := t.byHash[h]; ok {
		return int(i)
	}
	return -1
}

// Fallback returns the sites that serve, one at a time in order, when site
// i cannot. Empty (none given, or none that exists): all other sites,
// together.
func (t *Topology) Fallback(i int) []int { return t.fallback[i] }

// SiteOf places a backend IP: the site of its record's site field (hash,
// 0 for none) when that site exists, else the site of its address.
func (t *Topology) SiteOf(ip netip.Addr, siteHash uint16) int {
	if i := t.ByHash(siteHash); i >= 0 {
		return i
	}
	return t.Site(ip)
}
