// Package forward answers the questions SkyDNS is not authoritative for by
// asking other servers: the servers of the longest stub zone the name is in,
// or the default upstreams. Answers are cached for their TTL, and identical
// questions asked while one is already on the wire share its answer.
//
// See README.md for the options, the metrics and the cache policy.
package forward

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	defaultTimeout = 2 * time.Second
	defaultMaxTTL  = time.Hour
	// minTryTimeout keeps the share of the budget given to one server long
	// enough for a healthy server across a real network to answer.
	minTryTimeout = 250 * time.Millisecond
	// ednsSize is the UDP payload size advertised upstream and to callers:
	// 1232 bytes fit in the IPv6 minimum MTU, so replies are never
	// fragmented (DNS flag day 2020); larger answers come over TCP.
	ednsSize = 1232
	// defaultMaxQueries bounds the questions on the wire at once. Each
	// holds a socket and a goroutine for up to Timeout: a thousand of
	// them is 500 new names a second against a silent upstream, or tens
	// of thousands a second against one that answers.
	defaultMaxQueries = 1000
)

var (
	// ErrNoServers is returned (wrapped, with the name) when neither a stub
	// zone nor the upstreams give a server to ask.
	ErrNoServers = errors.New("forward: no servers")
	// ErrClosed is returned by Resolve after Close.
	ErrClosed = errors.New("forward: forwarder closed")
	// ErrBusy is returned (wrapped, with the name) when a question would
	// need a query of its own while MaxQueries are on the wire.
	ErrBusy = errors.New("forward: too many queries on the wire")
)

// Options configure a Forwarder. The zero value of each field has a usable
// default, except that there must be servers to forward to for Resolve to
// succeed.
type Options struct {
	// Upstreams are the default forwarders as "ip:port" or "ip" (port 53),
	// tried for names that are in no stub zone.
	Upstreams []string
	// StubZones maps a zone to the servers that answer for it, in the same
	// address form as Upstreams. Zone names are matched case-insensitively
	// and need not end in a dot.
	StubZones map[string][]string
	// Timeout is the whole time one question may take over all servers
	// and tries; 0 means 2s.
	Timeout time.Duration
	// CacheSize is the most answers kept; 0 disables the cache.
	CacheSize int
	// MaxQueries bounds the distinct questions on the wire at once;
	// beyond it Resolve fails at once with ErrBusy (identical questions
	// share one query and are always let through). 0 means 1000.
	MaxQueries int
	// MaxTTL caps how long an answer is cached and the TTLs handed out;
	// 0 means 1h.
	MaxTTL time.Duration
	// Registerer receives the metrics; nil means none are exported.
	Registerer prometheus.Registerer
	// Logger receives failures of upstream servers; nil discards them.
	Logger *slog.Logger

	// now lets the tests move the cache's clock; nil means time.Now. Only
	// the cache reads it: deadlines of network I/O always use real time.
	now func() time.Time
}

// Forwarder resolves questions by asking upstream servers. It is safe for
// concurrent use.
type Forwarder struct {
	upstreams *pool            // nil when there are none
	stubs     map[string]*pool // by lower-case FQDN zone
	timeout   time.Duration
	maxQ      int
	maxTTL    uint32 // seconds
	cache     *cache // nil when disabled
	flights   flightGroup
	m         *metrics
	log       *slog.Logger
	now       func() time.Time

	// ctx is cancelled by Close so that queries on the wire stop at once
	// rather than at the end of their budget.
	ctx    context.Context
	cancel context.CancelFunc
	closed atomic.Bool
}

// New checks the options and returns a Forwarder. Server addresses must be
// IP literals: the forwarder is the resolver, so it cannot look names up.
func New(o Options) (*Forwarder, error) {
	if o.Timeout < 0 {
		return nil, fmt.Errorf("forward: negative Timeout %v", o.Timeout)
	}
	if o.MaxTTL < 0 {
		return nil, fmt.Errorf("forward: negative MaxTTL %v", o.MaxTTL)
	}
	if o.CacheSize < 0 {
		return nil, fmt.Errorf("forward: negative CacheSize %d", o.CacheSize)
	}
	if o.MaxQueries < 0 {
		return nil, fmt.Errorf("forward: negative MaxQueries %d", o.MaxQueries)
	}
	maxTTL := cmp.Or(o.MaxTTL, defaultMaxTTL)
	if maxTTL < time.Second {
		return nil, fmt.Errorf("forward: MaxTTL %v is under the 1s resolution of DNS TTLs", maxTTL)
	}
	f := &Forwarder{
		stubs:   map[string]*pool{},
		timeout: cmp.Or(o.Timeout, defaultTimeout),
		maxQ:    cmp.Or(o.MaxQueries, defaultMaxQueries),
		// RFC 2181 §8: TTLs are at most 2^31-1 seconds.
		maxTTL: uint32(min(maxTTL/time.Second, math.MaxInt32)),
		log:    o.Logger,
		now:    o.now,
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if f.now == nil {
		f.now = time.Now
	}
	if len(o.Upstreams) > 0 {
		p, err := newPool(o.Upstreams)
		if err != nil {
			return nil, fmt.Errorf("forward: upstream %v", err)
		}
		f.upstreams = p
	}
	for zone, servers := range o.StubZones {
		name := dns.Fqdn(strings.ToLower(strings.TrimSpace(zone)))
		if _, ok := dns.IsDomainName(name); !ok {
			return nil, fmt.Errorf("forward: stub zone %q is not a domain name", zone)
		}
		if _, dup := f.stubs[name]; dup {
			return nil, fmt.Errorf("forward: stub zone %s listed twice", name)
		}
		if len(servers) == 0 {
			return nil, fmt.Errorf("forward: stub zone %s has no servers", name)
		}
		p, err := newPool(servers)
		if err != nil {
			return nil, fmt.Errorf("forward: stub zone %s: server %v", name, err)
		}
		f.stubs[name] = p
	}
	m, err := newMetrics(o.Registerer, f.flights.inFlight)
	if err != nil {
		return nil, err
	}
	f.m = m
	if o.CacheSize > 0 {
		f.cache = newCache(o.CacheSize, m.entries)
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	return f, nil
}

// serverAddr turns "ip", "[ipv6]" or "ip:port" into the "ip:port" form
// net.Dial takes, with port 53 when none is given.
func serverAddr(s string) (string, error) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return "", fmt.Errorf("%q: port 0", s)
		}
		return ap.String(), nil
	}
	host := s
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return "", fmt.Errorf("%q is not an IP address or ip:port", s)
	}
	return netip.AddrPortFrom(a, 53).String(), nil
}

// key identifies both a cache entry and a question on the wire. The DO bit
// is part of it because the answer differs: with DO it carries signatures.
type key struct {
	name   string // lower-case FQDN
	qtype  uint16
	qclass uint16
	do     bool
}

// Resolve answers req, a query with one question, from the cache or by
// forwarding it. The reply is a new message the caller owns, carrying req's
// ID and question; it may be larger than the client's UDP size, so the
// server must truncate it as for any other answer. An error means no
// server gave a usable answer: the caller should reply SERVFAIL.
func (f *Forwarder) Resolve(ctx context.Context, req *dns.Msg) (*dns.Msg, error) {
	if f.closed.Load() {
		return nil, ErrClosed
	}
	if len(req.Question) != 1 {
		return nil, fmt.Errorf("forward: request has %d questions, want 1", len(req.Question))
	}
	if req.Opcode != dns.OpcodeQuery {
		return nil, fmt.Errorf("forward: opcode %s is not forwarded", opcodeName(req.Opcode))
	}
	q := req.Question[0]
	if q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR {
		return nil, fmt.Errorf("forward: zone transfer of %s is not forwarded", q.Name)
	}
	k := key{name: dns.Fqdn(strings.ToLower(q.Name)), qtype: q.Qtype, qclass: q.Qclass}
	if opt := req.IsEdns0(); opt != nil {
		k.do = opt.Do()
	}

	if f.cache != nil {
		now := f.now()
		if e := f.cache.get(k, now); e != nil {
			f.m.hits.Inc()
			return newReply(e.msg, req, k.do, e.elapsed(now)), nil
		}
		f.m.misses.Inc()
	}

	p := f.route(k.name)
	if p == nil {
		return nil, fmt.Errorf("%w for %s", ErrNoServers, k.name)
	}
	c, leader := f.flights.join(k, f.maxQ)
	if c == nil {
		f.m.busy.Inc()
		return nil, fmt.Errorf("%w: %s %s", ErrBusy, k.name, typeName(k.qtype))
	}
	if leader {
		// The query runs apart from the caller's context: others may be
		// waiting for it, and a caller that gives up must not cancel it
		// for them.
		go f.lead(c, k, p)
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("forward: %s %s: %w", k.name, typeName(k.qtype), ctx.Err())
	}
	if c.err != nil {
		return nil, c.err
	}
	return newReply(c.msg, req, k.do, 0), nil
}

// lead runs the query of a flight, caches its answer and wakes the waiters.
func (f *Forwarder) lead(c *call, k key, p *pool) {
	msg, err := f.fetch(k, p)
	if err == nil && f.cache != nil {
		if ttl := cacheTTL(msg); ttl > 0 {
			f.cache.put(k, msg, f.now(), ttl)
		}
	}
	c.msg, c.err = msg, err
	// Cached before the flight ends, so that a question arriving in
	// between finds either the flight or the entry.
	f.flights.leave(k)
	close(c.done)
}

// route picks the servers for name (lower-case FQDN): those of the longest
// stub zone that contains it, else the upstreams.
func (f *Forwarder) route(name string) *pool {
	if len(f.stubs) > 0 {
		// Suffixes are tried from the longest, moving one label at a time,
		// so "example.org." never matches "badexample.org.".
		for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
			if p, ok := f.stubs[name[off:]]; ok {
				return p
			}
		}
		if p, ok := f.stubs["."]; ok {
			return p
		}
	}
	return f.upstreams
}

// Close stops the queries on the wire, empties the cache and makes later
// calls to Resolve fail with ErrClosed. Metrics stay registered so that
// counters carry on across a reload that builds a new Forwarder.
func (f *Forwarder) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	f.cancel()
	if f.cache != nil {
		f.cache.purge()
	}
	return nil
}

// newReply builds the caller's reply from src, an answer shared with other
// callers and the cache that must not be modified. TTLs are lowered by
// elapsed seconds, the time the answer spent in the cache.
func newReply(src, req *dns.Msg, do bool, elapsed uint32) *dns.Msg {
	// One allocation holds the message, its question and the OPT record,
	// because a cache hit should cost no more than copying the records.
	type bundle struct {
		msg dns.Msg
		q   [1]dns.Question
		opt dns.OPT
	}
	b := new(bundle)
	m := &b.msg
	m.MsgHdr = dns.MsgHdr{
		Id:                 req.Id,
		Response:           true,
		Opcode:             req.Opcode,
		Truncated:          src.Truncated,
		RecursionDesired:   req.RecursionDesired,
		RecursionAvailable: true,
		// RFC 6840 §5.8: AD only for a client that showed it understands it.
		AuthenticatedData: src.AuthenticatedData && (do || req.AuthenticatedData),
		CheckingDisabled:  req.CheckingDisabled,
		Rcode:             src.Rcode,
	}
	m.Compress = true
	b.q[0] = req.Question[0]
	m.Question = b.q[:]

	edns := req.IsEdns0() != nil
	na, nn, nx := len(src.Answer), len(src.Ns), len(src.Extra)
	if edns {
		nx++
	}
	rrs := make([]dns.RR, na+nn+nx)
	// Each section is capped at its length, so a caller appending to one
	// reallocates instead of overwriting the next.
	m.Answer = copyRRs(rrs[:na:na], src.Answer, elapsed)
	m.Ns = copyRRs(rrs[na:na+nn:na+nn], src.Ns, elapsed)
	m.Extra = copyRRs(rrs[na+nn:], src.Extra, elapsed)
	if edns {
		b.opt.Hdr = dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}
		b.opt.SetUDPSize(ednsSize)
		b.opt.SetDo(do)
		m.Extra[nx-1] = &b.opt
	}
	return m
}

func copyRRs(dst, src []dns.RR, elapsed uint32) []dns.RR {
	for i, rr := range src {
		c := dns.Copy(rr)
		h := c.Header()
		h.Ttl = max(h.Ttl, elapsed) - elapsed
		dst[i] = c
	}
	return dst
}

func typeName(t uint16) string {
	if s, ok := dns.TypeToString[t]; ok {
		return s
	}
	return fmt.Sprintf("TYPE%d", t)
}

func rcodeName(rc int) string {
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return fmt.Sprintf("RCODE%d", rc)
}

func opcodeName(op int) string {
	if s, ok := dns.OpcodeToString[op]; ok {
		return s
	}
	return fmt.Sprintf("OPCODE%d", op)
}
