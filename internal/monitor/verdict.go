package monitor

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"path"
	"strings"
	"time"

	"github.com/skydns/skydns/internal/health"
)

// DefaultCheck is the check-id of the agents' default check: what a name
// without a policy check is probed with (the empty spec, {}).
const DefaultCheck = "default"

// checkIDLen is the length of a check-id in hex digits: 48 bits, so that
// two distinct checks on one IP collide with odds of about n²/2^49, nil
// for the handful of checks one IP carries.
const checkIDLen = 12

// CheckID is the short stable name of a check spec: DefaultCheck for the
// empty spec, else the first hex digits of the SHA-256 of its canonical
// JSON. The spec is hashed as bytes, never looked into, so that every
// field a newer spec carries (new check types) makes a check of its own
// without this code knowing of it; and it is fixed, so that every leader,
// now and after a failover, names a check the same.
func CheckID(s Spec) string { return CheckIDOf(s.Encode()) }

// CheckIDOf is CheckID of a spec already in its canonical encoding.
func CheckIDOf(canonical []byte) string {
	if string(canonical) == "{}" {
		return DefaultCheck
	}
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])[:checkIDLen]
}

// ValidCheckID says whether id can be a check-id key segment.
func ValidCheckID(id string) bool {
	if id == DefaultCheck {
		return true
	}
	if len(id) != checkIDLen {
		return false
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// VerdictDir is where the per-check verdicts live: the directory "verdict"
// beside the status directory (/skydns/monitor/verdict/ with the defaults).
// Beside and not below, because the original DNS server watched the status
// directory as one key per IP, and derived from it rather than a setting
// of its own, so that every program that knows the status path agrees on
// it without a new key in every configuration.
func (p Paths) VerdictDir() string {
	return path.Dir(strings.TrimSuffix(p.Status, "/")) + "/verdict/"
}

// VerdictPrefix holds every verdict on ip.
func (p Paths) VerdictPrefix(ip netip.Addr) string { return p.VerdictDir() + ip.String() + "/" }

// VerdictKey is the key of the verdict of check id on ip.
func (p Paths) VerdictKey(ip netip.Addr, id string) string { return p.VerdictPrefix(ip) + id }

// ParseVerdictKey returns the IP and the check-id of a verdict key.
func (p Paths) ParseVerdictKey(key string) (netip.Addr, string, error) {
	rest, ok := strings.CutPrefix(key, p.VerdictDir())
	ipText, id, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || !ValidCheckID(id) {
		return netip.Addr{}, "", fmt.Errorf("monitor: %q is not <verdict-dir><ip>/<check-id>", key)
	}
	ip, err := parseIP(ipText)
	if err != nil {
		return netip.Addr{}, "", fmt.Errorf("monitor: verdict key %q: %w", key, err)
	}
	return ip, id, nil
}

// CheckJobKey is the key of agent's job on check id of ip. The default
// check keeps the original key, <job-path><agent>/<ip>, so that an agent
// of before per-check verdicts still probes every IP with its defaults;
// any other check is a key below it, which such an agent cannot parse and
// so ignores.
func (p Paths) CheckJobKey(agent string, ip netip.Addr, id string) string {
	if id == DefaultCheck {
		return p.JobKey(agent, ip)
	}
	return p.JobKey(agent, ip) + "/" + id
}

// ParseCheckJobKey returns the agent, the IP and the check-id of a job
// key, old (<agent>/<ip>: the default check) or new (<agent>/<ip>/<id>).
func (p Paths) ParseCheckJobKey(key string) (string, netip.Addr, string, error) {
	if agent, ip, err := p.ParseJobKey(key); err == nil {
		return agent, ip, DefaultCheck, nil
	}
	i := strings.LastIndexByte(key, '/')
	if i < 0 || !ValidCheckID(key[i+1:]) || key[i+1:] == DefaultCheck {
		return "", netip.Addr{}, "", fmt.Errorf("monitor: %q is not <job-path><agent>/<ip>[/<check-id>]", key)
	}
	agent, ip, err := p.ParseJobKey(key[:i])
	if err != nil {
		return "", netip.Addr{}, "", err
	}
	return agent, ip, key[i+1:], nil
}

// CheckReportKey is the key of agent's report on check id of ip: the
// original <report-path><ip>/<agent> for the default check, and
// <report-path><ip>/<agent>/<id> for any other, which a schedule of before
// per-check verdicts ignores (its agent name would hold a slash).
func (p Paths) CheckReportKey(ip netip.Addr, agent, id string) string {
	if id == DefaultCheck {
		return p.ReportKey(ip, agent)
	}
	return p.ReportKey(ip, agent) + "/" + id
}

// ParseCheckReportKey returns the IP, the agent and the check-id of a
// report key, old or new.
func (p Paths) ParseCheckReportKey(key string) (netip.Addr, string, string, error) {
	if ip, agent, err := p.ParseReportKey(key); err == nil {
		return ip, agent, DefaultCheck, nil
	}
	i := strings.LastIndexByte(key, '/')
	if i < 0 || !ValidCheckID(key[i+1:]) || key[i+1:] == DefaultCheck {
		return netip.Addr{}, "", "", fmt.Errorf("monitor: %q is not <report-path><ip>/<agent>[/<check-id>]", key)
	}
	ip, agent, err := p.ParseReportKey(key[:i])
	if err != nil {
		return netip.Addr{}, "", "", err
	}
	return ip, agent, key[i+1:], nil
}

// Verdict is the value of a verdict key: the checkers' quorum verdict on
// one check of one IP. "status" comes first, as in a status value, so that
// `etcdctl get` reads alike; check is the spec verbatim (its canonical
// JSON), so that an operator sees what was probed without knowing its id.
type Verdict struct {
	Status string          `json:"status"`           // UP or DOWN
	Since  time.Time       `json:"since,omitzero"`   // when it last changed
	Reason string          `json:"reason,omitempty"` // why DOWN, from a checker
	Votes  string          `json:"votes,omitempty"`  // e.g. "2/2 down"
	Check  json.RawMessage `json:"check,omitempty"`  // the spec probed
}

// State is the verdict's status as a health.State; Unknown with an error
// for anything but UP and DOWN.
func (v Verdict) State() (health.State, error) { return health.Status{Status: v.Status}.State() }

// Encode returns the JSON of v; it fails on a status other than UP and
// DOWN, or a check that is not JSON.
func (v Verdict) Encode() ([]byte, error) {
	if _, err := v.State(); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// DecodeVerdict parses a verdict value; a status other than UP or DOWN is
// an error.
func DecodeVerdict(b []byte) (Verdict, error) {
	var v Verdict
	if err := json.Unmarshal(b, &v); err != nil {
		return Verdict{}, fmt.Errorf("monitor: verdict: %w", err)
	}
	if _, err := v.State(); err != nil {
		return Verdict{}, fmt.Errorf("monitor: verdict: %w", err)
	}
	return v, nil
}

// Target is what is probed and voted on: one check of one IP.
type Target struct {
	IP    netip.Addr
	Check string // a check-id; DefaultCheck for the agents' defaults
}

func (t Target) String() string { return t.IP.String() + "/" + t.Check }
