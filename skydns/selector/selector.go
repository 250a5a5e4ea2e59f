// Package selector chooses which of a name's healthy addresses go into an
// answer. Every function is pure: given the same healthy set (and client,
// for HoldOne) it gives the same result on every replica, which is what
// makes session persistence hold across restarts and across servers.
package selector

import (
	"math/rand/v2"
	"net/netip"

	"github.com/skydns/skydns/internal/rendezvous"
	"github.com/skydns/skydns/skydns/zone"
)

// Rotate appends as to dst starting at position n mod len(as): successive
// answers list the addresses in turn, spreading clients that take the first.
func Rotate(dst, as []zone.Addr, n uint64) []zone.Addr {
	if len(as) == 0 {
		return dst
	}
	i := int(n % uint64(len(as)))
	dst = append(dst, as[i:]...)
	return append(dst, as[:i]...)
}

// Random picks one address uniformly.
func Random(as []zone.Addr) zone.Addr { return as[rand.IntN(len(as))] }

// Weighted picks one address with probability proportional to its weight.
// Weight 0 counts as 1 when every weight is 0 (records that set none), and
// as never otherwise: an operator who weights some backends means the
// unweighted ones to get nothing while a weighted one is healthy.
func Weighted(as []zone.Addr) zone.Addr {
	var total uint64
	for _, a := range as {
		total += uint64(a.Weight)
	}
	if total == 0 {
		return Random(as)
	}
	r := rand.Uint64N(total)
	for _, a := range as {
		if r < uint64(a.Weight) {
			return a
		}
		r -= uint64(a.Weight)
	}
	return as[len(as)-1]
}

// Priority appends the addresses of the best (lowest) priority present:
// ordered failover, the next group serving only when the first is gone.
func Priority(dst, as []zone.Addr) []zone.Addr {
	if len(as) == 0 {
		return dst
	}
	best := as[0].Priority
	for _, a := range as[1:] {
		best = min(best, a.Priority)
	}
	for _, a := range as {
		if a.Priority == best {
			dst = append(dst, a)
		}
	}
	return dst
}

// HoldOne picks the address with the highest rendezvous score for the
// client. Removing an address moves only the clients that had it; adding
// it back returns exactly those clients.
func HoldOne(as []zone.Addr, client uint64) zone.Addr {
	best, bestScore := 0, uint64(0)
	for i, a := range as {
		if s := rendezvous.Mix(client ^ a.Hash()); i == 0 || s > bestScore {
			best, bestScore = i, s
		}
	}
	return as[best]
}

// ClientHash is the rendezvous key of a client network: the address masked
// to bits, and the prefix length, hashed with a fixed function so that
// every replica computes the same key.
func ClientHash(addr netip.Addr, bits int) uint64 {
	addr = addr.Unmap()
	if p, err := addr.Prefix(bits); err == nil {
		addr = p.Addr()
	}
	b := addr.As16()
	return rendezvous.Mix(rendezvous.FNV64a(rendezvous.FNV64a(rendezvous.Offset, b[:]), []byte{byte(bits)}))
}
