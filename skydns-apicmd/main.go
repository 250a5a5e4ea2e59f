// Command skydns-apicmd is the operator's command line over the SkyDNS REST
// API that skydns-kubeapi serves. docs/cli.md describes it.
//
//	skydns-apicmd -list
//	skydns-apicmd -show cctv2.skydns.local
//	skydns-apicmd -status cctv2.skydns.local
//	skydns-apicmd -method create -domain cctv2 -ips "192.0.2.1;192.0.2.2"
//	skydns-apicmd -method create -domain cctv2.skydns.local -alias tv1
//	skydns-apicmd -method update -domain cctv2 -updates "ips:192.0.2.1->192.0.2.9"
//	skydns-apicmd -method delete -domain cctv2
//	skydns-apicmd -drain 192.0.2.1 -reason "kernel upgrade"
//	skydns-apicmd -undrain 192.0.2.1
//	skydns-apicmd -overrides
//	skydns-apicmd -sites
//	skydns-apicmd -site sh -networks "198.51.100.0/25;2001:db8:1::/48" -fallback gz
//	skydns-apicmd -delete-site sh
//	skydns-apicmd -explain cctv2.skydns.local -client 192.0.2.7
//	skydns-apicmd -events -ip 192.0.2.1
//	echo "$SECRET" | skydns-apicmd -hash-token -name alice -role operate
//
// The address and token come from -addr and -token, or SKYDNS_API_ADDR and
// SKYDNS_API_TOKEN; -explain asks the DNS server itself, at -dns-stats-addr
// with -stats-token, or SKYDNS_STATS_ADDR and SKYDNS_STATS_TOKEN.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/skydns/skydns/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the API refused, or could not be reached
	exitUsage = 2 // bad flags
)

// options are the parsed flags.
type options struct {
	addr, token, caFile   string
	list                  bool
	show, status          string
	method, domain        string
	ips, alias, updates   string
	typ, hosts, ports     string
	text, user, policy    string
	priority, weight, ttl int
	json, showVersion     bool
	timeout               time.Duration
	overrides             bool
	drain, forceUp        string
	undrain               string
	reason, until         string
	sites                 bool
	site, deleteSite      string
	networks, fallback    string
	explain, client       string
	statsAddr, statsToken string
	events, hashToken     bool
	ip, name, since, role string
	limit                 int
}

// usageError is a mistake in the flags: exit 2 with the usage hint.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func run(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	var o options
	fs := flag.NewFlagSet("skydns-apicmd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	defAddr := getenv("SKYDNS_API_ADDR")
	if defAddr == "" {
		defAddr = "127.0.0.1:9001"
	}
	fs.StringVar(&o.addr, "addr", defAddr, "API address, host:port or a URL (env SKYDNS_API_ADDR)")
	// The token's default is read after parsing, never given to the flag
	// package, which would print it in the usage text.
	fs.StringVar(&o.token, "token", "", "API token, sent as a bearer token (default: env SKYDNS_API_TOKEN)")
	fs.StringVar(&o.caFile, "cacert", "", "CA certificate `file` to verify an https API")
	fs.BoolVar(&o.list, "list", false, "list every name")
	fs.StringVar(&o.show, "show", "", "show the records of `domain`")
	fs.StringVar(&o.status, "status", "", "show the health of each IP of `domain`")
	fs.StringVar(&o.method, "method", "", "create, update or delete")
	fs.StringVar(&o.domain, "domain", "", "the `domain` to create, update or delete")
	fs.StringVar(&o.ips, "ips", "", "IPs, separated by ; (create, delete)")
	fs.StringVar(&o.alias, "alias", "", "with create: make this name an alias (CNAME) of -domain")
	fs.StringVar(&o.updates, "updates", "", `with update: "ips:old->new;old2->new2", "alias:old->new", "hosts:old->new" or "text:old->new"`)
	fs.StringVar(&o.typ, "type", "", "record type: A, AAAA, CNAME, SRV, NS, MX or TXT (default from the other flags); with -explain, the query type (default A)")
	fs.StringVar(&o.hosts, "hosts", "", "target names of SRV, NS or MX records, separated by ;")
	fs.StringVar(&o.ports, "ports", "", "SRV ports, separated by ;: one for all targets or one per target")
	fs.StringVar(&o.text, "text", "", "TXT record text")
	fs.IntVar(&o.priority, "priority", -1, "SRV priority or MX preference")
	fs.IntVar(&o.weight, "weight", -1, "SRV weight")
	fs.IntVar(&o.ttl, "ttl", -1, "TTL of new records in seconds")
	fs.StringVar(&o.user, "user", "", "who makes the change, stored with the records")
	fs.StringVar(&o.policy, "policy", "", `with -domain: set its GSLB policy to this JSON, or "none" to remove it`)
	fs.BoolVar(&o.overrides, "overrides", false, "list the per-IP overrides (drained and forced-up addresses)")
	fs.StringVar(&o.drain, "drain", "", "take the `IP` out of the DNS answers, whatever its health checks say (an override)")
	fs.StringVar(&o.forceUp, "force-up", "", "serve the `IP` in the DNS answers even when its health checks fail (an override)")
	fs.StringVar(&o.undrain, "undrain", "", "remove the override of the `IP` (set by -drain or -force-up): its checks decide again")
	fs.StringVar(&o.reason, "reason", "", "with -drain or -force-up: why, shown with the address's status")
	fs.StringVar(&o.until, "until", "", "with -drain or -force-up: when the override ends by itself, an RFC 3339 time or a duration from now such as 2h")
	fs.BoolVar(&o.sites, "sites", false, "list the sites of the topology")
	fs.StringVar(&o.site, "site", "", "show the `site`; with -networks or -fallback create or change it; with -method create or update: the site field of the addresses written")
	fs.StringVar(&o.deleteSite, "delete-site", "", "delete the `site`")
	fs.StringVar(&o.networks, "networks", "", `with -site: the site's networks (CIDRs), separated by ;, or "none"`)
	fs.StringVar(&o.fallback, "fallback", "", `with -site: the sites to fall back to, in order, separated by ;, or "none" (all other sites)`)
	fs.StringVar(&o.explain, "explain", "", "ask the DNS server why it answers `name` as it does (records, health, site, policy, each step)")
	fs.StringVar(&o.client, "client", "", "with -explain: the client `IP`, or the network a resolver sends as its client subnet (default: this machine as the server sees it)")
	defStats := getenv("SKYDNS_STATS_ADDR")
	if defStats == "" {
		defStats = "127.0.0.1:9153"
	}
	fs.StringVar(&o.statsAddr, "dns-stats-addr", defStats, "with -explain: the DNS server's stats listener, host:port or a URL (env SKYDNS_STATS_ADDR)")
	fs.StringVar(&o.statsToken, "stats-token", "", "with -explain: the stats token (statsServerAuthToken) (default: env SKYDNS_STATS_TOKEN)")
	fs.BoolVar(&o.events, "events", false, "list the history (status changes, API writes), newest first; with -ip, -name, -since, -limit")
	fs.StringVar(&o.ip, "ip", "", "with -events: only the events of this `IP`")
	fs.StringVar(&o.name, "name", "", "with -events: only the events of this `name`; with -hash-token: the token's name")
	fs.StringVar(&o.since, "since", "", "with -events: only events since this RFC 3339 time or this long ago (e.g. 2h)")
	fs.IntVar(&o.limit, "limit", 0, "with -events: at most this many events (default 100, at most 1000)")
	fs.BoolVar(&o.hashToken, "hash-token", false, "read a secret from standard input and print its hash for api-tokens-file (with -name and -role: the whole line)")
	fs.StringVar(&o.role, "role", "", "with -hash-token: the token's role: read, operate, write or admin")
	fs.BoolVar(&o.json, "json", false, "print the API's JSON instead of text")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "how long one request may take")
	fs.BoolVar(&o.showVersion, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	tokenSet, statsTokenSet := false, false
	fs.Visit(func(f *flag.Flag) {
		tokenSet = tokenSet || f.Name == "token"
		statsTokenSet = statsTokenSet || f.Name == "stats-token"
	})
	if !tokenSet {
		o.token = getenv("SKYDNS_API_TOKEN")
	}
	if !statsTokenSet {
		o.statsToken = getenv("SKYDNS_STATS_TOKEN")
	}
	if o.showVersion {
		fmt.Fprintln(stdout, version.String("skydns-apicmd"))
		return exitOK
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "skydns-apicmd: unexpected argument %q (flags take their value as -flag value)\n", fs.Arg(0))
		return exitUsage
	}
	err := do(&o, stdout, stderr)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "skydns-apicmd: %v\n", err)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(stderr, "run skydns-apicmd -h for the flags")
		return exitUsage
	}
	return exitError
}

// do runs the one action the flags ask for; warnings go to warn.
func do(o *options, out, warn io.Writer) error {
	switch {
	case o.hashToken:
		return hashToken(o, out)
	case o.explain != "":
		return explainName(o, out)
	case o.client != "":
		return usagef("-client goes with -explain")
	}
	c, err := newClient(o.addr, o.token, o.caFile, o.timeout)
	if err != nil {
		return err
	}
	switch {
	case o.list:
		return list(c, o, out)
	case o.show != "":
		return show(c, o, o.show, out)
	case o.status != "":
		return status(c, o, o.status, out)
	case o.overrides:
		return listOverrides(c, o, out)
	case o.events:
		return listEvents(c, o, out)
	case o.ip != "" || o.name != "" || o.since != "" || o.limit != 0:
		return usagef("-ip, -name, -since and -limit go with -events")
	case o.drain != "" || o.forceUp != "":
		return setOverride(c, o, out, warn)
	case o.undrain != "":
		return removeOverride(c, o, out)
	case o.reason != "" || o.until != "":
		return usagef("-reason and -until go with -drain or -force-up")
	case o.sites:
		return listSites(c, o, out)
	case o.deleteSite != "":
		return deleteSite(c, o, out)
	case o.site != "" && o.method == "":
		return site(c, o, out)
	case o.networks != "" || o.fallback != "":
		return usagef("-networks and -fallback go with -site")
	case o.policy != "" && o.method == "":
		return setPolicy(c, o, out)
	}
	if o.method == "" {
		return usagef("nothing to do: give -list, -show, -status, -explain, -overrides, -events, -drain, -force-up, -undrain, -sites, -site, -delete-site or -method create|update|delete")
	}
	if o.domain == "" {
		return usagef("-method %s needs -domain", o.method)
	}
	switch strings.ToLower(o.method) {
	case "create":
		return create(c, o, out)
	case "update":
		return update(c, o, out)
	case "delete":
		return remove(c, o, out)
	}
	return usagef("-method %q: want create, update or delete", o.method)
}
