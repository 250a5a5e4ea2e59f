package server

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/skydns/zone"
)

// Handler answers queries; it implements dns.Handler.
type Handler struct {
	cfg     Config
	store   *zone.Store
	metrics *Metrics
	stubs   innerStubs
	rotor   atomic.Uint64
}

// NewHandler returns a handler over store. metrics may be nil.
func NewHandler(cfg Config, store *zone.Store, metrics *Metrics) *Handler {
	cfg.setDefaults()
	if metrics == nil {
		metrics = NewMetrics(nil, store)
	}
	return &Handler{cfg: cfg, store: store, metrics: metrics, stubs: newInnerStubs(cfg.StubZones, store)}
}

// query is what one request needs while it is being answered.
type query struct {
	req       *dns.Msg
	resp      *dns.Msg
	client    netip.Addr
	tcp       bool
	recursion bool // the client may use the forwarder
	// ecs is the client subnet option of the request, echoed with a scope.
	ecs *dns.EDNS0_SUBNET
	// visited guards CNAME chains against loops.
	visited []string
	mode    policy.Mode // selection used, for metrics
	// scope is the ECS scope that sites need: the longest over the names
	// answered.
	scope int
	// trace, nil but for an explanation, records the decisions.
	trace *trace
}

// ServeDNS answers one request.
func (h *Handler) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	start := time.Now()
	q := &query{req: req}
	if ap, err := netip.ParseAddrPort(w.RemoteAddr().String()); err == nil {
		q.client = ap.Addr().Unmap()
	}
	_, q.tcp = w.RemoteAddr().(*net.TCPAddr)
	q.recursion = h.mayRecurse(q.client)

	resp := h.answer(q)
	size := dns.MaxMsgSize
	if !q.tcp {
		size = udpSize(req, h.cfg.MaxUDPSize)
	}
	// Truncate keeps what fits and sets TC when it had to drop answers, so
	// the client retries over TCP for the full set.
	resp.Truncate(size)
	if err := w.WriteMsg(resp); err != nil {
		h.metrics.writeErrors.Inc()
	}
	h.metrics.observe(req, resp, q, time.Since(start))
}

func udpSize(req *dns.Msg, max uint16) int {
	if opt := req.IsEdns0(); opt != nil {
		return int(min(max, max16(opt.UDPSize(), dns.MinMsgSize)))
	}
	return dns.MinMsgSize
}

func max16(a, b uint16) uint16 {
	if a > b {
		return a
	}
	return b
}

func (h *Handler) mayRecurse(client netip.Addr) bool {
	return h.cfg.Forwarder != nil && contains(h.cfg.AllowRecursion, client)
}

func contains(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// answer builds the response to q.req.
func (h *Handler) answer(q *query) *dns.Msg {
	req := q.req
	resp := new(dns.Msg)
	q.resp = resp
	resp.SetReply(req)
	resp.RecursionAvailable = q.recursion
	if len(req.Question) != 1 {
		resp.Question = nil
		resp.Rcode = dns.RcodeFormatError
		return resp
	}
	if req.Opcode != dns.OpcodeQuery {
		resp.Rcode = dns.RcodeNotImplemented
		return resp
	}
	if !validEDNS(req) {
		resp.Rcode = dns.RcodeFormatError
		return resp
	}
	if opt := req.IsEdns0(); opt != nil {
		if opt.Version() != 0 {
			resp.SetRcode(req, dns.RcodeBadVers)
			resp.SetEdns0(h.cfg.MaxUDPSize, false)
			return resp
		}
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok {
				q.ecs = e
			}
		}
		defer h.addOPT(q)
	}

	question := req.Question[0]
	if question.Qclass != dns.ClassINET && question.Qclass != dns.ClassANY {
		resp.Rcode = dns.RcodeRefused
		return resp
	}
	switch question.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		// Zone transfers are not served (RFC 5936 §4.2: REFUSED), for our
		// zones or through the forwarder.
		resp.Rcode = dns.RcodeRefused
		return resp
	case dns.TypeMAILA, dns.TypeMAILB:
		// Obsolete meta-queries (RFC 1035 §3.2.3, RFC 2505): not
		// implemented, rather than an empty answer that looks like one.
		resp.Rcode = dns.RcodeNotImplemented
		return resp
	}
	qname := strings.ToLower(question.Name)
	z := h.zoneOf(qname)
	if z == nil {
		if name, ok := h.reverse(q.client, qname, question.Qtype); ok {
			resp.Authoritative = true
			resp.Answer = append(resp.Answer, name...)
			return resp
		}
		if q.recursion {
			h.forward(q, question)
			return resp
		}
		resp.Rcode = dns.RcodeRefused
		return resp
	}
	if !h.store.Loaded() {
		resp.Rcode = dns.RcodeServerFailure // not "no such name": we do not know yet
		return resp
	}
	resp.Authoritative = true
	h.resolve(q, z, question.Name, qname, question.Qtype)
	return resp
}

// validEDNS checks what RFC 6891 §6.1.1 and RFC 7871 §7.1.2 make a
// FORMERR: more than one OPT record, an OPT anywhere but the additional
// section or with an owner other than the root, a client subnet whose
// scope is not 0.
func validEDNS(req *dns.Msg) bool {
	for _, rr := range req.Answer {
		if rr.Header().Rrtype == dns.TypeOPT {
			return false
		}
	}
	for _, rr := range req.Ns {
		if rr.Header().Rrtype == dns.TypeOPT {
			return false
		}
	}
	n := 0
	for _, rr := range req.Extra {
		opt, ok := rr.(*dns.OPT)
		if !ok {
			continue
		}
		n++
		if n > 1 || opt.Hdr.Name != "." {
			return false
		}
		for _, o := range opt.Option {
			if e, ok := o.(*dns.EDNS0_SUBNET); ok && e.SourceScope != 0 {
				return false
			}
		}
	}
	return true
}

// addOPT echoes EDNS0: our payload size and, for a client subnet, the
// scope the answer holds for.
func (h *Handler) addOPT(q *query) {
	resp := q.resp
	if resp.IsEdns0() != nil {
		return
	}
	opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	opt.SetUDPSize(h.cfg.MaxUDPSize)
	if q.req.IsEdns0().Do() {
		opt.SetDo()
	}
	if q.ecs != nil {
		e := *q.ecs
		// An answer holds for every client (scope 0, RFC 7871) unless the
		// client's site chose the set (the site's network, q.scope) or
		// hold-one chose within it (the whole subnet it was keyed on).
		scope := q.scope
		if q.mode == policy.ModeHoldOne {
			scope = max(scope, int(e.SourceNetmask))
		}
		e.SourceScope = uint8(scope)
		opt.Option = append(opt.Option, &e)
	}
	resp.Extra = append(resp.Extra, opt)
}

// resolve answers qname (owner is its spelling in the answer) from zone z,
// following CNAMEs.
func (h *Handler) resolve(q *query, z *zone.Zone, owner, qname string, qtype uint16) {
	resp := q.resp
	node, exists := z.Lookup(qname)
	if !exists && !h.aboveStub(qname) {
		node = h.wildcard(z, qname)
		if node == nil {
			resp.Rcode = dns.RcodeNameError
			resp.Ns = append(resp.Ns, h.soa(z))
			return
		}
	}
	if node != nil && qtype != dns.TypeCNAME && qtype != dns.TypeANY {
		if c, ok := node.CNAME(); ok {
			q.trace.alias(qname, c.Host)
			h.followCNAME(q, owner, qname, c.Host, h.ttl(c.TTL), qtype)
			return
		}
	}
	before := len(resp.Answer)
	if node != nil {
		switch qtype {
		case dns.TypeA, dns.TypeAAAA:
			h.addresses(q, owner, node, qtype)
			if resp.Rcode != dns.RcodeSuccess {
				return
			}
		case dns.TypeANY:
			// RFC 8482: a minimal answer rather than everything.
			resp.Answer = append(resp.Answer, &dns.HINFO{
				Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: h.cfg.TTL},
				Cpu: "RFC8482",
			})
		default:
			h.others(q, z, owner, node, qtype)
		}
	}
	if qname == z.Origin {
		switch qtype {
		case dns.TypeSOA:
			resp.Answer = append(resp.Answer, h.soa(z))
		case dns.TypeNS:
			if len(resp.Answer) == before {
				resp.Answer = append(resp.Answer, h.defaultNS(z))
			}
		}
	}
	if len(resp.Answer) == before && resp.Rcode == dns.RcodeSuccess {
		// NODATA: the name exists, the type does not.
		resp.Ns = append(resp.Ns, h.soa(z))
	}
}

func (h *Handler) followCNAME(q *query, owner, qname, target string, ttl uint32, qtype uint16) {
	resp := q.resp
	resp.Answer = append(resp.Answer, &dns.CNAME{
		Hdr:    dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: ttl},
		Target: target,
	})
	q.visited = append(q.visited, qname)
	if len(q.visited) > maxCNAMEDepth {
		return
	}
	for _, v := range q.visited {
		if v == target {
			return // a loop: the chain so far is the answer
		}
	}
	if tz := h.zoneOf(target); tz != nil {
		h.resolve(q, tz, target, target, qtype)
		return
	}
	if q.recursion {
		h.forward(q, dns.Question{Name: target, Qtype: qtype, Qclass: dns.ClassINET})
	}
}

// forward resolves question through the forwarder and appends what it
// answered; the rcode is the upstream's (RFC 6604: the last name's).
func (h *Handler) forward(q *query, question dns.Question) {
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.ForwardTimeout)
	defer cancel()
	m := new(dns.Msg)
	m.SetQuestion(question.Name, question.Qtype)
	m.RecursionDesired = true
	up, err := h.cfg.Forwarder.Resolve(ctx, m)
	if err != nil {
		h.metrics.forwardErrors.Inc()
		if len(q.resp.Answer) == 0 {
			q.resp.Rcode = dns.RcodeServerFailure
		}
		return
	}
	if len(q.resp.Answer) == 0 {
		// Not behind a CNAME of ours: the upstream's answer is the answer.
		q.resp.Authoritative = false
		q.resp.Rcode = up.Rcode
		q.resp.Ns = append(q.resp.Ns, up.Ns...)
	}
	q.resp.Answer = append(q.resp.Answer, up.Answer...)
	for _, rr := range up.Extra {
		if rr.Header().Rrtype != dns.TypeOPT {
			q.resp.Extra = append(q.resp.Extra, rr)
		}
	}
}

// servedZoneOf is the most specific served zone that name (lower case,
// fully qualified) is in, or nil, before stub zones are considered. Names are compared label by label: a label on
// the wire may hold a dot, presented as `\.`, and `evil\.skydns.local.` is
// the label "evil.skydns" under local., not a name under skydns.local.
// Only such names (rare, never on the fast path) take the slow walk.
func (h *Handler) servedZoneOf(name string) *zone.Zone {
	if strings.IndexByte(name, '\\') < 0 {
		return h.store.ZoneOf(name)
	}
	for _, z := range h.store.Zones() { // most specific first
		if dns.IsSubDomain(z.Origin, name) {
			return z
		}
	}
	return nil
}

// wildcard returns the node of the wildcard that covers a name that does
// not exist (RFC 4592: the "*" child of the closest existing ancestor).
// It steps up label by label, escaped dots staying inside their label.
func (h *Handler) wildcard(z *zone.Zone, qname string) *zone.Node {
	if qname == z.Origin {
		return nil
	}
	for off, end := dns.NextLabel(qname, 0); !end; off, end = dns.NextLabel(qname, off) {
		name := qname[off:]
		if _, exists := z.Lookup(name); exists || h.aboveStub(name) {
			n, _ := z.Lookup("*." + name)
			return n
		}
		if name == z.Origin {
			return nil
		}
	}
	return nil
}

func (h *Handler) ttl(recordTTL uint32) uint32 {
	if recordTTL == 0 {
		return h.cfg.TTL
	}
	return recordTTL
}

// soa is the zone's SOA; its serial is the etcd revision of the zone's
// records, which moves with every change to them.
func (h *Handler) soa(z *zone.Zone) dns.RR {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: z.Origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: h.cfg.NegativeTTL},
		Ns:      "ns.dns." + z.Origin,
		Mbox:    "hostmaster." + z.Origin,
		Serial:  uint32(z.Revision()),
		Refresh: 3600,
		Retry:   600,
		Expire:  86400,
		Minttl:  h.cfg.NegativeTTL,
	}
}

// defaultNS names the server when the apex has no NS records of its own.
func (h *Handler) defaultNS(z *zone.Zone) dns.RR {
	return &dns.NS{
		Hdr: dns.RR_Header{Name: z.Origin, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: h.cfg.TTL},
		Ns:  "ns.dns." + z.Origin,
	}
}

// who is the client as hold-one sees it.
func (q *query) who() client {
	c := client{addr: q.client}
	if e := q.ecs; e != nil {
		if a, ok := netip.AddrFromSlice(e.Address); ok {
			c.ecs, c.ecsBits, c.hasECS = a.Unmap(), int(e.SourceNetmask), true
		}
	}
	return c
}
