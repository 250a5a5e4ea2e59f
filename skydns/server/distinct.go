package server

import (
	"strings"

	"github.com/miekg/dns"
)

// An RRset holds no identical records (RFC 2181 §5), but etcd may: two
// keys with the same data under two ids, as ExternalDNS leaves an old and
// a new TXT ownership record, or two writers publishing one target.
// Addresses are made distinct by zone.Store.Healthy; distinct does it for
// every other answer.

// smallSet is the most records compared pair by pair; larger sets go
// through a map, so that a name with many records costs linear time.
const smallSet = 16

// distinct drops from rrs each record that repeats an earlier one (same
// owner, class, type and data; names compared without case) and returns
// the shortened slice, in the original order. The copy kept gets the lower
// TTL of the two, so that no cache keeps it longer than either record says.
func distinct(rrs []dns.RR) []dns.RR {
	if len(rrs) < 2 {
		return rrs
	}
	var seen map[string][]dns.RR // by rdata in lower case; dns.IsDuplicate decides
	if len(rrs) > smallSet {
		seen = make(map[string][]dns.RR, len(rrs))
	}
	out := rrs[:0]
	for _, rr := range rrs {
		candidates := out
		var key string
		if seen != nil {
			key = strings.ToLower(strings.TrimPrefix(rr.String(), rr.Header().String()))
			candidates = seen[key]
		}
		if kept := duplicateOf(candidates, rr); kept != nil {
			if t := rr.Header().Ttl; t < kept.Header().Ttl {
				kept.Header().Ttl = t
			}
			continue
		}
		out = append(out, rr)
		if seen != nil {
			seen[key] = append(seen[key], rr)
		}
	}
	clear(rrs[len(out):]) // no stale pointers past the end
	return out
}

func duplicateOf(set []dns.RR, rr dns.RR) dns.RR {
	for _, o := range set {
		if dns.IsDuplicate(o, rr) {
			return o
		}
	}
	return nil
}
