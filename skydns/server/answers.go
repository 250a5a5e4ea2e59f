package server

import (
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/internal/topology"
	"github.com/skydns/skydns/skydns/selector"
	"github.com/skydns/skydns/skydns/zone"
)

// client identifies who asks, for hold-one: its EDNS client subnet if it
// sent one, else its address.
type client struct {
	addr    netip.Addr
	ecs     netip.Addr
	ecsBits int
	hasECS  bool
}

// key is the rendezvous key of the client: the subnet it sent, else its
// address masked per config.
func (h *Handler) key(c client) uint64 {
	if c.hasECS {
		return selector.ClientHash(c.ecs, c.ecsBits)
	}
	bits := h.cfg.ClientMaskV6
	if c.addr.Is4() {
		bits = h.cfg.ClientMaskV4
	}
	return selector.ClientHash(c.addr, bits)
}

// pick is the one place that decides an address answer, for the reference
// path and the fast path alike: health filter, all-down action, selection
// and cap. It appends the chosen addresses to out. rcode is SERVFAIL when
// the all-down action says so; an empty result with success is NODATA.
// down is the all-down action taken, empty when some address was healthy:
// the caller that answers counts it, so that a fast path that gives up and
// leaves the query to the reference path does not count it twice.
//
// scope is the ECS scope of the answer as far as sites go: the length of
// the client prefix it holds for, 0 when the client's site did not matter.
//
// tr, nil on every query, records each step for an explanation (see
// explain.go): the explanation is this code's own account of itself.
func (h *Handler) pick(out []zone.Addr, node *zone.Node, v6 bool, c client, tr *nameTrace) (chosen []zone.Addr, pol *policy.Policy, mode policy.Mode, rcode int, down policy.AllDown, scope int) {
	if len(node.Addrs) == 0 {
		return out, nil, policy.ModeDefault, dns.RcodeSuccess, "", 0
	}
	pol = h.store.Policy(node.Name)
	if tr != nil {
		tr.pol, tr.hasPolicy = pol, true
	}
	// With sites, the addresses come placed (and the node's own are not
	// read: a cache miss less), and only a name some of whose addresses
	// are in a site can answer differently per client.
	var all []zone.Addr
	top := h.store.Topology()
	sited := false
	if top.Len() > 0 && (pol == nil || pol.Topology != policy.TopologyAny) {
		all, sited = node.Placement(top).Family(v6)
	} else if all = node.V4(); v6 {
		all = node.V6()
	}
	if tr != nil {
		tr.node, tr.v6, tr.top, tr.sited = node, v6, top, sited
		tr.records = append(tr.records, all...)
	}
	if len(all) == 0 {
		return out, nil, policy.ModeDefault, dns.RcodeSuccess, "", 0
	}
	var buf [16]zone.Addr
	healthy := h.store.Healthy(buf[:0], all, h.cfg.ServeUnchecked, node.Name)
	if tr != nil {
		tr.healthy = append(tr.healthy, healthy...)
	}
	if sited && len(healthy) > 0 {
		healthy, scope = h.local(healthy, top, pol, c, tr)
		if tr != nil {
			tr.local = append(tr.local, healthy...)
		}
	}
	if len(healthy) == 0 {
		action := h.cfg.DefaultAllDown
		if pol != nil && pol.AllDown != policy.AllDownDefault {
			action = pol.AllDown
		}
		down = action
		if tr != nil {
			tr.down = action
		}
		switch action {
		case policy.AllDownNone:
			return out, pol, policy.ModeDefault, dns.RcodeSuccess, down, 0
		case policy.AllDownServfail:
			return out, pol, policy.ModeDefault, dns.RcodeServerFailure, down, 0
		case policy.AllDownFallback:
			healthy = fallback(buf[:0], pol, !v6)
		default: // all: fail open, as if nothing had been checked
			healthy = zone.AppendUnique(buf[:0], all)
		}
		if tr != nil {
			tr.afterDown = append(tr.afterDown, healthy...)
		}
		if len(healthy) == 0 {
			return out, pol, policy.ModeDefault, dns.RcodeSuccess, down, 0
		}
	}

	mode = h.cfg.DefaultMode
	if pol != nil && pol.Mode != policy.ModeDefault {
		mode = pol.Mode
	}
	chosen = out
	switch mode {
	case policy.ModeRandom:
		chosen = append(chosen, selector.Random(healthy))
	case policy.ModeWeighted:
		chosen = append(chosen, selector.Weighted(healthy))
	case policy.ModePriority:
		var best [16]zone.Addr
		chosen = selector.Rotate(chosen, selector.Priority(best[:0], healthy), h.turn(tr))
	case policy.ModeHoldOne:
		chosen = append(chosen, selector.HoldOne(healthy, h.key(c)))
	default:
		chosen = selector.Rotate(chosen, healthy, h.turn(tr))
	}
	limit := h.cfg.MaxAnswers
	if pol != nil && pol.MaxAnswers > 0 {
		limit = pol.MaxAnswers
	}
	if tr != nil {
		tr.mode, tr.limit, tr.candidates = mode, limit, len(healthy)
		tr.selected = append(tr.selected, chosen[len(out):]...)
	}
	if limit > 0 && len(chosen) > limit {
		chosen = chosen[:limit]
	}
	if tr != nil {
		tr.final = append(tr.final, chosen[len(out):]...)
		tr.scope = scope
	}
	return chosen, pol, mode, dns.RcodeSuccess, down, scope
}

// turn is the rotation of the next answer. An explanation shows the order
// the next query would get and leaves the rotor where it was: explaining
// must not change what clients see.
func (h *Handler) turn(tr *nameTrace) uint64 {
	if tr != nil {
		return h.rotor.Load() + 1
	}
	return h.rotor.Add(1)
}

// local narrows a name's healthy, placed addresses to the client's site:
// those in the site if there are at least min-healthy of them, else those
// of each fallback site in turn (or of all other sites together) by the
// same rule, else all of them. It returns the set, in healthy's memory,
// and the ECS scope it holds for.
func (h *Handler) local(healthy []zone.Addr, top *topology.Topology, pol *policy.Policy, c client, tr *nameTrace) ([]zone.Addr, int) {
	site, scope := clientSite(top, c)
	if site < 0 {
		tr.siteStep(siteNoClientSite, -1)
		return healthy, scope
	}
	least := 1
	if pol != nil && pol.MinHealthy > 0 {
		least = pol.MinHealthy
	}
	// Count those in the client's site and in the other sites, by index:
	// an Addr is 40 bytes to copy.
	own, others := 0, 0
	for i := range healthy {
		switch s := healthy[i].Site(); {
		case s == site:
			own++
		case s >= 0:
			others++
		}
	}
	switch {
	case own == len(healthy):
		// All local: the set, whatever min-healthy says (every later
		// step would give it too).
		tr.siteStep(siteAllOwn, site)
		return healthy, scope
	case own >= least:
		tr.siteStep(siteOwn, site)
		return keepSite(healthy, site, false), scope
	}
	fallback := top.Fallback(site)
	for _, f := range fallback {
		if countSite(healthy, f) >= least {
			tr.siteStep(siteFallback, f)
			return keepSite(healthy, f, false), scope
		}
	}
	if len(fallback) == 0 && others >= least {
		tr.siteStep(siteOthers, -1)
		return keepSite(healthy, site, true), scope
	}
	tr.siteStep(siteAnywhere, -1)
	return healthy, scope
}

// clientSite places the client by its EDNS client subnet, else its
// address. A subnet of length 0 says nothing of the client: no site.
func clientSite(top *topology.Topology, c client) (site, scope int) {
	switch {
	case c.hasECS && c.ecsBits == 0:
		return -1, 0
	case c.hasECS:
		return top.Lookup(c.ecs)
	}
	// No ECS, no scope to report: the cheaper search will do.
	return top.Site(c.addr), 0
}

func countSite(as []zone.Addr, site int) int {
	n := 0
	for i := range as {
		if as[i].Site() == site {
			n++
		}
	}
	return n
}

// keepSite filters as in place, keeping the order: the addresses in site,
// or, with others, those in any site but it.
func keepSite(as []zone.Addr, site int, others bool) []zone.Addr {
	n := 0
	for i := range as {
		s := as[i].Site()
		if (s == site) != others && s >= 0 {
			if n != i {
				as[n] = as[i]
			}
			n++
		}
	}
	return as[:n]
}

// addrTTL is the TTL of a chosen address: the record's (or the default),
// the policy's if it sets one, never above the health cap.
func (h *Handler) addrTTL(a zone.Addr, pol *policy.Policy) uint32 {
	ttl := h.ttl(a.TTL)
	if pol != nil && pol.TTL > 0 {
		ttl = pol.TTL
	}
	return min(ttl, h.cfg.HealthTTLCap)
}

// addresses answers A or AAAA from node.
func (h *Handler) addresses(q *query, owner string, node *zone.Node, qtype uint16) {
	var out [16]zone.Addr
	tr := q.trace.name(node.Name, qtype)
	chosen, pol, mode, rcode, down, scope := h.pick(out[:0], node, qtype == dns.TypeAAAA, q.who(), tr)
	if down != "" && tr == nil { // an explanation is no query
		h.metrics.allDown(down)
	}
	q.mode = mode
	q.scope = max(q.scope, scope) // a CNAME chain holds for the narrowest
	if rcode != dns.RcodeSuccess {
		q.resp.Rcode = rcode
		return
	}
	for _, a := range chosen {
		q.resp.Answer = append(q.resp.Answer, addrRR(owner, a.IP(), h.addrTTL(a, pol)))
	}
}

func fallback(dst []zone.Addr, pol *policy.Policy, v4 bool) []zone.Addr {
	for _, ip := range pol.FallbackIPs() {
		if ip.Is4() == v4 {
			dst = append(dst, zone.NewAddr(ip))
		}
	}
	return dst
}

func addrRR(owner string, ip netip.Addr, ttl uint32) dns.RR {
	if ip.Is4() {
		b := ip.As4()
		return &dns.A{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: net.IP(b[:])}
	}
	b := ip.As16()
	return &dns.AAAA{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: net.IP(b[:])}
}

// others answers the non-address types, with glue for the targets that
// are in the zones.
func (h *Handler) others(q *query, z *zone.Zone, owner string, node *zone.Node, qtype uint16) {
	resp := q.resp
	hdr := func(t uint16, ttl uint32) dns.RR_Header {
		return dns.RR_Header{Name: owner, Rrtype: t, Class: dns.ClassINET, Ttl: h.ttl(ttl)}
	}
	var targets []string
	before := len(resp.Answer)
	switch qtype {
	case dns.TypeCNAME:
		if c, ok := node.CNAME(); ok {
			resp.Answer = append(resp.Answer, &dns.CNAME{Hdr: hdr(dns.TypeCNAME, c.TTL), Target: c.Host})
		}
	case dns.TypeTXT:
		for _, e := range node.Of(record.TypeTXT) {
			resp.Answer = append(resp.Answer, &dns.TXT{Hdr: hdr(dns.TypeTXT, e.Rec.TTL), Txt: splitTXT(e.Rec.Text)})
		}
	case dns.TypeMX:
		for _, e := range node.Of(record.TypeMX) {
			resp.Answer = append(resp.Answer, &dns.MX{Hdr: hdr(dns.TypeMX, e.Rec.TTL), Preference: uint16(e.Rec.Priority), Mx: e.Rec.Host})
			targets = append(targets, e.Rec.Host)
		}
	case dns.TypeNS:
		for _, e := range node.Of(record.TypeNS) {
			resp.Answer = append(resp.Answer, &dns.NS{Hdr: hdr(dns.TypeNS, e.Rec.TTL), Ns: e.Rec.Host})
			targets = append(targets, e.Rec.Host)
		}
	case dns.TypeSRV:
		for _, e := range node.Of(record.TypeSRV) {
			resp.Answer = append(resp.Answer, &dns.SRV{Hdr: hdr(dns.TypeSRV, e.Rec.TTL),
				Priority: uint16(e.Rec.Priority), Weight: uint16(e.Rec.Weight), Port: uint16(e.Rec.Port), Target: e.Rec.Host})
			targets = append(targets, e.Rec.Host)
		}
		// Address records that carry a port (the original API's SRV form)
		// make the name itself a target, at each healthy address's port.
		var buf [16]zone.Addr
		ported := false
		for _, a := range h.store.Healthy(buf[:0], node.Addrs, h.cfg.ServeUnchecked, node.Name) {
			if a.Port == 0 {
				continue
			}
			resp.Answer = append(resp.Answer, &dns.SRV{Hdr: hdr(dns.TypeSRV, a.TTL),
				Priority: a.Priority, Weight: a.Weight, Port: a.Port, Target: node.Name})
			ported = true
		}
		if ported {
			targets = append(targets, node.Name)
		}
	}
	resp.Answer = resp.Answer[:before+len(distinct(resp.Answer[before:]))]
	extra := len(resp.Extra)
	for _, t := range targets {
		h.glue(q, t)
	}
	// Two records may share a target.
	resp.Extra = resp.Extra[:extra+len(distinct(resp.Extra[extra:]))]
}

// glue adds the healthy addresses of an in-zone target to the additional
// section, so the client needs no second query.
func (h *Handler) glue(q *query, target string) {
	name := strings.ToLower(target)
	tz := h.zoneOf(name)
	if tz == nil {
		return
	}
	n, _ := tz.Lookup(name)
	if n == nil {
		return
	}
	var buf [16]zone.Addr
	for _, a := range h.store.Healthy(buf[:0], n.Addrs, h.cfg.ServeUnchecked, n.Name) {
		q.resp.Extra = append(q.resp.Extra, addrRR(target, a.IP(), min(h.ttl(a.TTL), h.cfg.HealthTTLCap)))
	}
}

// splitTXT cuts text into the 255-octet strings a TXT record holds, each
// in the escaped form miekg/dns packs: the stored text is served byte for
// byte, a backslash as a backslash (not the start of \DDD), wherever the
// cut falls.
func splitTXT(s string) []string {
	var out []string
	for len(s) > 255 {
		out = append(out, escapeTXT(s[:255]))
		s = s[255:]
	}
	return append(out, escapeTXT(s))
}

// escapeTXT doubles each backslash, the only byte miekg/dns's packing of
// a character-string interprets.
func escapeTXT(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	return strings.ReplaceAll(s, `\`, `\\`)
}

// reverse answers PTR for an IP that the zones serve, to a client in
// allow-ptr: the answer lists every name of the IP, so a sweep of a
// reverse range would list the zones.
func (h *Handler) reverse(client netip.Addr, qname string, qtype uint16) ([]dns.RR, bool) {
	if qtype != dns.TypePTR && qtype != dns.TypeANY || !contains(h.cfg.AllowPTR, client) {
		return nil, false
	}
	ip, ok := ptrIP(qname)
	if !ok {
		return nil, false
	}
	names := h.store.NamesOf(ip)
	if len(names) == 0 {
		return nil, false
	}
	rrs := make([]dns.RR, 0, len(names))
	for _, n := range names {
		rrs = append(rrs, &dns.PTR{Hdr: dns.RR_Header{Name: qname, Rrtype: dns.TypePTR, Class: dns.ClassINET, Ttl: h.cfg.TTL}, Ptr: n})
	}
	return rrs, true
}

// ptrIP reads the IP of an in-addr.arpa or ip6.arpa name.
func ptrIP(name string) (netip.Addr, bool) {
	if rest, ok := strings.CutSuffix(name, ".in-addr.arpa."); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 4 {
			return netip.Addr{}, false
		}
		for i, j := 0, len(labels)-1; i < j; i, j = i+1, j-1 {
			labels[i], labels[j] = labels[j], labels[i]
		}
		ip, err := netip.ParseAddr(strings.Join(labels, "."))
		return ip, err == nil
	}
	if rest, ok := strings.CutSuffix(name, ".ip6.arpa."); ok {
		labels := strings.Split(rest, ".")
		if len(labels) != 32 {
			return netip.Addr{}, false
		}
		var b [16]byte
		for i, l := range labels {
			if len(l) != 1 {
				return netip.Addr{}, false
			}
			v := strings.IndexByte("0123456789abcdef", l[0])
			if v < 0 {
				return netip.Addr{}, false
			}
			pos := 31 - i
			if pos%2 == 0 {
				b[pos/2] |= byte(v) << 4
			} else {
				b[pos/2] |= byte(v)
			}
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}
