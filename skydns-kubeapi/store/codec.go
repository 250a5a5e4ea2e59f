package store

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
)

// Normalize validates r and returns it as it will be stored and read back,
// with its JSON value.
func Normalize(r record.Record) (record.Record, []byte, error) {
	b, err := r.Encode()
	if err != nil {
		return record.Record{}, nil, err
	}
	n, err := record.Decode(b)
	if err != nil {
		return record.Record{}, nil, err
	}
	return n, b, nil
}

// maxProbes bounds the ids RecordKey tries for one record. Each probe is
// a fresh 32-bit hash, so needing a second is already a one-in-billions
// event among a name's records; running out means something is wrong.
const maxProbes = 16

// RecordKey is the key SkyDNS stores a normalized record of name under:
// <name path>/<id>, except a CNAME, which goes at the name's own path as
// the original API wrote it. A name whose first label is exactly 8 hex
// digits would read back from its own path as an id of its parent, so such
// a CNAME gets the trailing slash the original used, which the key rule
// reads as a name when the record is a CNAME.
//
// The id is record.ID, unless at (what the writer knows is at a key: the
// name's records and its own pending writes) shows that key holding a
// different record whose id collides; then the next record.ProbeID that
// is free or already holds r. ok is false only when every probe is taken.
func RecordKey(prefix, name string, r record.Record, at func(key string) (record.Record, bool)) (key string, ok bool) {
	if r.Type != record.TypeCNAME {
		for n := range maxProbes {
			key = record.Key(prefix, name, record.ProbeID(r, n))
			if cur, taken := at(key); !taken || record.SameIdentity(cur, r) {
				return key, true
			}
		}
		return "", false
	}
	k := record.Key(prefix, name, "")
	if n, id, err := record.ParseKey(prefix, k, r); err == nil && n == name && id == "" {
		return k, true
	}
	return k + "/", true
}

// EntryAt is the at function of RecordKey over a name's entries.
func EntryAt(entries []Entry) func(string) (record.Record, bool) {
	return func(key string) (record.Record, bool) {
		for _, e := range entries {
			if e.Key == key {
				return e.Record, true
			}
		}
		return record.Record{}, false
	}
}

// StoredPolicy is the JSON value of a policy key as SkyDNS writes it: the
// policy plus who wrote it. The provenance fields are unknown to
// policy.Decode, which ignores them, so the DNS server and the scheduler
// read the value unchanged.
type StoredPolicy struct {
	policy.Policy
	Source  string `json:"source,omitempty"`
	Cluster string `json:"cluster,omitempty"`
	User    string `json:"user,omitempty"`
}

// EncodePolicy validates p and returns its stored value.
func EncodePolicy(p StoredPolicy) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(p)
}

// DecodePolicy reads a stored policy value. On a policy that does not
// validate it still returns the provenance it could read, with the error.
func DecodePolicy(b []byte) (StoredPolicy, error) {
	var p StoredPolicy
	if err := json.Unmarshal(b, &p); err != nil {
		return StoredPolicy{}, fmt.Errorf("policy: %w", err)
	}
	return p, p.Validate()
}

// IPLabel is the label that stands for an address in a generated name (an
// SRV target), as Kubernetes names endpoints: 192-0-2-1, or for IPv6 the
// expanded address with dashes, which unlike the short form never starts
// or ends with a dash.
func IPLabel(ip netip.Addr) string {
	if ip.Is4() {
		return strings.ReplaceAll(ip.String(), ".", "-")
	}
	return strings.ReplaceAll(ip.StringExpanded(), ":", "-")
}
