package scheduler

import (
	"cmp"
	"net/netip"
	"slices"

	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/rendezvous"
)

// score is the rendezvous (highest random weight) hash of agent for ip.
// Each IP ranks every agent by score and takes the top R, so an agent that
// joins takes from each IP only the places where it now ranks in the top R
// (about R/N of them), and an agent that leaves frees only its own places.
// The hash is fixed (FNV-1a, then a 64-bit finalizer for avalanche), never
// seeded, so that every leader, now and after a failover, computes the same
// assignment and a new leader moves nothing.
//
// A target is one check of an IP: the default check hashes the IP alone,
// as before targets had checks, so that an upgrade moves none of them;
// any other check hashes its id too, so that the checks of one IP spread
// over the agents like any other targets.
func score(agent string, ip netip.Addr, check string) uint64 {
	h := rendezvous.FNV64a(rendezvous.Offset, []byte(agent))
	h = rendezvous.FNV64a(h, []byte{0})
	b := ip.As16()
	h = rendezvous.FNV64a(h, b[:])
	if check != "" && check != monitor.DefaultCheck {
		h = rendezvous.FNV64a(h, []byte{0})
		h = rendezvous.FNV64a(h, []byte(check))
	}
	return rendezvous.Mix(h)
}

// pick returns the r agents (of agents, which has no duplicates) that
// rank highest for check on ip, best first.
func pick(ip netip.Addr, check string, agents []string, r int) []string {
	if r <= 0 || len(agents) == 0 {
		return nil
	}
	type ranked struct {
		agent string
		score uint64
	}
	rs := make([]ranked, len(agents))
	for i, a := range agents {
		rs[i] = ranked{a, score(a, ip, check)}
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

// pickSited is pick with sites: a target in a site is checked by the
// agents of that site first (probing from nearby: the path a client of the
// site takes), ranked among themselves by rendezvous, and when the site has
// fewer than r of them the rest of the places go to the other agents,
// ranked the same way, so that the quorum of r holds wherever the agents
// are. site is the target's site ("" for none) and siteOf an agent's. With
// no site, or no agent in it, this is exactly pick.
func pickSited(ip netip.Addr, check string, agents []string, r int, site string, siteOf func(agent string) string) []string {
	if site == "" {
		return pick(ip, check, agents, r)
	}
	var local, other []string
	for _, a := range agents {
		if siteOf(a) == site {
			local = append(local, a)
		} else {
			other = append(other, a)
		}
	}
	if len(local) == 0 {
		return pick(ip, check, agents, r)
	}
	out := pick(ip, check, local, r)
	if len(out) < r {
		out = append(out, pick(ip, check, other, r-len(out))...)
	}
	return out
}
