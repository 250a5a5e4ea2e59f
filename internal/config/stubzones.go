package config

import (
	"fmt"
	"strings"
)

// ParseStubZones reads the inDomainServers syntax
// "sub.zone@ip:port,ip:port%other.zone@ip": entries are split by '%', each
// names a zone, '@', and its servers split by ','. A server without a port
// gets port 53. The result maps each zone, lower-cased with a trailing dot,
// to its servers as "ip:port". An empty string gives an empty map.
func ParseStubZones(s string) (map[string][]string, error) {
	zones := map[string][]string{}
	for entry := range strings.SplitSeq(s, "%") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		zone, list, ok := strings.Cut(entry, "@")
		zone = strings.TrimSpace(zone)
		if !ok {
			return nil, fmt.Errorf("stub zone entry %q: want zone@ip:port[,ip:port]", entry)
		}
		if msg := domainProblem(zone); msg != "" {
			return nil, fmt.Errorf("stub zone entry %q: %s", entry, msg)
		}
		key := fqdn(zone)
		if _, dup := zones[key]; dup {
			return nil, fmt.Errorf("stub zone %s listed twice", key)
		}
		var servers []string
		for srv := range strings.SplitSeq(list, ",") {
			if srv = strings.TrimSpace(srv); srv == "" {
				continue
			}
			addr, err := serverAddr(srv)
			if err != nil {
				return nil, fmt.Errorf("stub zone %s: bad server %q: %v", key, srv, err)
			}
			servers = append(servers, addr)
		}
		if len(servers) == 0 {
			return nil, fmt.Errorf("stub zone %s: no servers", key)
		}
		zones[key] = servers
	}
	return zones, nil
}
