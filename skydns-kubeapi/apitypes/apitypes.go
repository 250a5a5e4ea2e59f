// Package apitypes holds the JSON bodies of the SkyDNS REST API, shared by
// the server (skydns-kubeapi) and the command line (skydns-apicmd). It has
// no dependencies beyond the standard library and the policy model, so the
// command line stays small. docs/api.md describes every field.
package apitypes

import (
	"time"

	"github.com/skydns/skydns/internal/policy"
)

// PathPrefix is where every API route lives; the original clients know it.
const PathPrefix = "/skydns/api/"

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
