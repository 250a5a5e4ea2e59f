package record

import (
	"fmt"
	"net/netip"
	"strings"
)

const (
	// maxNameLen is the RFC 1035 limit on a name's presentation length once
	// the root dot is left off: 255 octets on the wire minus the length
	// octets of the first label and of the root.
	maxNameLen  = 253
	maxLabelLen = 63
)

// NormalizeName checks that s is a usable DNS name and returns it in the
// canonical form used for comparisons and keys: lower-case and fully
// qualified. Underscores are accepted because SRV owners (_http._tcp) and
// many service names carry them; a leftmost "*" label is a wildcard.
func NormalizeName(s string) (string, error) {
	canonical, reason := checkName(s)
	if reason != "" {
		return "", fmt.Errorf("record: name %q: %s", s, reason)
	}
	if canonical {
		// Most stored data is already canonical; returning the input
		// keeps the bulk load free of copies.
		return s, nil
	}
	return canonicalName(s), nil
}

// canonicalName lower-cases s and appends the root dot. s must have passed
// checkName, so it is ASCII.
func canonicalName(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 1)
	for i := 0; i < len(s); i++ {
		b.WriteByte(lowerASCII(s[i]))
	}
	if !strings.HasSuffix(s, ".") {
		b.WriteByte('.')
	}
	return b.String()
}

// checkName validates s in a single pass without allocating on success.
// It reports whether s is already canonical, or why it is not a name; the
// reason is a bare phrase so callers can embed it in their own context.
func checkName(s string) (canonical bool, reason string) {
	if s == "" {
		return false, "empty name"
	}
	if s == "." {
		return true, ""
	}
	body := strings.TrimSuffix(s, ".")
	canonical = len(body) < len(s)
	if len(body) > maxNameLen {
		return false, fmt.Sprintf("longer than %d characters", maxNameLen)
	}
	start := 0
	for i := 0; i <= len(body); i++ {
		if i < len(body) && body[i] != '.' {
			continue
		}
		label := body[start:i]
		upper, reason := checkLabel(label, start == 0)
		if reason != "" {
			return false, reason
		}
		if upper {
			canonical = false
		}
		start = i + 1
	}
	return canonical, ""
}

// checkLabel validates one label and reports whether it has upper-case
// letters that need folding.
func checkLabel(label string, leftmost bool) (upper bool, reason string) {
	switch {
	case label == "":
		return false, "empty label"
	case len(label) > maxLabelLen:
		return false, fmt.Sprintf("label %q longer than %d octets", label, maxLabelLen)
	case label == "*":
		if leftmost {
			return false, ""
		}
		return false, "wildcard * is only allowed as the leftmost label"
	case label[0] == '-':
		return false, fmt.Sprintf("label %q starts with a hyphen", label)
	case label[len(label)-1] == '-':
		return false, fmt.Sprintf("label %q ends with a hyphen", label)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		case 'A' <= c && c <= 'Z':
			upper = true
		default:
			return false, fmt.Sprintf("label %q has invalid character %q", label, label[i:i+1])
		}
	}
	return upper, ""
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// asciiLower folds ASCII letters only, so opaque ids keep any other bytes
// exactly as written, and allocates only when something changes.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}

// ParseIP parses an IPv4 or IPv6 address for use in an A or AAAA record.
// IPv4-mapped IPv6 addresses are returned as IPv4 so that they are served
// as A records; zoned addresses are rejected because a zone means nothing
// to a remote resolver.
func ParseIP(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("record: invalid IP address %q", s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("record: IP address %q has a zone", s)
	}
	return a.Unmap(), nil
}

// CheckHostAddr refuses addresses that cannot be a host's: unspecified,
// multicast and the IPv4 broadcast address. Every place an operator gives
// an address to serve (records, policy fallbacks, overrides) applies it;
// ip must come from ParseIP, so it is unmapped and has no zone.
func CheckHostAddr(ip netip.Addr) error {
	switch {
	case ip.IsUnspecified():
		return fmt.Errorf("record: IP address %s is unspecified, not a host", ip)
	case ip.IsMulticast():
		return fmt.Errorf("record: IP address %s is multicast, not a host", ip)
	case ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("record: IP address %s is the broadcast address, not a host", ip)
	}
	return nil
}

// parseIP is ParseIP for paths that only need a yes or no and must not
// build an error.
func parseIP(s string) (netip.Addr, bool) {
	if !maybeIP(s) {
		// Most hosts are names; netip builds an error value for each
		// one it rejects, which would cost an allocation per record.
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// maybeIP reports whether s could be an address at all: IPv6 text always
// has a colon (and may start with any hex digit, a letter included: fd00::1,
// abcd::1), IPv4 text is only digits and dots. A host name never has a
// colon, so looking for one costs names a scan and nothing else.
func maybeIP(s string) bool {
	if s == "" {
		return false
	}
	v4 := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ':' {
			return true
		}
		if c != '.' && (c < '0' || c > '9') {
			v4 = false
		}
	}
	return v4
}

// IsSubdomain reports whether name is zone or lies below it. Both must be
// normalized; comparison is exact and respects label boundaries, so
// "xskydns.local." is not below "skydns.local.".
func IsSubdomain(name, zone string) bool {
	if zone == "." {
		return strings.HasSuffix(name, ".")
	}
	if !strings.HasSuffix(name, zone) {
		return false
	}
	rest := len(name) - len(zone)
	return rest == 0 || name[rest-1] == '.'
}
