package server

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/topology"
	"github.com/skydns/skydns/skydns/explain"
	"github.com/skydns/skydns/skydns/zone"
)

// An explanation runs the query through answer, the reference path, with
// a trace that pick and local fill in as they decide: the steps explained
// are the steps taken, on the same view, by the same code. The fast path
// calls pick with no trace and answers the same (fastpath_test.go).

// trace is what one explanation records; nil on every query, and every
// method is a no-op on nil so that the query path only tests a pointer.
type trace struct {
	names []*nameTrace
}

// nameTrace is one name's address decision (there are several along a
// CNAME chain). The slices are copies: pick's buffers live on its stack.
type nameTrace struct {
	name      string
	qtype     uint16
	aliasTo   string // set instead of the rest when the name is an alias
	pol       *policy.Policy
	hasPolicy bool // pick read the policy (the name has addresses)
	node      *zone.Node
	v6        bool
	top       *topology.Topology
	sited     bool
	records   []zone.Addr // the name's addresses of the family, placed
	healthy   []zone.Addr
	local     []zone.Addr // after the site choice, when it ran
	site      siteChoice
	siteRan   bool
	down      policy.AllDown // the all-down action, when it ran
	afterDown []zone.Addr
	mode      policy.Mode
	limit     int
	selected  []zone.Addr // before the cap
	final     []zone.Addr
	// candidates is the set selection chose from: random and weighted
	// draw anew on every query, from these.
	candidates int
	scope      int
}

func (t *trace) name(name string, qtype uint16) *nameTrace {
	if t == nil {
		return nil
	}
	n := &nameTrace{name: name, qtype: qtype}
	t.names = append(t.names, n)
	return n
}

func (t *trace) alias(name, target string) {
	if t != nil {
		t.names = append(t.names, &nameTrace{name: name, aliasTo: target})
	}
}

// The site choices local makes.
type siteStep uint8

const (
	siteNoClientSite siteStep = iota + 1 // the client is in no site: every healthy address
	siteAllOwn                           // every healthy address is in the client's site
	siteOwn                              // the client's site has min-healthy
	siteFallback                         // a fallback site of the client's has min-healthy
	siteOthers                           // no fallback list: the other sites together have min-healthy
	siteAnywhere                         // no site qualifies: every healthy address
)

type siteChoice struct {
	step siteStep
	site int // the site kept, for siteOwn, siteAllOwn and siteFallback
}

func (n *nameTrace) siteStep(s siteStep, site int) {
	if n != nil {
		n.site, n.siteRan = siteChoice{s, site}, true
	}
}

// ExplainRequest is what to explain: a query of Name and Type from Client,
// which may have sent an EDNS client subnet (ECS, valid when set).
type ExplainRequest struct {
	Name   string
	Type   uint16
	Client netip.Addr
	ECS    netip.Prefix
}

// ParseExplainRequest reads the HTTP parameters: name, type (default A),
// client (an IP, or a network for an ECS a resolver would send; default
// from, the caller's address). The error says what is wrong, for a 400.
func ParseExplainRequest(name, qtype, client string, from netip.Addr) (ExplainRequest, error) {
	var r ExplainRequest
	if name == "" {
		return r, errors.New("name is missing: give name=NAME")
	}
	fq := dns.Fqdn(strings.ToLower(name))
	if _, ok := dns.IsDomainName(fq); !ok || len(fq) > 255 {
		return r, fmt.Errorf("name %q is not a domain name", name)
	}
	r.Name = fq
	if qtype == "" {
		qtype = "A"
	}
	t, ok := dns.StringToType[strings.ToUpper(qtype)]
	if !ok {
		if n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(qtype), "TYPE"), 10, 16); err == nil {
			t, ok = uint16(n), true
		}
	}
	if !ok || t == 0 {
		return r, fmt.Errorf("type %q is not a DNS query type (A, AAAA, CNAME, SRV, MX, TXT, ...)", qtype)
	}
	r.Type = t
	switch {
	case client == "":
		r.Client = from.Unmap()
	case strings.Contains(client, "/"):
		p, err := netip.ParsePrefix(client)
		if err != nil {
			return r, fmt.Errorf("client %q is neither an IP nor a network: %v", client, err)
		}
		r.ECS = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked()
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			r.ECS = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96).Masked()
		}
		r.Client = from.Unmap()
	default:
		ip, err := netip.ParseAddr(client)
		if err != nil {
			return r, fmt.Errorf("client %q is not an IP: %v", client, err)
		}
		r.Client = ip.Unmap()
	}
	if !r.Client.IsValid() {
		return r, errors.New("client is missing and the caller's address is unknown: give client=IP")
	}
	return r, nil
}

// Explain answers r as the server would, recording why. The answer is
// that of TCP: over UDP a large one is truncated. It reads etcd (record
// keys, whole status values; see zone/explain.go), never on a query.
func (h *Handler) Explain(ctx context.Context, r ExplainRequest) (*explain.Explanation, error) {
	req := new(dns.Msg)
	req.SetQuestion(r.Name, r.Type)
	if r.ECS.IsValid() {
		family := uint16(1)
		if r.ECS.Addr().Is6() {
			family = 2
		}
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(dns.DefaultMsgSize)
		opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: family,
			SourceNetmask: uint8(r.ECS.Bits()), Address: r.ECS.Addr().AsSlice()})
		req.Extra = append(req.Extra, opt)
	}
	// No forwarding: an explanation sends nothing out.
	q := &query{req: req, client: r.Client, tcp: true, trace: &trace{}}
	resp := h.answer(q)
	return h.explanation(ctx, r, q, resp)
}

func (h *Handler) explanation(ctx context.Context, r ExplainRequest, q *query, resp *dns.Msg) (*explain.Explanation, error) {
	e := &explain.Explanation{
		Query: explain.Query{Name: r.Name, Type: dns.TypeToString[r.Type]},
		Names: []explain.Name{},
	}
	if e.Query.Type == "" {
		e.Query.Type = "TYPE" + strconv.Itoa(int(r.Type))
	}
	c := q.who()
	e.Client = h.explainClient(c, r)
	if !h.store.Loaded() {
		e.Notes = append(e.Notes, "the server has not loaded etcd yet: it answers SERVFAIL")
	}
	for _, n := range q.trace.names {
		en, err := h.explainName(ctx, n, e)
		if err != nil {
			return nil, err
		}
		e.Names = append(e.Names, en)
	}
	e.Answer = explain.Answer{Rcode: dns.RcodeToString[resp.Rcode], Answer: rrStrings(resp.Answer), Authority: rrStrings(resp.Ns)}
	if opt := resp.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if s, ok := o.(*dns.EDNS0_SUBNET); ok {
				scope := int(s.SourceScope)
				e.Answer.ECSScope = &scope
			}
		}
	}
	if len(e.Names) == 0 {
		e.Notes = append(e.Notes, "no address decision: the answer comes straight from the records (or there are none)")
	}
	return e, nil
}

func (h *Handler) explainClient(c client, r ExplainRequest) explain.Client {
	ec := explain.Client{Address: r.Client.String(), Key: fmt.Sprintf("%016x", h.key(c))}
	if r.ECS.IsValid() {
		ec.ECS = r.ECS.String()
	}
	if c.hasECS {
		ec.KeyFrom = "client subnet " + r.ECS.String()
	} else {
		bits := h.cfg.ClientMaskV6
		if c.addr.Is4() {
			bits = h.cfg.ClientMaskV4
		}
		p, _ := c.addr.Prefix(bits)
		ec.KeyFrom = "address masked to " + p.String()
	}
	top := h.store.Topology()
	switch site, scope := clientSite(top, c); {
	case top.Len() == 0:
		ec.SiteFrom = "no sites are defined"
	case c.hasECS && c.ecsBits == 0:
		ec.SiteFrom = "a client subnet of length 0 places no client"
	case site < 0:
		ec.SiteFrom = "no site's network holds the client"
	case c.hasECS:
		ec.Site = top.Name(site)
		ec.SiteFrom = fmt.Sprintf("client subnet, in a network of the site (scope /%d)", scope)
	default:
		ec.Site = top.Name(site)
		ec.SiteFrom = "address, in a network of the site"
	}
	return ec
}

func (h *Handler) explainName(ctx context.Context, n *nameTrace, e *explain.Explanation) (explain.Name, error) {
	en := explain.Name{Name: n.name, AliasTo: n.aliasTo, Records: []explain.Record{}, Health: []explain.Health{}, Steps: []explain.Step{}, ECSScope: n.scope}
	if n.aliasTo != "" {
		return en, nil
	}
	en.Policy = h.explainPolicy(n)
	if len(n.records) == 0 {
		return en, nil
	}
	keys, krev, err := h.store.RecordKeys(ctx, n.name)
	if err != nil {
		return en, fmt.Errorf("explain: record keys of %s: %w", n.name, err)
	}
	e.Revisions.Records = max(e.Revisions.Records, krev)
	// A name whose policy ignores sites was not placed: place it here, so
	// that every record shows its site all the same.
	placed := n.records
	if !n.sited && n.top.Len() > 0 {
		placed, _ = n.node.Placement(n.top).Family(n.v6)
	}
	var ips []netip.Addr
	for i, a := range n.records {
		rec := explain.Record{IP: a.IP().String(), Key: keys[a.KeyHash()], TTL: a.TTL, Weight: a.Weight,
			Priority: a.Priority, Port: a.Port, Duplicate: a.Dup()}
		if s := placed[i].Site(); s >= 0 {
			rec.Site = n.top.Name(s)
		}
		en.Records = append(en.Records, rec)
		if !a.Dup() {
			ips = append(ips, a.IP())
		}
	}
	details, hrev, err := h.store.StatusDetails(ctx, ips)
	if err != nil {
		return en, fmt.Errorf("explain: health of %s: %w", n.name, err)
	}
	e.Revisions.Health = max(e.Revisions.Health, hrev)
	for _, ip := range ips {
		st, check, byVerdict := h.store.StateFor(n.name, ip) // what Healthy read
		eh := explain.Health{IP: ip.String(), Status: st.String(), Checks: []explain.Check{},
			Served: st == health.Up || st == health.Unknown && h.cfg.ServeUnchecked}
		if byVerdict {
			// The name's own check differs from the IP's status.
			eh.Checks = append(eh.Checks, explain.Check{Check: check, Status: st.String()})
		}
		if d, ok := details[ip]; ok {
			if !d.Since.IsZero() {
				since := d.Since
				eh.Since = &since
			}
			eh.Reason, eh.Votes, eh.Override = d.Reason, d.Votes, d.Override
		}
		en.Health = append(en.Health, eh)
	}
	en.Steps = n.steps(h.cfg.ServeUnchecked)
	return en, nil
}

// steps renders the sets pick left, one step each.
func (n *nameTrace) steps(serveUnchecked bool) []explain.Step {
	steps := []explain.Step{{Step: "records", Addresses: addrStrings(n.records), Detail: "the name's " + dns.TypeToString[n.qtype] + " records"}}
	detail := "UP addresses (each once)"
	if serveUnchecked {
		detail = "UP addresses and those not checked yet (serve-unchecked), each once"
	}
	steps = append(steps, explain.Step{Step: "health", Addresses: addrStrings(n.healthy), Detail: detail})
	switch {
	case n.siteRan:
		steps = append(steps, explain.Step{Step: "site", Addresses: addrStrings(n.local), Detail: n.siteDetail()})
	case n.top.Len() == 0:
		steps = append(steps, explain.Step{Step: "site", Addresses: addrStrings(n.healthy), Detail: "skipped: no sites are defined"})
	case n.pol != nil && n.pol.Topology == policy.TopologyAny:
		steps = append(steps, explain.Step{Step: "site", Addresses: addrStrings(n.healthy), Detail: "skipped: the policy's topology is any"})
	case !n.sited:
		steps = append(steps, explain.Step{Step: "site", Addresses: addrStrings(n.healthy), Detail: "skipped: none of the name's addresses is in a site"})
	default:
		steps = append(steps, explain.Step{Step: "site", Addresses: addrStrings(n.healthy), Detail: "skipped: no healthy address"})
	}
	if n.down != "" {
		from := explain.FromDefault
		if n.pol != nil && n.pol.AllDown != policy.AllDownDefault {
			from = explain.FromPolicy
		}
		d := fmt.Sprintf("nothing healthy left: action %s (%s)", n.down, from)
		switch n.down {
		case policy.AllDownServfail:
			d += ": SERVFAIL"
		case policy.AllDownNone:
			d += ": no address (NODATA)"
		}
		steps = append(steps, explain.Step{Step: "all-down", Addresses: addrStrings(n.afterDown), Detail: d})
		if n.mode == policy.ModeDefault { // pick stopped here
			return steps
		}
	} else {
		steps = append(steps, explain.Step{Step: "all-down", Addresses: addrStrings(n.local0()), Detail: "skipped: some address is healthy"})
	}
	sel := explain.Step{Step: "selection", Addresses: addrStrings(n.selected), Detail: "mode " + string(n.mode)}
	switch n.mode {
	case policy.ModeRandom, policy.ModeWeighted:
		sel.Detail += fmt.Sprintf(": one of %d drawn anew on every query; this is one such draw", n.candidates)
	case policy.ModeHoldOne:
		sel.Detail += ": the highest rendezvous score for the client's key"
	case policy.ModePriority:
		sel.Detail += ": the lowest priority present, rotated; the order the next query gets"
	default:
		sel.Detail += ": rotated per answer; the order the next query gets"
	}
	steps = append(steps, sel)
	capDetail := "no cap"
	if n.limit > 0 {
		capDetail = fmt.Sprintf("at most %d", n.limit)
	}
	steps = append(steps, explain.Step{Step: "cap", Addresses: addrStrings(n.final), Detail: capDetail})
	return steps
}

// local0 is the set the site step left (the health filter's when it did
// not run).
func (n *nameTrace) local0() []zone.Addr {
	if n.siteRan {
		return n.local
	}
	return n.healthy
}

func (n *nameTrace) siteDetail() string {
	least := 1
	if n.pol != nil && n.pol.MinHealthy > 0 {
		least = n.pol.MinHealthy
	}
	name := func(i int) string { return n.top.Name(i) }
	switch n.site.step {
	case siteNoClientSite:
		return "the client is in no site: every healthy address"
	case siteAllOwn:
		return "every healthy address is in the client's site " + name(n.site.site)
	case siteOwn:
		return fmt.Sprintf("the client's site %s has at least %d healthy (min-healthy)", name(n.site.site), least)
	case siteFallback:
		return fmt.Sprintf("the client's site has fewer than %d healthy: fallback site %s", least, name(n.site.site))
	case siteOthers:
		return fmt.Sprintf("the client's site has fewer than %d healthy and no fallback list: the other sites", least)
	}
	return fmt.Sprintf("no site has %d healthy: anywhere", least)
}

func (h *Handler) explainPolicy(n *nameTrace) *explain.Policy {
	p := &explain.Policy{Key: h.store.PolicyKey(n.name), Present: n.pol != nil, Settings: []explain.Setting{}}
	pol := n.pol
	if !n.hasPolicy { // the name has no addresses: pick did not read it
		pol = h.store.Policy(n.name)
		p.Present = pol != nil
	}
	set := func(name, value string, fromPol bool) {
		from := explain.FromDefault
		if fromPol {
			from = explain.FromPolicy
		}
		p.Settings = append(p.Settings, explain.Setting{Name: name, Value: value, From: from})
	}
	var zero policy.Policy
	if pol == nil {
		pol = &zero
	}
	mode := h.cfg.DefaultMode
	if pol.Mode != policy.ModeDefault {
		mode = pol.Mode
	}
	set("mode", string(mode), pol.Mode != policy.ModeDefault)
	down := h.cfg.DefaultAllDown
	if pol.AllDown != policy.AllDownDefault {
		down = pol.AllDown
	}
	if down == "" {
		down = policy.AllDownAll
	}
	set("all-down", string(down), pol.AllDown != policy.AllDownDefault)
	limit := h.cfg.MaxAnswers
	if pol.MaxAnswers > 0 {
		limit = pol.MaxAnswers
	}
	set("max-answers", strconv.Itoa(limit), pol.MaxAnswers > 0)
	ttl := "the record's, else " + strconv.Itoa(int(h.cfg.TTL))
	if pol.TTL > 0 {
		ttl = strconv.Itoa(int(pol.TTL))
	}
	set("ttl", fmt.Sprintf("%s, at most %d (health-ttl-cap)", ttl, h.cfg.HealthTTLCap), pol.TTL > 0)
	topo := "local"
	if pol.Topology == policy.TopologyAny {
		topo = "any"
	}
	set("topology", topo, pol.Topology != policy.TopologyDefault)
	least := 1
	if pol.MinHealthy > 0 {
		least = pol.MinHealthy
	}
	set("min-healthy", strconv.Itoa(least), pol.MinHealthy > 0)
	if len(pol.Fallback) > 0 {
		set("fallback", strings.Join(pol.Fallback, " "), true)
	}
	return p
}

func addrStrings(as []zone.Addr) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.IP().String())
	}
	return out
}

func rrStrings(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, rr.String())
	}
	return out
}
