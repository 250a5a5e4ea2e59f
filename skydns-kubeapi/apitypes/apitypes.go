// Package apitypes holds the JSON bodies of the SkyDNS REST API, shared by
// the server (skydns-kubeapi) and the command line (skydns-apicmd). It has
// no dependencies beyond the standard library and the policy and topology
// models, so the command line stays small. docs/api.md describes every field.
package apitypes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/skydns/skydns/internal/events"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/topology"
)

// PathPrefix is where every route of records and policies lives; the
// original clients know it.
const PathPrefix = "/skydns/api/"

// OverridesPrefix is where the per-IP overrides live. They are not under
// PathPrefix, where every segment is a name.
const OverridesPrefix = "/skydns/overrides/"

// SitesPrefix is where the sites of the topology live: GET lists them, and
// GET, PUT and DELETE on SitesPrefix+{site} read, set and remove one.
const SitesPrefix = "/skydns/sites/"

// OK is the body of every successful write, as the original API answered.
const OK = "OK"

// Request is the body of POST, PUT and DELETE on /skydns/api/{name}. Which
// fields matter depends on the method and on Type; field names follow the
// original API so that its clients keep working.
type Request struct {
	// Type is A, AAAA, CNAME, SRV, NS, MX or TXT, in any case.
	Type string `json:"type,omitempty"`
	// IPs are the addresses of A and AAAA records, the targets of SRV
	// records, or (DELETE) the addresses to remove.
	IPs []string `json:"ips,omitempty"`
	// Ports pair with IPs or Hosts of SRV records: one per target, or a
	// single port for all.
	Ports []int `json:"ports,omitempty"`
	// Alias is the name that becomes a CNAME of the request's name. A name
	// outside every zone is taken relative to the zone of the target.
	Alias string `json:"alias,omitempty"`
	// Update maps old values to new ones (PUT): IPs of A, AAAA and SRV
	// records, aliases of a CNAME target, hosts of NS and MX, TXT texts.
	Update map[string]string `json:"update,omitempty"`
	// Hosts are the target names of SRV, NS and MX records.
	Hosts []string `json:"hosts,omitempty"`
	// NSHost, MailHost and MailPriority are the original API's NS and MX
	// fields; they add to Hosts and set Priority.
	NSHost       string `json:"nsHost,omitempty"`
	MailHost     string `json:"mailHost,omitempty"`
	MailPriority *int   `json:"mailPriority,omitempty"`
	// Text is the data of a TXT record.
	Text string `json:"text,omitempty"`
	// Priority and Weight of SRV records (default 10 each), MX preference.
	Priority *int `json:"priority,omitempty"`
	Weight   *int `json:"weight,omitempty"`
	// TTL in seconds for the new records; 0 or absent: the server default.
	TTL *int64 `json:"ttl,omitempty"`
	// User names who made the change; it is stored with the records.
	User string `json:"user,omitempty"`
	// Site, on POST and PUT, is stored as the site field of every A and
	// AAAA record written: it places the address in that site whatever
	// the address is (a VIP, a public address).
	Site string `json:"site,omitempty"`
	// Policy, on POST, sets the name's GSLB policy in the same transaction.
	Policy *policy.Policy `json:"policy,omitempty"`
	// AliasDomain was sent by the original command line; it is ignored.
	AliasDomain string `json:"alias-domain,omitempty"`
}

// Name is the answer to GET /skydns/api/{name}, and one entry of a List.
type Name struct {
	Name    string   `json:"name"`
	Records []Record `json:"records"`
	// Policy is the name's GSLB policy, if one is set.
	Policy *Policy `json:"policy,omitempty"`
}

// Record is one stored record, as the DNS server reads it, with where it
// came from and, for addresses, its health.
type Record struct {
	Type     string `json:"type"`
	Host     string `json:"host,omitempty"`
	Port     int    `json:"port,omitempty"`
	Priority int    `json:"priority,omitempty"`
	Weight   int    `json:"weight,omitempty"`
	Text     string `json:"text,omitempty"`
	TTL      uint32 `json:"ttl,omitempty"`
	Source   string `json:"source,omitempty"`
	Cluster  string `json:"cluster,omitempty"`
	User     string `json:"user,omitempty"`
	// Site is the record's site field, as stored.
	Site string `json:"site,omitempty"`
	// InSite, for an A or AAAA record, is the site its address is in: the
	// site field when that site exists, else the site whose networks hold
	// the address by longest prefix; absent for none.
	InSite string `json:"in-site,omitempty"`
	// Key is the etcd key the record is stored under.
	Key string `json:"key"`
	// Health of an A or AAAA record's address.
	Health *Health `json:"health,omitempty"`
	// Addresses are what Host (a name: CNAME, SRV, NS, MX target) has in
	// SkyDNS's own zones, with their health.
	Addresses []Address `json:"addresses,omitempty"`
}

// Health is an address's state as the health checkers last decided it.
type Health struct {
	// Status is UP, DOWN, or UNKNOWN when it has not been checked yet.
	Status string     `json:"status"`
	Since  *time.Time `json:"since,omitempty"`
	Reason string     `json:"reason,omitempty"`
	Votes  string     `json:"votes,omitempty"`
	// Check is the check-id whose verdict this is, for the name asked
	// about: its policy's check, or "default"; empty when the IP's status
	// answers (no verdict of that check yet, or an override).
	Check string `json:"check,omitempty"`
	// CheckSpec is that check's spec, as probed.
	CheckSpec json.RawMessage `json:"check-spec,omitempty"`
	// Override is the operator's override of the address, if one is
	// stored (expired ones too, marked so).
	Override *Override `json:"override,omitempty"`
}

// Override is an operator's override of an IP's health: DOWN takes it out
// of the answers, UP serves it whatever its checks say.
type Override struct {
	Status string     `json:"status"`
	Reason string     `json:"reason,omitempty"`
	User   string     `json:"user,omitempty"`
	Since  *time.Time `json:"since,omitempty"`
	Until  *time.Time `json:"until,omitempty"`
	// Expired is true once Until has passed: the schedule ignores the
	// override, which stays stored until it is deleted.
	Expired bool `json:"expired,omitempty"`
}

// OverrideRequest is the body of PUT /skydns/overrides/{ip}.
type OverrideRequest struct {
	// Status is DOWN (take the IP out) or UP (serve it), in any case.
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	// User names who set it (also ?user=).
	User string `json:"user,omitempty"`
	// Until, if set, is when the override stops counting (RFC 3339).
	Until *time.Time `json:"until,omitempty"`
}

// IPOverride is one stored override with what it affects: the answer to
// GET and PUT of /skydns/overrides/{ip}, and one entry of OverrideList.
type IPOverride struct {
	IP string `json:"ip"`
	Override
	// Error says why the stored value cannot be read; the schedule
	// ignores such an override.
	Error string `json:"error,omitempty"`
	// Names are the names in the API's zones with an A or AAAA record of
	// the IP.
	Names []string `json:"names"`
	// Health is the IP's status now (the override shows there once the
	// schedule leader has applied it, within milliseconds).
	Health Health `json:"health"`
	// Warning, on PUT, says when the override cannot take effect yet.
	Warning string `json:"warning,omitempty"`
}

// OverrideList is the answer to GET /skydns/overrides/.
type OverrideList struct {
	Overrides []IPOverride `json:"overrides"`
}

// Site is one site of the topology: the answer to GET and PUT of
// /skydns/sites/{site}, and one entry of SiteList. The body of PUT is the
// stored value alone, topology.Site: {"networks": [...], "fallback": [...]}.
type Site struct {
	Name string `json:"name"`
	topology.Site
	// Key is the etcd key the site is stored under.
	Key string `json:"key"`
	// Error says why the stored value cannot be read; the DNS server skips
	// such a site.
	Error string `json:"error,omitempty"`
	// FallbackOf are the sites that name this one as a fallback.
	FallbackOf []string `json:"fallback-of,omitempty"`
}

// SiteList is the answer to GET /skydns/sites/.
type SiteList struct {
	Sites []Site `json:"sites"`
}

// Address is one address of a record's target name.
type Address struct {
	Name   string `json:"name"`
	IP     string `json:"ip"`
	Health Health `json:"health"`
}

// Policy is a name's GSLB policy with who set it.
type Policy struct {
	policy.Policy
	Source  string `json:"source,omitempty"`
	Cluster string `json:"cluster,omitempty"`
	User    string `json:"user,omitempty"`
}

// List is the answer to GET /skydns/api/: one page of names in key order.
type List struct {
	Names []Name `json:"names"`
	// Next, when not empty, is the after= value of the next page.
	Next string `json:"next,omitempty"`
}

// Error is the body of every error answer.
type Error struct {
	Status int    `json:"status"`
	Error  string `json:"error"`
}

// EventsPath is the history: GET lists events, newest first.
const EventsPath = "/skydns/events"

// EventList is the answer of GET /skydns/events.
type EventList struct {
	Events []events.Event `json:"events"`
}

// HashToken is how api-tokens-file keeps a secret: the SHA-256 of its
// bytes, in lower-case hex. skydns-apicmd -hash-token prints it.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
