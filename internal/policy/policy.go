// Package policy holds the per-name GSLB policy stored at
// <prefix>/policy/<name>, e.g. /skydns/policy/cctv2.skydns.local: how the DNS
// server selects among a name's healthy IPs, what it answers when none is
// healthy, and what the health checkers probe. A name without a policy key
// gets the servers' configured defaults; a field left out does too.
package policy

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/internal/record"
)

// Mode is how a name's healthy IPs are chosen.
type Mode string

const (
	ModeDefault  Mode = ""         // the server's [Fun] setting
	ModeAll      Mode = "all"      // every healthy IP, rotated per answer
	ModeRandom   Mode = "random"   // one healthy IP at random
	ModeWeighted Mode = "weighted" // one healthy IP, chance proportional to its record's weight
	ModePriority Mode = "priority" // the healthy IPs of the lowest priority value (ordered failover)
	ModeHoldOne  Mode = "hold-one" // one healthy IP per client, stable (session persistence)
)

// AllDown is what to answer when no IP of a name is healthy.
type AllDown string

const (
	AllDownDefault  AllDown = ""         // the server's configured default
	AllDownAll      AllDown = "all"      // every IP anyway (fail open, like Route 53)
	AllDownNone     AllDown = "none"     // no address: NODATA
	AllDownServfail AllDown = "servfail" // SERVFAIL
	AllDownFallback AllDown = "fallback" // the Fallback IPs
)

// Topology is whether a name's answers depend on the client's site.
type Topology string

const (
	TopologyDefault Topology = ""      // local wherever at least one site exists
	TopologyLocal   Topology = "local" // the client's site first, then its fallbacks
	TopologyAny     Topology = "any"   // this name ignores sites
)

// Require says how many probes must pass for an IP to be UP.
type Require string

const (
	RequireAny Require = "any" // one passing check is enough (default)
	RequireAll Require = "all" // every configured check must pass
)

// HTTPCheck is an HTTP(S) GET probe.
type HTTPCheck struct {
	Scheme string `json:"scheme,omitempty"` // http (default) or https
	Port   int    `json:"port,omitempty"`   // default 80 / 443
	Path   string `json:"path,omitempty"`   // default /
	Host   string `json:"host,omitempty"`   // Host header; default the IP
	Expect int    `json:"expect,omitempty"` // status code; default 200
	// Match must appear in the first MaxMatchBody bytes of the body.
	Match string `json:"match,omitempty"`
	// TLSVerify checks the certificate's chain and name (https only).
	TLSVerify bool `json:"tls-verify,omitempty"`
	// MinCertDays fails a certificate that expires within this many days
	// (https only; with or without TLSVerify).
	MinCertDays int `json:"min-cert-days,omitempty"`
}

// DNSCheck is a DNS query to the backend, which must answer NOERROR with
// at least one record of the type asked.
type DNSCheck struct {
	Port int    `json:"port,omitempty"` // default 53
	Name string `json:"name"`           // the name asked, fully qualified
	Type string `json:"type,omitempty"` // record type; default A
}

// GRPCCheck is the standard grpc.health.v1 check, which must say SERVING.
type GRPCCheck struct {
	Port    int    `json:"port"`              // the gRPC port
	Service string `json:"service,omitempty"` // "" asks for the server as a whole
}

// Check is what the scanners probe on each IP of the name.
type Check struct {
	Ports   []int      `json:"ports,omitempty"` // TCP connect on each
	ICMP    *bool      `json:"icmp,omitempty"`  // echo; nil = scanner default
	HTTP    *HTTPCheck `json:"http,omitempty"`
	DNS     *DNSCheck  `json:"dns,omitempty"`
	GRPC    *GRPCCheck `json:"grpc,omitempty"`
	Require Require    `json:"require,omitempty"`
}

// Policy is the JSON value of a policy key. Zero fields mean "default".
type Policy struct {
	Mode       Mode     `json:"mode,omitempty"`
	MaxAnswers int      `json:"max-answers,omitempty"`
	TTL        uint32   `json:"ttl,omitempty"`
	AllDown    AllDown  `json:"all-down,omitempty"`
	Fallback   []string `json:"fallback,omitempty"`
	Check      *Check   `json:"check,omitempty"`
	Topology   Topology `json:"topology,omitempty"`
	// MinHealthy is how many of the name's IPs in a site must be healthy
	// for the site to serve the name; 0 means 1.
	MinHealthy int `json:"min-healthy,omitempty"`
}

// Decode parses and validates a policy value. Unknown fields are ignored, so
// that newer writers do not break older servers.
func Decode(b []byte) (Policy, error) {
	var p Policy
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("policy: %w", err)
	}
	return p, p.Validate()
}

// Validate reports the first field that makes no sense.
func (p Policy) Validate() error {
	switch p.Mode {
	case ModeDefault, ModeAll, ModeRandom, ModeWeighted, ModePriority, ModeHoldOne:
	default:
		return fmt.Errorf("policy: mode %q: want all, random, weighted, priority or hold-one", p.Mode)
	}
	switch p.Topology {
	case TopologyDefault, TopologyLocal, TopologyAny:
	default:
		return fmt.Errorf("policy: topology %q: want local or any", p.Topology)
	}
	if p.MinHealthy < 0 {
		return fmt.Errorf("policy: min-healthy %d: must not be negative", p.MinHealthy)
	}
	if p.MaxAnswers < 0 {
		return fmt.Errorf("policy: max-answers %d: must not be negative", p.MaxAnswers)
	}
	switch p.AllDown {
	case AllDownDefault, AllDownAll, AllDownNone, AllDownServfail:
	case AllDownFallback:
		if len(p.Fallback) == 0 {
			return fmt.Errorf("policy: all-down fallback needs fallback IPs")
		}
	default:
		return fmt.Errorf("policy: all-down %q: want all, none, servfail or fallback", p.AllDown)
	}
	if len(p.Fallback) > MaxFallback {
		return fmt.Errorf("policy: %d fallback IPs: at most %d", len(p.Fallback), MaxFallback)
	}
	for _, s := range p.Fallback {
		// The rules of a record's address: served to clients, a
		// fallback must be a host's.
		ip, err := record.ParseIP(s)
		if err == nil {
			err = record.CheckHostAddr(ip)
		}
		if err != nil {
			return fmt.Errorf("policy: fallback %q: %s", s, strings.TrimPrefix(err.Error(), "record: "))
		}
	}
	if c := p.Check; c != nil {
		if len(c.Ports) > MaxCheckPorts {
			return fmt.Errorf("policy: %d check ports: at most %d", len(c.Ports), MaxCheckPorts)
		}
		for _, port := range c.Ports {
			if port < 1 || port > 65535 {
				return fmt.Errorf("policy: check port %d: want 1-65535", port)
			}
		}
		switch c.Require {
		case "", RequireAny, RequireAll:
		default:
			return fmt.Errorf("policy: check require %q: want any or all", c.Require)
		}
		if h := c.HTTP; h != nil {
			if h.Scheme != "" && h.Scheme != "http" && h.Scheme != "https" {
				return fmt.Errorf("policy: http scheme %q: want http or https", h.Scheme)
			}
			if h.Port < 0 || h.Port > 65535 {
				return fmt.Errorf("policy: http port %d: want 1-65535", h.Port)
			}
			if h.Expect != 0 && (h.Expect < 100 || h.Expect > 599) {
				return fmt.Errorf("policy: http expect %d: not an HTTP status", h.Expect)
			}
			// Both go into the probe's request line and headers.
			if err := checkHeaderText("host", h.Host, maxHTTPHost); err != nil {
				return err
			}
			if err := checkHeaderText("path", h.Path, maxHTTPPath); err != nil {
				return err
			}
			if len(h.Match) > maxHTTPMatch || !utf8.ValidString(h.Match) {
				return fmt.Errorf("policy: http match: want UTF-8 of at most %d bytes", maxHTTPMatch)
			}
			if h.Scheme != "https" && (h.TLSVerify || h.MinCertDays != 0) {
				return fmt.Errorf("policy: http tls-verify and min-cert-days need scheme https")
			}
			if h.MinCertDays < 0 || h.MinCertDays > maxCertDays {
				return fmt.Errorf("policy: http min-cert-days %d: want 0-%d", h.MinCertDays, maxCertDays)
			}
		}
		if d := c.DNS; d != nil {
			if d.Port < 0 || d.Port > 65535 {
				return fmt.Errorf("policy: dns port %d: want 1-65535", d.Port)
			}
			if _, ok := dns.IsDomainName(d.Name); !ok || !dns.IsFqdn(d.Name) || len(d.Name) > 254 {
				return fmt.Errorf("policy: dns name %q: want a fully qualified name", d.Name)
			}
			if _, ok := DNSType(d.Type); !ok {
				return fmt.Errorf("policy: dns type %q: not a record type", d.Type)
			}
		}
		if g := c.GRPC; g != nil {
			if g.Port < 1 || g.Port > 65535 {
				return fmt.Errorf("policy: grpc port %d: want 1-65535", g.Port)
			}
			if len(g.Service) > maxGRPCService || !utf8.ValidString(g.Service) {
				return fmt.Errorf("policy: grpc service: want UTF-8 of at most %d bytes", maxGRPCService)
			}
		}
	}
	return nil
}

// DNSType is the record type of a DNS check ("" is A), and whether it is
// one a query can ask for.
func DNSType(s string) (uint16, bool) {
	if s == "" {
		return dns.TypeA, true
	}
	t, ok := dns.StringToType[strings.ToUpper(s)]
	if !ok || t == dns.TypeNone || t == dns.TypeOPT || t == dns.TypeAXFR || t == dns.TypeIXFR || t == dns.TypeANY {
		return 0, false
	}
	return t, true
}

// Bounds on a policy's lists and texts. A policy is read by every DNS
// server and scanner, and each check port is probed on every address of
// the name, so a list has to stay small.
const (
	MaxFallback   = 64
	MaxCheckPorts = 64
	maxHTTPHost   = 253  // a DNS name, or an address with a port
	maxHTTPPath   = 1024 // far more than a health path needs
	// A match is looked for in the first MaxMatchBody bytes only, so it
	// can be no longer than that; 1 KiB is far more than a marker needs.
	maxHTTPMatch   = 1024
	maxCertDays    = 3650
	maxGRPCService = 1024
	// MaxMatchBody is how much of a body an HTTP check reads at most when
	// it looks for its match (Route 53 reads 5,120 bytes).
	MaxMatchBody = 64 << 10
)

// checkHeaderText refuses what would break out of the HTTP request of a
// check: control characters (CR and LF among them), spaces, bytes that are
// not UTF-8, and overlong values.
func checkHeaderText(field, s string, maxLen int) error {
	if len(s) > maxLen {
		return fmt.Errorf("policy: http %s is longer than %d bytes", field, maxLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("policy: http %s %q is not UTF-8", field, s)
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || unicode.IsControl(r) {
			return fmt.Errorf("policy: http %s %q has a control character or space", field, s)
		}
	}
	return nil
}

// FallbackIPs returns the parsed fallback addresses (Validate has checked them).
func (p Policy) FallbackIPs() []netip.Addr {
	var ips []netip.Addr
	for _, s := range p.Fallback {
		if ip, err := netip.ParseAddr(s); err == nil {
			ips = append(ips, ip.Unmap())
		}
	}
	return ips
}

// Key is the policy key of a name: <prefix>/policy/<name without final dot>.
func Key(prefix, name string) string {
	return strings.TrimSuffix(prefix, "/") + "/policy/" + strings.TrimSuffix(strings.ToLower(name), ".")
}

// Prefix holds every policy key.
func Prefix(prefix string) string { return strings.TrimSuffix(prefix, "/") + "/policy/" }

// ParseKey returns the fully-qualified, lower-case name a policy key is for.
func ParseKey(prefix, key string) (string, error) {
	name, ok := strings.CutPrefix(key, Prefix(prefix))
	name = strings.Trim(name, "/.")
	if !ok || name == "" || strings.Contains(name, "/") {
		return "", fmt.Errorf("policy: key %q is not <prefix>/policy/<name>", key)
	}
	return strings.ToLower(name) + ".", nil
}
