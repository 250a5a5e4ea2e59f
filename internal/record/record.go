package record

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"

	"github.com/skydns/skydns/internal/topology"
)

// Type is the DNS type a record answers for. It is canonically upper-case.
type Type string

// The record types SkyDNS serves.
const (
	TypeA     Type = "A"
	TypeAAAA  Type = "AAAA"
	TypeCNAME Type = "CNAME"
	TypeSRV   Type = "SRV"
	TypeNS    Type = "NS"
	TypeMX    Type = "MX"
	TypeTXT   Type = "TXT"
)

var knownTypes = [...]Type{TypeA, TypeAAAA, TypeCNAME, TypeSRV, TypeNS, TypeMX, TypeTXT}

// parseType folds the case of t without allocating. Folding is ASCII only:
// strings.EqualFold would also accept look-alikes such as "ſrv".
func parseType(t Type) (Type, bool) {
	for _, k := range knownTypes {
		if equalFoldUpper(string(t), string(k)) {
			return k, true
		}
	}
	return "", false
}

// equalFoldUpper reports whether s equals upper, a string of upper-case
// ASCII letters, ignoring ASCII case.
func equalFoldUpper(s, upper string) bool {
	if len(s) != len(upper) {
		return false
	}
	for i := 0; i < len(upper); i++ {
		if s[i] != upper[i] && s[i] != upper[i]+('a'-'A') {
			return false
		}
	}
	return true
}

// Record is the JSON value stored under an etcd key. Field names and JSON
// tags match what the other writers use, and every field is omitempty so a
// value written by SkyDNS is no larger than one written by them.
type Record struct {
	Host        string `json:"host,omitempty"`
	Port        int    `json:"port,omitempty"`
	Priority    int    `json:"priority,omitempty"`
	Weight      int    `json:"weight,omitempty"`
	Text        string `json:"text,omitempty"`
	Mail        bool   `json:"mail,omitempty"`
	TTL         uint32 `json:"ttl,omitempty"`
	TargetStrip int    `json:"targetstrip,omitempty"`
	Group       string `json:"group,omitempty"`
	Type        Type   `json:"type,omitempty"`
	Source      string `json:"source,omitempty"`
	Cluster     string `json:"cluster,omitempty"`
	User        string `json:"user,omitempty"`
	// Site places the record's IP in that site whatever its address (a
	// VIP, a public address); see internal/topology.
	Site string `json:"site,omitempty"`
}

// Decode parses a stored value and returns it normalized: Type set (given
// or inferred) and upper-case, a name host lower-case and fully qualified,
// an address host in its canonical text form. Unknown JSON fields are
// ignored because other writers add their own.
func Decode(value []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(value, &r); err != nil {
		return Record{}, fmt.Errorf("record: decoding JSON: %w", err)
	}
	if err := r.normalize(); err != nil {
		return Record{}, err
	}
	return r, nil
}

// Encode validates and normalizes r the way Decode does and returns its
// JSON, so SkyDNS never stores a value it would refuse to read back. The
// type is always written, even when it was inferred, so the stored value
// no longer depends on the inference rule.
func (r Record) Encode() ([]byte, error) {
	if err := r.normalize(); err != nil {
		return nil, err
	}
	return json.Marshal(r)
}

// IP returns the address of an A or AAAA record and the zero Addr for any
// other record. It does not allocate.
func (r Record) IP() netip.Addr {
	if r.Type != TypeA && r.Type != TypeAAAA {
		return netip.Addr{}
	}
	a, ok := parseIP(r.Host)
	if !ok || a.Is4() != (r.Type == TypeA) {
		return netip.Addr{}
	}
	return a
}

const maxUint16 = 1<<16 - 1

func (r *Record) normalize() error {
	if err := checkUint16("port", r.Port); err != nil {
		return err
	}
	if err := checkUint16("priority", r.Priority); err != nil {
		return err
	}
	if err := checkUint16("weight", r.Weight); err != nil {
		return err
	}
	if r.TargetStrip < 0 {
		return fmt.Errorf("record: targetstrip %d is negative", r.TargetStrip)
	}
	if r.Site != "" && !topology.ValidName(r.Site) {
		return fmt.Errorf("record: site %q is not a site name (a lower-case DNS label)", r.Site)
	}
	if r.Type == "" {
		return r.infer()
	}
	t, ok := parseType(r.Type)
	if !ok {
		return fmt.Errorf("record: unknown type %q", string(r.Type))
	}
	r.Type = t
	switch t {
	case TypeA, TypeAAAA:
		a, ok := parseIP(r.Host)
		if !ok || a.Is4() != (t == TypeA) {
			family := "IPv4"
			if t == TypeAAAA {
				family = "IPv6"
			}
			return fmt.Errorf("record: type %s needs an %s host, got %q", t, family, r.Host)
		}
		r.Host = canonicalIP(r.Host, a)
	case TypeCNAME, TypeNS, TypeMX, TypeSRV:
		if a, ok := parseIP(r.Host); ok && t == TypeSRV {
			// The original API wrote SRV records as an address with a
			// port. They are served as the untyped form is: an address of
			// the name, which is also an SRV target at that port.
			r.Type = TypeA
			if !a.Unmap().Is4() {
				r.Type = TypeAAAA
			}
			r.Host = canonicalIP(r.Host, a)
			return nil
		}
		if _, ok := parseIP(r.Host); ok {
			return fmt.Errorf("record: type %s needs a host name, got IP address %q", t, r.Host)
		}
		canonical, reason := checkName(r.Host)
		if reason != "" {
			return fmt.Errorf("record: type %s needs a host name, got %q: %s", t, r.Host, reason)
		}
		if !canonical {
			r.Host = canonicalName(r.Host)
		}
	case TypeTXT:
		// The host of a TXT record is never served, so it is kept as
		// written rather than rejected.
		if r.Text == "" {
			return fmt.Errorf("record: type TXT needs text")
		}
	}
	return nil
}

// infer sets the type of an untyped record from its host, mail and text.
func (r *Record) infer() error {
	if r.Host == "" {
		if r.Text == "" {
			return fmt.Errorf("record: no type, no host and no text")
		}
		r.Type = TypeTXT
		return nil
	}
	if a, ok := parseIP(r.Host); ok {
		r.Type = TypeAAAA
		if a.Is4() {
			r.Type = TypeA
		}
		r.Host = canonicalIP(r.Host, a)
		return nil
	}
	canonical, reason := checkName(r.Host)
	if reason != "" {
		return fmt.Errorf("record: host %q is neither an IP address nor a valid name: %s", r.Host, reason)
	}
	if !canonical {
		r.Host = canonicalName(r.Host)
	}
	r.Type = TypeCNAME
	if r.Mail {
		r.Type = TypeMX
	}
	return nil
}

// kind is the record's type as Decode would settle it, without validating
// anything. ParseKey and ID use it so that they give the same answer for a
// hand-built Record as for a decoded one.
func kind(r Record) Type {
	if r.Type != "" {
		if t, ok := parseType(r.Type); ok {
			return t
		}
		return r.Type
	}
	switch {
	case r.Host == "":
		if r.Text != "" {
			return TypeTXT
		}
		return ""
	default:
		if a, ok := parseIP(r.Host); ok {
			if a.Is4() {
				return TypeA
			}
			return TypeAAAA
		}
		if r.Mail {
			return TypeMX
		}
		return TypeCNAME
	}
}

func checkUint16(field string, v int) error {
	if v < 0 || v > maxUint16 {
		return fmt.Errorf("record: %s %d out of range 0-%d", field, v, maxUint16)
	}
	return nil
}

// canonicalIP returns host unchanged when it already is the canonical text
// of a, so the common case costs no allocation; otherwise it rewrites it
// (upper-case hex, uncompressed or IPv4-mapped forms) so equal addresses
// get equal IDs.
func canonicalIP(host string, a netip.Addr) string {
	var buf [64]byte
	b := a.AppendTo(buf[:0])
	if string(b) == host {
		return host
	}
	return string(b)
}

// FNV-1a 32-bit parameters.
const (
	fnvOffset32 = 2166136261
	fnvPrime32  = 16777619
)

func fnvString(h uint32, s string) uint32 {
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= fnvPrime32
	}
	return h
}

// ID returns the leaf label SkyDNS writes a record under: the FNV-1a hash
// of the fields that tell two records of one name apart, as 8 lower-case
// hex digits. Exactly 8 digits is what ParseKey recognizes as an id on a
// key without a trailing slash. r should be normalized (as returned by
// Decode) so that the same record always gets the same id.
func ID(r Record) string { return ProbeID(r, 0) }

// ProbeID is the id of r on probe n: ID for n = 0, and for n > 0 the same
// hash salted with n. 32 bits collide (two addresses of one name can share
// an id), so a writer that finds its key holding a record that is not
// SameIdentity tries the next probe instead of overwriting it. Every probe
// is 8 hex digits, so readers, to whom ids are opaque, see no difference.
func ProbeID(r Record, n int) string {
	var num [20]byte
	h := uint32(fnvOffset32)
	h = fnvString(h, string(kind(r)))
	h = fnvString(h, "|")
	h = fnvString(h, r.Host)
	h = fnvString(h, "|")
	for _, c := range strconv.AppendInt(num[:0], int64(r.Port), 10) {
		h ^= uint32(c)
		h *= fnvPrime32
	}
	h = fnvString(h, "|")
	h = fnvString(h, r.Text)
	if n > 0 {
		h = fnvString(h, "|")
		for _, c := range strconv.AppendInt(num[:0], int64(n), 10) {
			h ^= uint32(c)
			h *= fnvPrime32
		}
	}

	const digits = "0123456789abcdef"
	var out [8]byte
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = digits[h&0xf]
		h >>= 4
	}
	return string(out[:])
}

// SameIdentity reports whether a and b are one record as far as ids go:
// the fields ID hashes are equal, so a write of b may replace a (a new TTL
// or owner, say) but not a record that merely shares its id.
func SameIdentity(a, b Record) bool {
	return kind(a) == kind(b) && a.Host == b.Host && a.Port == b.Port && a.Text == b.Text
}
