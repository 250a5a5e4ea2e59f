package topology

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
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
	names    []string // sorted; a site's index is its position here
	hashes   []uint32 // Hash of each name
	byHash   map[uint32]int32
	fallback [][][]int // per site: groups tried in order; each group is served together
	v4, v6   []span
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

// Hash is the 32-bit FNV-1a of a site name, never 0: what a record's
// "site" field is kept as, in a form without pointers.
func Hash(name string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= 16777619
	}
	if h == 0 {
		h = 1
	}
	return h
}

// Compile builds the table of a set of decoded sites. It never fails: what
// it cannot use it leaves out and reports, for the server to log.
//   - The same network in two sites (a Conflict): the site whose name
//     sorts first keeps it.
//   - A fallback to a site that does not exist: skipped.
func Compile(sites map[string]Site) (*Topology, []error) {
	var problems []error
	t := &Topology{names: sortedNames(sites), byHash: map[uint32]int32{}}
	index := make(map[string]int, len(t.names))
	for i, n := range t.names {
		index[n] = i
		h := Hash(n)
		t.hashes = append(t.hashes, h)
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

	for i, n := range t.names {
		var groups [][]int
		for _, f := range sites[n].Fallback {
			j, ok := index[f]
			if !ok {
				problems = append(problems, fmt.Errorf("topology: site %q: fallback %q: no such site", n, f))
				continue
			}
			if j != i {
				groups = append(groups, []int{j})
			}
		}
		if len(groups) == 0 && len(t.names) > 1 {
			all := make([]int, 0, len(t.names)-1)
			for j := range t.names {
				if j != i {
					all = append(all, j)
				}
			}
			groups = [][]int{all}
		}
		t.fallback = append(t.fallback, groups)
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
	return t, problems
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

// Lookup returns the site of ip (-1: none) and the ECS scope: the length
// of the shortest prefix around ip whose addresses all belong to that same
// site, and so get the same answer. It neither allocates nor locks. A nil
// Topology has no site.
func (t *Topology) Lookup(ip netip.Addr) (site int, scope int) {
	if t == nil || !ip.IsValid() {
		return -1, 0
	}
	k, is4 := key(ip)
	spans, width := t.v6, 128
	if is4 {
		spans, width = t.v4, 32
	}
	if len(spans) <= 1 {
		// One span: every address of the family is alike.
		if len(spans) == 1 {
			return int(spans[0].site), 0
		}
		return -1, 0
	}
	// The last span whose start is not after k.
	lo, hi := 0, len(spans)
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if k.less(spans[m].start) {
			hi = m
		} else {
			lo = m
		}
	}
	start, end := spans[lo].start, maxU128
	if lo+1 < len(spans) {
		end = spans[lo+1].start.dec()
	}
	host := maxU128 // the bits below the network: all of them, or IPv4's 32
	if is4 {
		host = mask(32)
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
	return int(spans[lo].site), n
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
func (t *Topology) ByHash(h uint32) int {
	if t == nil || h == 0 {
		return -1
	}
	if i, ok := t.byHash[h]; ok {
		return int(i)
	}
	return -1
}

// Fallback returns the groups of sites that serve, in order, when site i
// cannot: each group's IPs are taken together.
func (t *Topology) Fallback(i int) [][]int { return t.fallback[i] }

// SiteOf places a backend IP: the site of its record's site field (hash,
// 0 for none) when that site exists, else the site of its address.
func (t *Topology) SiteOf(ip netip.Addr, siteHash uint32) int {
	if i := t.ByHash(siteHash); i >= 0 {
		return i
	}
	s, _ := t.Lookup(ip)
	return s
}
