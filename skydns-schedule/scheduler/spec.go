package scheduler

import (
	"slices"

	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/policy"
)

// mergeSpec builds the one spec an IP is probed with from the checks of
// the names that use it (in name order; nil for a name without a check)
// and the ports in the IP's status key.
//
// Health is per IP (there is one status key per IP), so one IP is one
// target however many names use it, and their checks are combined so that
// each is honoured: the ports of all names; the status key's ports only
// when no name gives any; ICMP when any name asks for it, off when a name
// turns it off and none asks for it, else the agent's default; the HTTP
// check of the first name (by name) that has one, and so the DNS and the
// gRPC checks; and require all when any name requires all.
func mergeSpec(checks []*policy.Check, statusPorts []int) monitor.Spec {
	var s monitor.Spec
	icmpOn, icmpOff := false, false
	for _, c := range checks {
		if c == nil {
			continue
		}
		s.Ports = append(s.Ports, c.Ports...)
		if c.ICMP != nil {
			if *c.ICMP {
				icmpOn = true
			} else {
				icmpOff = true
			}
		}
		if s.HTTP == nil && c.HTTP != nil {
			h := *c.HTTP
			s.HTTP = &h
		}
		if s.DNS == nil && c.DNS != nil {
			d := *c.DNS
			s.DNS = &d
		}
		if s.GRPC == nil && c.GRPC != nil {
			g := *c.GRPC
			s.GRPC = &g
		}
		if c.Require == policy.RequireAll {
			s.Require = policy.RequireAll
		}
	}
	if len(s.Ports) == 0 {
		s.Ports = slices.Clone(statusPorts)
	}
	switch {
	case icmpOn:
		s.ICMP = ptr(true)
	case icmpOff:
		s.ICMP = ptr(false)
	}
	// Ports outside 1-65535 (from a status key nobody validated) would make
	// the job unreadable to the agent.
	s.Ports = slices.DeleteFunc(s.Ports, func(p int) bool { return p < 1 || p > 65535 })
	return s.Normalize()
}

func ptr[T any](v T) *T { return &v }
