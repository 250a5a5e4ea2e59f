// Package topology holds the sites of a GSLB: the keys
// <prefix>/topology/<site>, their JSON value, and the compiled
// longest-prefix-match table that places a client or a backend IP in a site.
//
// A site's value is {"networks": [...], "fallback": [...]}: the address
// ranges located in the site, and the sites to try, in order, when the site
// cannot serve a name (absent or empty: all other sites together).
package topology

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Site is the JSON value of a topology key.
type Site struct {
	Networks []string `json:"networks,omitempty"`
	Fallback []string `json:"fallback,omitempty"`
}

// Decode parses and validates a site value: every network a CIDR, every
// fallback a site name, the site not its own fallback. Networks with host
// bits set are masked (198.51.100.7/24 is 198.51.100.0/24): the range meant
// is clear, and refusing it would take a site out of service for a typo
// that harms nothing. Unknown fields are ignored, for newer writers.
func Decode(name string, b []byte) (Site, error) {
	var s Site
	if err := json.Unmarshal(b, &s); err != nil {
		return Site{}, fmt.Errorf("topology: site %q: %w", name, err)
	}
	if err := s.normalize(name); err != nil {
		return Site{}, err
	}
	return s, nil
}

// Encode validates and normalizes s the way Decode does and returns its
// JSON, so that nothing is stored that Decode would refuse.
func (s Site) Encode(name string) ([]byte, error) {
	if err := s.normalize(name); err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// normalize checks s and rewrites its networks in canonical, masked form.
func (s *Site) normalize(name string) error {
	if !ValidName(name) {
		return fmt.Errorf("topology: site name %q: want a lower-case DNS label ([a-z0-9], inner '-', at most 63)", name)
	}
	nets := make([]string, 0, len(s.Networks))
	for _, n := range s.Networks {
		p, err := ParsePrefix(n)
		if err != nil {
			return fmt.Errorf("topology: site %q: %w", name, err)
		}
		nets = append(nets, p.String())
	}
	s.Networks = nets
	seen := map[string]bool{}
	for _, f := range s.Fallback {
		if !ValidName(f) {
			return fmt.Errorf("topology: site %q: fallback %q is not a site name", name, f)
		}
		if f == name {
			return fmt.Errorf("topology: site %q: fallback %q is the site itself", name, f)
		}
		if seen[f] {
			return fmt.Errorf("topology: site %q: fallback %q given twice", name, f)
		}
		seen[f] = true
	}
	return nil
}

// Prefixes returns the parsed networks of a decoded site.
func (s Site) Prefixes() []netip.Prefix {
	ps := make([]netip.Prefix, 0, len(s.Networks))
	for _, n := range s.Networks {
		if p, err := ParsePrefix(n); err == nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// ParsePrefix parses a network in CIDR form and masks it. An IPv4-mapped
// IPv6 network is refused: clients and backends are placed by their plain
// IPv4 address, so it would never match anything.
func ParsePrefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("network %q: not a CIDR (want e.g. 198.51.100.0/24 or 2001:db8::/48)", s)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("network %q: an IPv4-mapped IPv6 network; write the IPv4 network", s)
	}
	return p.Masked(), nil
}

// ValidName reports whether s is a site name: a lower-case DNS label,
// [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Key is the topology key of a site: <prefix>/topology/<site>.
func Key(prefix, site string) string { return Prefix(prefix) + site }

// Prefix holds every topology key.
func Prefix(prefix string) string { return strings.TrimSuffix(prefix, "/") + "/topology/" }

// ParseKey returns the site name of a topology key.
func ParseKey(prefix, key string) (string, error) {
	name, ok := strings.CutPrefix(key, Prefix(prefix))
	if !ok || !ValidName(name) {
		return "", fmt.Errorf("topology: key %q is not <prefix>/topology/<site> with a lower-case DNS label", key)
	}
	return name, nil
}

// Conflict is one network claimed by two sites.
type Conflict struct {
	Network netip.Prefix
	Sites   [2]string // sorted; the first is the one used
}

func (c Conflict) Error() string {
	return fmt.Sprintf("topology: network %s is in site %q and in site %q", c.Network, c.Sites[0], c.Sites[1])
}

// Check validates a whole set of decoded sites, as the API must before it
// writes one: no network in two sites, no fallback to a site that does not
// exist. It reports the first problem in a stable order.
func Check(sites map[string]Site) error {
	_, problems := Compile(sites)
	if len(problems) > 0 {
		return problems[0]
	}
	return nil
}

// sortedNames returns the site names in order.
func sortedNames(sites map[string]Site) []string {
	names := make([]string, 0, len(sites))
	for n := range sites {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
