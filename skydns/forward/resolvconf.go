package forward

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// ResolvConf returns the nameservers of the resolv.conf file at path as
// "ip:53", in file order without repeats. Other keywords (search, options,
// domain, ...) and comments are ignored; a file without nameserver lines
// gives an empty list. A nameserver that is not an IP address is an error
// rather than skipped as the C library does, since forwarding silently to
// fewer servers than configured is harder to find.
func ResolvConf(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	var servers []string
	seen := map[string]bool{}
	for i, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || fields[0] != "nameserver" {
			// Comment lines start with '#' or ';', so they never match.
			continue
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("forward: %s:%d: nameserver without an address", path, i+1)
		}
		a, err := netip.ParseAddr(fields[1])
		if err != nil {
			return nil, fmt.Errorf("forward: %s:%d: nameserver %q is not an IP address", path, i+1, fields[1])
		}
		s := netip.AddrPortFrom(a, 53).String()
		if !seen[s] {
			seen[s] = true
			servers = append(servers, s)
		}
	}
	return servers, nil
}
