// Package explain is the JSON of the DNS server's /skydns/explain: why
// it answers a name as it does for a client (docs/explain.md). The server
// fills it (skydns/server, by its own query code); skydns-apicmd and the
// console read it. It has no dependencies, so that readers need not link
// the server.
package explain

import "time"

// The "from" of a setting.
const (
	FromPolicy  = "policy"
	FromDefault = "server default"
)

// Explanation is the whole answer of /skydns/explain, for people (through
// skydns-apicmd -explain) and for the console.
type Explanation struct {
	Query  Query  `json:"query"`
	Client Client `json:"client"`
	// Names is one entry per name answered: the name asked, then each
	// alias target along a CNAME chain.
	Names  []Name `json:"names"`
	Answer Answer `json:"answer"`
	// Revisions are the etcd revisions of the data explained.
	Revisions Revisions `json:"revisions"`
	Notes     []string  `json:"notes,omitempty"`
}

// Query is the question explained.
type Query struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Client is who asks, as the server sees it.
type Client struct {
	Address string `json:"address"`
	ECS     string `json:"ecs,omitempty"` // the client subnet, when one was given
	// Key is the hold-one rendezvous key (hex) and KeyFrom what it hashes.
	Key     string `json:"key"`
	KeyFrom string `json:"key_from"`
	// Site is the client's site ("" for none); SiteFrom what placed it.
	Site     string `json:"site"`
	SiteFrom string `json:"site_from"`
}

// Name is one name's address decision.
type Name struct {
	Name    string `json:"name"`
	AliasTo string `json:"alias_to,omitempty"` // a CNAME: the chain goes on there
	// Records are the name's address records of the family asked, with
	// the etcd key each came from.
	Records []Record `json:"records"`
	Health  []Health `json:"health"`
	Policy  *Policy  `json:"policy,omitempty"`
	// Steps are the sets left after each step, in the order applied.
	Steps []Step `json:"steps"`
	// ECSScope is the scope (prefix length) this name's answer holds for
	// as far as sites go; the reply's is in Answer.
	ECSScope int `json:"ecs_scope"`
}

// Record is one address record of a name.
type Record struct {
	IP       string `json:"ip"`
	Key      string `json:"key"` // "" when etcd no longer has it
	TTL      uint32 `json:"ttl,omitempty"`
	Weight   uint16 `json:"weight,omitempty"`
	Priority uint16 `json:"priority,omitempty"`
	Port     uint16 `json:"port,omitempty"`
	Site     string `json:"site,omitempty"`
	// Duplicate: an earlier record holds the same IP and port; the
	// answers list the IP once.
	Duplicate bool `json:"duplicate,omitempty"`
}

// Health is an IP's health as the server sees it: Status is the
// word the query path used; the rest is its status value's.
type Health struct {
	IP       string     `json:"ip"`
	Status   string     `json:"status"` // UP, DOWN or UNKNOWN (no status yet)
	Served   bool       `json:"served"` // passes the health filter
	Since    *time.Time `json:"since,omitempty"`
	Reason   string     `json:"reason,omitempty"`
	Votes    string     `json:"votes,omitempty"`
	Override bool       `json:"override,omitempty"`
	// Checks holds the verdict of the name's own check on the IP when it
	// differs from the IP's status and so decided Status (per-check
	// verdicts, docs/health-checking.md); empty when the status did.
	Checks []Check `json:"checks"`
}

// Check is one health check's verdict on an IP.
type Check struct {
	Check  string `json:"check"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// Policy is the name's policy key and the settings in force.
type Policy struct {
	Key     string `json:"key"`
	Present bool   `json:"present"` // the key exists (and parsed)
	// Settings are those in force, each with where it came from.
	Settings []Setting `json:"settings"`
}

// Setting is one setting in force and where it came from.
type Setting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	From  string `json:"from"` // "policy" or "server default"
}

// Step is one step of the decision: Step is records, health, site,
// all-down, selection or cap; Addresses the set it left, in order.
type Step struct {
	Step      string   `json:"step"`
	Addresses []string `json:"addresses"`
	Detail    string   `json:"detail,omitempty"`
}

// Answer is the reply, as the server sends it over TCP.
type Answer struct {
	Rcode     string   `json:"rcode"`
	Answer    []string `json:"answer"`
	Authority []string `json:"authority"`
	// ECSScope is the scope of the reply's client subnet option; absent
	// when the query had none.
	ECSScope *int `json:"ecs_scope,omitempty"`
}

// Revisions are the etcd revisions the record keys and the status values
// were read at: the views' own, unless etcd had compacted them away.
type Revisions struct {
	Records int64 `json:"records,omitempty"`
	Health  int64 `json:"health,omitempty"`
}
