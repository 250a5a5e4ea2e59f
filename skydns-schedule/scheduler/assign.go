package scheduler

import (
	"cmp"
	"hash/fnv"
	"net/netip"
	"slices"
)

// score is the rendezvous (highest random weight) hash of agent for ip.
// Each IP ranks every agent by score and takes the top R, so an agent that
// joins takes from each IP only the places where it now ranks in the top R
// (about R/N of them), and an agent that leaves frees only its own places.
// The hash is fixed (FNV-1a, then a 64-bit finalizer for avalanche), never
// seeded, so that every leader, now and after a failover, computes the same
// assignment and a new leader moves nothing.
func score(agent string, ip netip.Addr) uint64 {
	h := fnv.New64a()
	h.Write([]byte(agent))
	h.Write([]byte{0})
	b := ip.As16()
	h.Write(b[:])
	return mix(h.Sum64())
}

// mix is the splitmix64 finalizer.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// pick returns the r agents (of agents, which has no duplicates) that
// rank highest for ip, best first.
func pick(ip netip.Addr, agents []string, r int) []string {
	if r <= 0 || len(agents) == 0 {
		return nil
	}
	type ranked struct {
		agent string
		score uint64
	}
	rs := make([]ranked, len(agents))
	for i, a := range agents {
		rs[i] = ranked{a, score(a, ip)}
	}
	slices.SortFunc(rs, func(x, y ranked) int {
		if c := cmp.Compare(y.score, x.score); c != 0 {
			return c
		}
		return cmp.Compare(x.agent, y.agent)
	})
	out := make([]string, min(r, len(rs)))
	for i := range out {
		out[i] = rs[i].agent
	}
	return out
}
