package config

import (
	"net/netip"
	"slices"
	"time"
)

// DNS is the configuration of skydns (skydns.conf).
type DNS struct {
	DNS   DNSSection   `ini:"Dns"`
	Fun   FunSection   `ini:"Fun"`
	Stats StatsSection `ini:"Stats"`
	Etcd  Etcd         `ini:"Etcd"`
	Log   Log          `ini:"Log"`
}

// All-down policies, the values of all-down.
const (
	AllDownAll      = "all"
	AllDownNone     = "none"
	AllDownServfail = "servfail"
)

// DNSSection is [Dns] of skydns.conf.
type DNSSection struct {
	Domains        []string      `ini:"dns-domains" sep:"%," default:"skydns.local." help:"zones served from etcd, separated by % or ,; the trailing dot is optional"`
	Descend        []string      `ini:"descend-zones" sep:"%," default:"" help:"zones of dns-domains where a name answers every record stored at any depth below it, apex excepted, as CoreDNS's etcd plugin does; empty: none, a record serves its own name and, when stored at that name's own path, its parent (docs/data-model.md)"`
	Addr           string        `ini:"dns-addr" default:"0.0.0.0:53" help:"UDP and TCP address to serve DNS on, host:port"`
	Nameservers    []string      `ini:"ex-nameservers" sep:"," default:"" help:"forwarders for names outside dns-domains, ip[:port] comma-separated, port 53 if omitted; empty: the nameservers of /etc/resolv.conf"`
	StubZones      string        `ini:"inDomainServers" default:"" help:"stub zones, zone@ip[:port],ip[:port]%other.zone@ip[:port]: queries under a listed zone go to its servers; empty: none"`
	CacheSize      int           `ini:"cacheSize" default:"100000" help:"most answers kept in the answer cache; 0 turns the cache off"`
	IPMonitorPath  string        `ini:"ip-monitor-path" default:"/skydns/monitor/status/" help:"etcd directory of each IP's health status; must equal status-path of skydns-schedule.conf"`
	TTL            time.Duration `ini:"ttl" unit:"s" default:"30s" help:"TTL of answers from records that set none"`
	HealthTTLCap   time.Duration `ini:"health-ttl-cap" alias:"min-ttl" unit:"s" default:"10s" help:"highest TTL of answers whose IPs were filtered by health, so clients ask again soon after a change; 0: such answers are not cached"`
	NegativeTTL    time.Duration `ini:"negative-ttl" unit:"s" default:"30s" help:"TTL of NXDOMAIN and NODATA answers (the SOA minimum)"`
	AllowRecursion []string      `ini:"allow-recursion" sep:"," default:"127.0.0.0/8,::1/128" help:"client networks (CIDR or IP, comma-separated) that may use ex-nameservers and stub zones; empty: nobody"`
	AllowPTR       []string      `ini:"allow-ptr" sep:"," default:"allow-recursion" help:"client networks (CIDR or IP, comma-separated) that get PTR answers for the zones' IPs, which list every name of an IP (a sweep of a reverse range lists the zone); the word allow-recursion stands for those networks; for other clients reverse names are outside the zones (forwarded if they may recurse, else REFUSED); empty: nobody"`
	ServeUnchecked bool          `ini:"serve-unchecked" default:"true" help:"serve an IP that has no health status yet; false: serve only IPs reported up"`
	ClientMaskV4   int           `ini:"client-mask-v4" default:"32" help:"prefix length that groups IPv4 clients for hone-one session persistence (0-32)"`
	ClientMaskV6   int           `ini:"client-mask-v6" default:"128" help:"prefix length that groups IPv6 clients for hone-one session persistence (0-128)"`
	AllDown        string        `ini:"all-down" default:"all" help:"answer when every IP of a name is down: all (every IP, as if none was checked), none (empty answer) or servfail"`
	MaxAnswers     int           `ini:"max-answers" default:"0" help:"most address records in one answer; 0: no cap"`
	UDPRcvBuf      int           `ini:"udp-receive-buffer" default:"4194304" help:"receive buffer of each UDP socket in bytes, so that a burst arriving while the server is off its CPU waits instead of being dropped; above net.core.rmem_max it needs root or CAP_NET_ADMIN, else the kernel caps it (the log says what was granted); 0: the kernel's default"`
	ShutdownDelay  time.Duration `ini:"shutdown-delay" unit:"s" default:"0s" help:"on SIGTERM, how long to keep answering with /readyz at 503 before closing the listeners, so a load balancer or anycast health check drains the replica first; 0: stop at once"`
	ForwardTimeout time.Duration `ini:"forward-timeout" unit:"s" default:"2s" help:"how long to wait for a forwarder or stub zone server"`
	MaxForwardQ    int           `ini:"max-forward-queries" default:"1000" help:"most distinct questions on the wire to forwarders and stub zone servers at once (identical ones share one); a question needing one more is answered SERVFAIL at once (skydns_forward_busy_total)"`
	MaxSlowQ       int           `ini:"max-concurrent-queries" default:"10000" help:"most UDP queries answered at once off the fast path (each may wait for a forwarder); a datagram beyond is dropped unanswered (skydns_dns_udp_dropped_total) and the client retries; TCP is bounded by max-tcp-connections"`
	MaxTCPConns    int           `ini:"max-tcp-connections" default:"1000" help:"most DNS-over-TCP connections open at once; one more is closed as soon as accepted (skydns_dns_tcp_refused_total); keep it well under the process's file descriptor limit"`
}

// FunSection is [Fun] of skydns.conf: answer shaping.
type FunSection struct {
	RandomOne bool `ini:"random-one" default:"false" help:"answer with one healthy IP picked at random; cannot be combined with hone-one"`
	HoldOne   bool `ini:"hone-one" alias:"hold-one" default:"false" help:"hold one: a client (grouped by client-mask-v4/v6) keeps getting the same single IP while it is up"`
}

// StatsSection is [Stats] of skydns.conf.
type StatsSection struct {
	Addr      string `ini:"statsServer" default:"127.0.0.1:9153" help:"address of the HTTP listener for /metrics, /healthz, /readyz and the stats API, host:port; empty: no listener"`
	AuthToken string `ini:"statsServerAuthToken" default:"" help:"token the stats API (/skydns/stats, /skydns/explain) requires, as Authorization: Bearer or ?token=; empty: the stats API is refused"`
}

// Validate checks values that parse but cannot work.
func (c DNS) Validate() error {
	var p problems
	const sec = "Dns"
	d := c.DNS
	checkDomains(&p, sec, "dns-domains", d.Domains)
	checkZonePaths(&p, sec, "dns-domains", c.Etcd.Prefix, d.Domains, ownPath{"ip-monitor-path", d.IPMonitorPath})
	for _, z := range d.Descend {
		if !slices.Contains(d.Zones(), fqdn(z)) {
			p.add(sec, "descend-zones", "%q is not in dns-domains", z)
		}
	}
	checkAddr(&p, sec, "dns-addr", d.Addr)
	for _, ns := range d.Nameservers {
		if _, err := serverAddr(ns); err != nil {
			p.add(sec, "ex-nameservers", "bad server %q: %v", ns, err)
		}
	}
	if _, err := ParseStubZones(d.StubZones); err != nil {
		p.add(sec, "inDomainServers", "%v", err)
	}
	checkMin(&p, sec, "cacheSize", d.CacheSize, 0)
	checkEtcdPath(&p, sec, "ip-monitor-path", d.IPMonitorPath)
	checkTTL(&p, sec, "ttl", d.TTL, time.Second)
	checkTTL(&p, sec, "health-ttl-cap", d.HealthTTLCap, 0)
	checkTTL(&p, sec, "negative-ttl", d.NegativeTTL, 0)
	for _, s := range d.AllowRecursion {
		if _, err := prefix(s); err != nil {
			p.add(sec, "allow-recursion", "%v", err)
		}
	}
	for _, s := range d.AllowPTR {
		if _, err := prefix(s); err != nil && s != "allow-recursion" {
			p.add(sec, "allow-ptr", "%v (or the word allow-recursion)", err)
		}
	}
	checkRange(&p, sec, "client-mask-v4", d.ClientMaskV4, 0, 32)
	checkRange(&p, sec, "client-mask-v6", d.ClientMaskV6, 0, 128)
	checkOneOf(&p, sec, "all-down", d.AllDown, AllDownAll, AllDownNone, AllDownServfail)
	checkMin(&p, sec, "max-answers", d.MaxAnswers, 0)
	checkPositive(&p, sec, "forward-timeout", d.ForwardTimeout)
	checkMin(&p, sec, "max-tcp-connections", d.MaxTCPConns, 1)
	checkMin(&p, sec, "max-forward-queries", d.MaxForwardQ, 1)
	checkMin(&p, sec, "max-concurrent-queries", d.MaxSlowQ, 1)
	if c.Fun.RandomOne && c.Fun.HoldOne {
		p.add("Fun", "random-one", "cannot be true together with hone-one")
	}
	checkOptionalAddr(&p, "Stats", "statsServer", c.Stats.Addr)
	c.Etcd.check(&p, "Etcd")
	c.Log.check(&p, "Log")
	return p.err()
}

// Zones is dns-domains lower-cased, each with its trailing dot.
func (d DNSSection) Zones() []string {
	out := make([]string, len(d.Domains))
	for i, z := range d.Domains {
		out[i] = fqdn(z)
	}
	return out
}

// DescendZones is descend-zones lower-cased, each with its trailing dot.
func (d DNSSection) DescendZones() []string {
	out := make([]string, len(d.Descend))
	for i, z := range d.Descend {
		out[i] = fqdn(z)
	}
	return out
}

// Forwarders is ex-nameservers as ip:port. Entries Validate would refuse
// are dropped.
func (d DNSSection) Forwarders() []string {
	var out []string
	for _, ns := range d.Nameservers {
		if a, err := serverAddr(ns); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// StubZoneMap is inDomainServers parsed; empty if Validate would refuse it.
func (d DNSSection) StubZoneMap() map[string][]string {
	z, err := ParseStubZones(d.StubZones)
	if err != nil {
		return map[string][]string{}
	}
	return z
}

// RecursionPrefixes is allow-recursion parsed. Entries Validate would
// refuse are dropped.
func (d DNSSection) RecursionPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range d.AllowRecursion {
		if p, err := prefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// PTRPrefixes is allow-ptr parsed, the word allow-recursion replaced by
// those networks. Entries Validate would refuse are dropped.
func (d DNSSection) PTRPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range d.AllowPTR {
		if s == "allow-recursion" {
			out = append(out, d.RecursionPrefixes()...)
		} else if p, err := prefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}
