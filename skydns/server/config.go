// Package server answers DNS queries: from the zone store for the served
// zones, with health filtering and selection, and through a forwarder for
// other names when the client may recurse.
package server

import (
	"context"
	"net/netip"
	"time"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/internal/policy"
)

// Config is the answering behaviour; the daemon fills it from skydns.conf.
type Config struct {
	TTL          uint32 // records that set none
	HealthTTLCap uint32 // most TTL of an address answer, so clients see health changes soon
	NegativeTTL  uint32 // NXDOMAIN/NODATA, the SOA minimum
	// ServeUnchecked serves IPs that have no health status yet.
	ServeUnchecked bool
	DefaultMode    policy.Mode    // when a name's policy sets none
	DefaultAllDown policy.AllDown // when a name's policy sets none
	MaxAnswers     int            // 0: no cap
	// ClientMaskV4 and ClientMaskV6 group clients for hold-one (32 and 128:
	// each address on its own; 0 would put every client in one group).
	ClientMaskV4 int
	ClientMaskV6 int
	// AllowRecursion lists the client networks that may use the forwarder.
	AllowRecursion []netip.Prefix
	// AllowPTR lists the client networks that get PTR answers for the
	// zones' IPs; for others a reverse name is outside the zones. nil:
	// nobody.
	AllowPTR []netip.Prefix
	// StubZones are the zones (inDomainServers) whose names the forwarder
	// sends to their own servers. One inside a served zone takes its names
	// from it (longest match wins); case and the trailing dot do not matter.
	StubZones []string
	// Forwarder resolves names outside the zones; nil: none.
	Forwarder Resolver
	// ForwardTimeout bounds one forwarded query.
	ForwardTimeout time.Duration
	// MaxUDPSize is the EDNS0 payload size advertised and the most sent
	// over UDP. Default 1232 (no IP fragmentation on common paths).
	MaxUDPSize uint16
	// UDPReceiveBuffer is each UDP socket's receive buffer in bytes, so a
	// burst that arrives while the server is off its CPU waits instead of
	// being dropped; 0: the kernel's default (about 208 KiB).
	UDPReceiveBuffer int
	// MaxTCPConns caps the TCP connections open at once; more are closed
	// as soon as accepted. 0: 1000.
	MaxTCPConns int
	// TCPReadTimeout is how long a new TCP connection has to deliver its
	// first whole message, TCPIdleTimeout how long it may then wait for
	// the next, TCPWriteTimeout how long an answer may take to leave (a
	// client that does not read is then cut off). 0: 2s, 10s and 2s.
	TCPReadTimeout  time.Duration
	TCPIdleTimeout  time.Duration
	TCPWriteTimeout time.Duration
	// MaxSlowQueries caps the UDP queries on the reference path at once
	// (each a goroutine, which may wait for a forwarder); a datagram
	// beyond is dropped. 0: 10000.
	MaxSlowQueries int
}

// Resolver answers a query for a name outside the zones.
type Resolver interface {
	Resolve(ctx context.Context, req *dns.Msg) (*dns.Msg, error)
}

const (
	defaultMaxUDP = 1232
	maxCNAMEDepth = 8
	// defaultMaxSlowQueries: ten thousand goroutines are some 80 MB at
	// worst, and ten times the default max-forward-queries, so that
	// waiting on the forwarder alone does not fill them.
	defaultMaxSlowQueries = 10000
)

func (c *Config) setDefaults() {
	if c.TTL == 0 {
		c.TTL = 30
	}
	if c.MaxUDPSize == 0 {
		c.MaxUDPSize = defaultMaxUDP
	}
	if c.DefaultMode == policy.ModeDefault {
		c.DefaultMode = policy.ModeAll
	}
	if c.DefaultAllDown == policy.AllDownDefault {
		c.DefaultAllDown = policy.AllDownAll
	}
	if c.MaxTCPConns <= 0 {
		c.MaxTCPConns = defaultMaxTCPConns
	}
	if c.TCPReadTimeout <= 0 {
		c.TCPReadTimeout = defaultTCPReadTimeout
	}
	if c.TCPIdleTimeout <= 0 {
		c.TCPIdleTimeout = defaultTCPIdleTimeout
	}
	if c.TCPWriteTimeout <= 0 {
		c.TCPWriteTimeout = defaultTCPWriteTimeout
	}
	if c.MaxSlowQueries <= 0 {
		c.MaxSlowQueries = defaultMaxSlowQueries
	}
	if c.ForwardTimeout == 0 {
		c.ForwardTimeout = 2 * time.Second
	}
}
