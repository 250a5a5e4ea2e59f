package api

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

// resolve turns a name from a request into a fully qualified one. A name
// with a final dot is taken as written; a name inside one of the zones this
// API knows is too; any other name is relative to base (the first
// api-domain, or for an alias the zone of its target), as names in a zone
// file are relative to its origin.
func (a *API) resolve(raw, base string) (string, *httpError) {
	if raw == "" {
		return "", errorf(http.StatusBadRequest, "no name given")
	}
	n, err := record.NormalizeName(raw)
	if err != nil {
		return "", errorf(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "record: "))
	}
	if strings.HasSuffix(raw, ".") || a.knownZone(n) != "" {
		return n, nil
	}
	full, err := record.NormalizeName(strings.TrimSuffix(n, ".") + "." + base)
	if err != nil {
		return "", errorf(http.StatusBadRequest, "%s relative to %s: %s", raw, base, strings.TrimPrefix(err.Error(), "record: "))
	}
	return full, nil
}

// knownZone is the most specific zone this API serves (api-domains and
// kube-domain) that holds name, or "".
func (a *API) knownZone(name string) string {
	best := ""
	for _, z := range append(a.domains[:len(a.domains):len(a.domains)], a.kubeDomain) {
		if z != "" && record.IsSubdomain(name, z) && len(z) > len(best) {
			best = z
		}
	}
	return best
}

// writableZone is the most specific api-domain holding name, or "".
func (a *API) writableZone(name string) string {
	best := ""
	for _, z := range a.domains {
		if record.IsSubdomain(name, z) && len(z) > len(best) {
			best = z
		}
	}
	return best
}

// checkWritable refuses names the API must not write.
func (a *API) checkWritable(name string) *httpError {
	if a.writableZone(name) == "" {
		return errorf(http.StatusForbidden, "%s is outside the zones this API writes (api-domains: %s)",
			name, strings.Join(a.domains, ", "))
	}
	if a.reserved != "" && record.IsSubdomain(name, a.reserved) {
		return errorf(http.StatusForbidden, "%s is below %s, which the Kubernetes sync owns; change the Service instead",
			name, a.reserved)
	}
	return nil
}

// writableName resolves a request name and checks that the API may write it.
func (a *API) writableName(raw string) (string, *httpError) {
	n, err := a.resolve(raw, a.domains[0])
	if err != nil {
		return "", err
	}
	return n, a.checkWritable(n)
}

// isZoneApex reports whether name is one of the zones.
func (a *API) isZoneApex(name string) bool {
	for _, z := range a.domains {
		if name == z {
			return true
		}
	}
	return name == a.kubeDomain
}

// parseAddr validates an address for an A (v4) or AAAA (v6) record, or
// either when t is "".
func parseAddr(s string, t record.Type) (netip.Addr, *httpError) {
	ip, err := record.ParseIP(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, errorf(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "record: "))
	}
	if err := record.CheckHostAddr(ip); err != nil {
		return ip, errorf(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "record: "))
	}
	switch {
	case t == record.TypeA && !ip.Is4():
		return ip, errorf(http.StatusBadRequest, "IP address %q is IPv6; type A takes IPv4, use type AAAA", s)
	case t == record.TypeAAAA && ip.Is4():
		return ip, errorf(http.StatusBadRequest, "IP address %q is IPv4; type AAAA takes IPv6, use type A", s)
	}
	return ip, nil
}

// addrType is the record type of an address.
func addrType(ip netip.Addr) record.Type {
	if ip.Is4() {
		return record.TypeA
	}
	return record.TypeAAAA
}

// srvTarget is the generated target name of an SRV record given as an IP:
// <ip label>.<name>, which gets an A or AAAA record of its own.
func srvTarget(name string, ip netip.Addr) (string, *httpError) {
	t, err := record.NormalizeName(store.IPLabel(ip) + "." + name)
	if err != nil {
		return "", errorf(http.StatusBadRequest, "SRV target for %s under %s: %s", ip, name, strings.TrimPrefix(err.Error(), "record: "))
	}
	return t, nil
}

// ipOfTarget returns the address a generated SRV target of name stands
// for, if target is one.
func ipOfTarget(name, target string) (netip.Addr, bool) {
	label, rest, ok := strings.Cut(target, ".")
	if !ok || rest != name {
		return netip.Addr{}, false
	}
	var s string
	if strings.Count(label, "-") == 3 {
		s = strings.ReplaceAll(label, "-", ".")
	} else {
		s = strings.ReplaceAll(label, "-", ":")
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || store.IPLabel(ip) != label {
		return netip.Addr{}, false
	}
	return ip, true
}

// checkUser validates the free-text user a request names.
func checkUser(u string) *httpError {
	if len(u) > 64 {
		return errorf(http.StatusBadRequest, "user is longer than 64 characters")
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._@-", c) >= 0) {
			return errorf(http.StatusBadRequest, "user %q: only letters, digits and . _ @ - are allowed", u)
		}
	}
	return nil
}

// display is a name without its final dot, as operators type it.
func display(name string) string {
	if name == "." {
		return name
	}
	return strings.TrimSuffix(name, ".")
}
