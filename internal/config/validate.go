package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/internal/topology"
)

// problems collects every semantic error so an operator fixes a file in one
// pass instead of one restart per mistake.
type problems []error

func (p *problems) add(section, key, format string, args ...any) {
	*p = append(*p, &FieldError{Section: section, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return errors.Join(p...)
}

// hostPortProblem checks a dial address, or with listen a listen address,
// where port 0 asks the kernel for a free port (tests and the local stack
// use that). An empty host (":53") is allowed: it means every interface.
func hostPortProblem(s string, listen bool) string {
	if s == "" {
		return "empty, want host:port"
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		var ae *net.AddrError
		if !errors.As(err, &ae) {
			return err.Error()
		}
		switch ae.Err {
		case "missing port in address":
			return "missing port"
		case "too many colons in address":
			return "missing port (write an IPv6 address in brackets, e.g. [::1]:53)"
		}
		return strings.TrimSuffix(ae.Err, " in address")
	}
	if listen && port == "0" {
		return ""
	}
	return portProblem(port)
}

func portProblem(port string) string {
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("bad port %q: want 1-65535", port)
	}
	return ""
}

// checkAddr checks a listen address.
func checkAddr(p *problems, sec, key, s string) {
	if msg := hostPortProblem(s, true); msg != "" {
		p.add(sec, key, "%s", msg)
	}
}

// checkOptionalAddr is for listeners that an empty value turns off.
func checkOptionalAddr(p *problems, sec, key, s string) {
	if s != "" {
		checkAddr(p, sec, key, s)
	}
}

// urlProblem checks an etcd endpoint: a URL, or host:port as etcd's client
// also accepts.
func urlProblem(s string) string {
	if !strings.Contains(s, "://") {
		return hostPortProblem(s, false)
	}
	u, err := url.Parse(s)
	if err != nil {
		return "not a URL"
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Sprintf("scheme %q: want http or https", u.Scheme)
	}
	if u.Host == "" {
		return "no host"
	}
	if p := u.Port(); p != "" {
		return portProblem(p)
	}
	return ""
}

func checkPositive(p *problems, sec, key string, d time.Duration) {
	if d <= 0 {
		p.add(sec, key, "must be more than 0, got %v", d)
	}
}

// checkTTL checks a duration that ends up in a DNS TTL field, which holds
// whole seconds up to 2^31-1 (RFC 2181).
func checkTTL(p *problems, sec, key string, d, minimum time.Duration) {
	switch {
	case d < minimum:
		p.add(sec, key, "must be at least %v, got %v", minimum, d)
	case d%time.Second != 0:
		p.add(sec, key, "must be whole seconds, got %v", d)
	case d > (1<<31-1)*time.Second:
		p.add(sec, key, "must be at most 2147483647s, got %v", d)
	}
}

func checkMin(p *problems, sec, key string, n, minimum int) {
	if n < minimum {
		p.add(sec, key, "must be at least %d, got %d", minimum, n)
	}
}

func checkRange(p *problems, sec, key string, n, lo, hi int) {
	if n < lo || n > hi {
		p.add(sec, key, "must be %d-%d, got %d", lo, hi, n)
	}
}

func checkOneOf(p *problems, sec, key, s string, allowed ...string) {
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	p.add(sec, key, "unknown value %q (want %s)", s, strings.Join(allowed, ", "))
}

func checkEtcdPath(p *problems, sec, key, s string) {
	if !strings.HasPrefix(s, "/") {
		p.add(sec, key, "must start with /, got %q", s)
	}
}

func checkDomains(p *problems, sec, key string, domains []string) {
	if len(domains) == 0 {
		p.add(sec, key, "empty, want at least one domain")
	}
	for _, d := range domains {
		if msg := domainProblem(d); msg != "" {
			p.add(sec, key, "%s", msg)
		}
	}
}

// domainProblem checks a zone name. The trailing dot is optional.
func domainProblem(name string) string {
	n := strings.TrimSuffix(name, ".")
	if n == "" {
		return fmt.Sprintf("bad domain %q: the root zone cannot be served", name)
	}
	if len(n) > 253 {
		return fmt.Sprintf("bad domain %q: longer than 253 characters", name)
	}
	for label := range strings.SplitSeq(n, ".") {
		if label == "" {
			return fmt.Sprintf("bad domain %q: empty label", name)
		}
		if len(label) > 63 {
			return fmt.Sprintf("bad domain %q: label longer than 63 characters", name)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Sprintf("bad domain %q: character %q", name, r)
			}
		}
	}
	return ""
}

// fqdn lower-cases a domain and adds the trailing dot.
func fqdn(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// serverAddr turns "ip" or "ip:port" into "ip:port", port 53 by default.
// Names are refused: resolving a forwarder's name would need the resolver
// being configured.
func serverAddr(s string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if ap.Port() == 0 {
			return "", errors.New("port 0")
		}
		return ap.String(), nil
	}
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")); err == nil {
		return netip.AddrPortFrom(a, 53).String(), nil
	}
	return "", errors.New("want an IP address, optionally with :port")
}

// prefix reads a CIDR, or a bare address as a single-host prefix.
func prefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("bad CIDR %q", s)
}

func checkPorts(p *problems, sec, key string, ports []string) {
	for _, port := range ports {
		if msg := portProblem(port); msg != "" {
			p.add(sec, key, "%s", msg)
		}
	}
}

// ownSubtrees are the directories below etcd-prefix that hold SkyDNS's
// own data rather than records: health, election and heartbeat keys under
// monitor/, policies under policy/, and topology/ and events/, kept for
// SkyDNS's own use. A zone whose records would be written there lets an
// API client forge any of it (an election key without a lease, a
// heartbeat that never expires).
var ownSubtrees = []string{"monitor", "policy", "topology", "events"}

// ownPath is an etcd directory or key SkyDNS uses for its own data, and
// what refers to it in the file.
type ownPath struct{ what, path string }

// checkZonePaths refuses zones whose record keys (record.NamePath of the
// zone, and everything below it) overlap SkyDNS's own subtrees under
// prefix or any of the configured paths. Zones that are not valid names
// are left to checkDomains.
func checkZonePaths(p *problems, sec, key, prefix string, zones []string, paths ...ownPath) {
	own := make([]ownPath, 0, len(ownSubtrees)+len(paths))
	for _, s := range ownSubtrees {
		own = append(own, ownPath{"SkyDNS's own " + s + "/ under etcd-prefix", strings.TrimRight(prefix, "/") + "/" + s})
	}
	own = append(own, paths...)
	for _, z := range zones {
		if domainProblem(z) != "" {
			continue
		}
		zdir := record.NamePath(prefix, fqdn(z)) + "/"
		for _, o := range own {
			odir := strings.TrimRight(o.path, "/") + "/"
			if strings.HasPrefix(zdir, odir) || strings.HasPrefix(odir, zdir) {
				p.add(sec, key, "zone %q is stored under %s, which overlaps %s (%s): records written there could forge SkyDNS's own data; use a zone outside it",
					z, zdir, odir, o.what)
				break
			}
		}
	}
}

// checkSite checks a site name; empty is no site. A site that does not exist
// (yet) is not a problem: sites are written at run time, through the API.
func checkSite(p *problems, sec, key, v string) {
	if v != "" && !topology.ValidName(v) {
		p.add(sec, key, "must be a lower-case DNS label ([a-z0-9], inner '-', at most 63 characters) or empty, got %q", v)
	}
}
