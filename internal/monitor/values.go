package monitor

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/skydns/skydns/internal/policy"
)

// Spec is the value of a job key: what an agent probes on the IP.
//
// An empty spec is valid: the agent then probes its default-scann-ports
// (and ICMP when its enable-icmp says so). Fields mean what they mean in a
// policy's check (internal/policy), because that is where they come from.
type Spec struct {
	Ports   []int             `json:"ports,omitempty"`   // TCP connect on each
	ICMP    *bool             `json:"icmp,omitempty"`    // nil: the agent's enable-icmp
	HTTP    *policy.HTTPCheck `json:"http,omitempty"`    // HTTP(S) GET
	DNS     *policy.DNSCheck  `json:"dns,omitempty"`     // DNS query
	GRPC    *policy.GRPCCheck `json:"grpc,omitempty"`    // grpc.health.v1
	Require policy.Require    `json:"require,omitempty"` // any (default) or all
}

// Normalize sorts and de-duplicates the ports, so that equal specs encode
// to equal bytes and the schedule can compare jobs as strings.
func (s Spec) Normalize() Spec {
	if len(s.Ports) > 0 {
		ports := slices.Clone(s.Ports)
		slices.Sort(ports)
		s.Ports = slices.Compact(ports)
	}
	if s.Require == policy.RequireAny {
		s.Require = ""
	}
	if s.HTTP != nil {
		h := *s.HTTP
		s.HTTP = &h
	}
	if s.DNS != nil {
		d := *s.DNS
		s.DNS = &d
	}
	if s.GRPC != nil {
		g := *s.GRPC
		s.GRPC = &g
	}
	if s.ICMP != nil {
		b := *s.ICMP
		s.ICMP = &b
	}
	return s
}

// Validate reports the first field an agent could not probe.
func (s Spec) Validate() error {
	c := policy.Check{Ports: s.Ports, ICMP: s.ICMP, HTTP: s.HTTP, DNS: s.DNS, GRPC: s.GRPC, Require: s.Require}
	if err := (policy.Policy{Check: &c}).Validate(); err != nil {
		return fmt.Errorf("monitor: spec: %w", err)
	}
	return nil
}

// Encode returns the canonical JSON of s.
func (s Spec) Encode() []byte {
	// Only ints, bools and strings: Marshal cannot fail.
	b, _ := json.Marshal(s.Normalize())
	return b
}

// DecodeSpec parses and validates a job value. Unknown fields are ignored
// so that a newer schedule does not break older agents.
func DecodeSpec(b []byte) (Spec, error) {
	var s Spec
	if err := json.Unmarshal(b, &s); err != nil {
		return Spec{}, fmt.Errorf("monitor: spec: %w", err)
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s.Normalize(), nil
}

// Heartbeat is the value of an agent's key. The key's existence is what
// says the agent lives (it is on the agent's lease); the value only
// describes it.
type Heartbeat struct {
	// Idle is true when the agent runs with enable-check = false: it is
	// alive but probes nothing, so it must get no jobs.
	Idle    bool      `json:"idle,omitempty"`
	TTL     int64     `json:"ttl,omitempty"` // the lease's TTL in seconds
	Started time.Time `json:"started,omitzero"`
	Version string    `json:"version,omitempty"`
	// Site is the site the agent probes from ([General] site), a key
	// under <etcd-prefix>/topology/; the schedule gives it the targets of
	// that site first. Empty: no site.
	Site string `json:"site,omitempty"`
}

// Encode returns the JSON of h.
func (h Heartbeat) Encode() []byte {
	b, _ := json.Marshal(h) // cannot fail: plain fields only
	return b
}

// DecodeHeartbeat parses a heartbeat. A value it cannot read (an older
// agent's timestamp, say) describes an agent that probes: the key's
// presence is the contract, the value a courtesy.
func DecodeHeartbeat(b []byte) Heartbeat {
	var h Heartbeat
	if json.Unmarshal(b, &h) != nil {
		return Heartbeat{}
	}
	return h
}

// MergeSpec builds the one spec an IP is probed with from the checks of
// the names that use it (in name order; nil for a name without a check)
// and the ports in the IP's status key.
//
// The schedule builds each name's spec with one check (NameSpec): a target
// is one check of an IP. Combined, the checks are each honoured: the
// ports of all names; the status key's ports only
// when no name gives any; ICMP when any name asks for it, off when a name
// turns it off and none asks for it, else the agent's default; the HTTP
// check of the first name (by name) that has one; and require all when
// any name requires all.
func MergeSpec(checks []*policy.Check, statusPorts []int) Spec {
	var s Spec
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
		s.ICMP = boolPtr(true)
	case icmpOff:
		s.ICMP = boolPtr(false)
	}
	// Ports outside 1-65535 (from a status key nobody validated) would make
	// the job unreadable to the agent.
	s.Ports = slices.DeleteFunc(s.Ports, func(p int) bool { return p < 1 || p > 65535 })
	return s.Normalize()
}

// NameSpec is the spec a name is probed with: its policy's check (nil: the
// agents' defaults), and the ports of the IP's status key when the check
// gives none. Its CheckID names the name's target on each of its IPs.
func NameSpec(c *policy.Check, statusPorts []int) Spec {
	return MergeSpec([]*policy.Check{c}, statusPorts)
}

func boolPtr(b bool) *bool { return &b }
