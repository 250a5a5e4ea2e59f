package server

import (
	"strings"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/skydns/zone"
)

// Stub zones (inDomainServers) may lie inside a served zone: the operator
// delegates part of our own domain to other servers. The longest match
// between served zones and stub zones decides who answers a name; a stub
// zone equal to a served zone takes it all (the operator named it as
// delegated, and the original checked its stubs before its own data).
//
// Only stub zones inside a served zone need a look here: the others hold
// names that are in no served zone, which the forwarder routes already. So
// a server without such stubs pays one length check per query.

// innerStubs is what the handler knows of the stub zones that lie inside
// (or at the apex of) a served zone.
type innerStubs struct {
	zones map[string]struct{} // lower-case FQDNs
	// above holds the names strictly between a served zone's apex and a
	// stub zone inside it: they exist (the stub's names are below them),
	// so they are empty non-terminals, never NXDOMAIN, which a resolver
	// following RFC 8020 would take for the whole subtree.
	above map[string]struct{}
}

func newInnerStubs(stubs []string, store *zone.Store) innerStubs {
	var s innerStubs
	for _, name := range stubs {
		name = dns.Fqdn(strings.ToLower(strings.TrimSpace(name)))
		z := store.ZoneOf(name)
		if z == nil {
			continue
		}
		if s.zones == nil {
			s.zones, s.above = map[string]struct{}{}, map[string]struct{}{}
		}
		s.zones[name] = struct{}{}
		for off, end := dns.NextLabel(name, 0); !end && len(name)-off > len(z.Origin); off, end = dns.NextLabel(name, off) {
			s.above[name[off:]] = struct{}{}
		}
	}
	return s
}

// zoneOf returns the served zone that answers name (lower case, fully
// qualified), or nil when no served zone does or a stub zone inside one is
// the longer match: then the name is the stub's servers' to answer.
func (h *Handler) zoneOf(name string) *zone.Zone {
	z := h.servedZoneOf(name)
	if z == nil || len(h.stubs.zones) == 0 {
		return z
	}
	for off, end := 0, false; !end; off, end = dns.NextLabel(name, off) {
		suffix := name[off:]
		if _, ok := h.stubs.zones[suffix]; ok {
			return nil
		}
		if len(suffix) <= len(z.Origin) {
			break
		}
	}
	return z
}

// aboveStub reports whether name is an empty non-terminal made by a stub
// zone below it.
func (h *Handler) aboveStub(name string) bool {
	_, ok := h.stubs.above[name]
	return ok
}
