// Package health holds the health status of an IP as stored in etcd under
// <status-path><ip>, e.g. /skydns/monitor/status/192.0.2.1 = {"status":"UP"}.
//
// The value stays readable with a bare `etcdctl get`: "status" comes first
// and is all the DNS server reads; the rest is for operators.
package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// State is an IP's verdict.
type State uint8

const (
	// Unknown: no status key, the IP has not been checked yet.
	Unknown State = iota
	Up
	Down
)

func (s State) String() string {
	switch s {
	case Up:
		return "UP"
	case Down:
		return "DOWN"
	}
	return "UNKNOWN"
}

// Status is the JSON value of a status key.
type Status struct {
	Status string    `json:"status"`           // UP or DOWN
	Since  time.Time `json:"since,omitzero"`   // when it last changed
	Reason string    `json:"reason,omitempty"` // e.g. "tcp/80: connection refused"
	Votes  string    `json:"votes,omitempty"`  // e.g. "2/2 down"
	Ports  Ports     `json:"ports,omitempty"`  // what is probed
	// Override is true while the status is an operator's override (see
	// Override) rather than the checkers' verdict.
	Override bool `json:"override,omitempty"`
	// Checked is, with Override, the checkers' own verdict (UP or DOWN;
	// empty while they have none), so that the status goes back to it the
	// moment the override ends.
	Checked string `json:"checked,omitempty"`
}

// Ports are the TCP ports probed. The original kubeapi wrote them as
// strings (["80","443"]); both forms are read, numbers are written.
type Ports []int

func (p *Ports) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("ports: %w", err)
	}
	out := make(Ports, 0, len(raw))
	for _, r := range raw {
		var n int
		if err := json.Unmarshal(r, &n); err != nil {
			var s string
			if json.Unmarshal(r, &s) != nil {
				return fmt.Errorf("ports: %s is not a port", r)
			}
			if n, err = strconv.Atoi(strings.TrimSpace(s)); err != nil {
				return fmt.Errorf("ports: %q is not a port", s)
			}
		}
		if n < 1 || n > 65535 {
			return fmt.Errorf("ports: %d is out of range", n)
		}
		out = append(out, n)
	}
	*p = out
	return nil
}

// State reads the status word; anything but UP or DOWN is an error.
func (s Status) State() (State, error) {
	switch strings.ToUpper(s.Status) {
	case "UP":
		return Up, nil
	case "DOWN":
		return Down, nil
	}
	return Unknown, fmt.Errorf("health: status %q: want UP or DOWN", s.Status)
}

// statusWord is the one field every reader needs.
type statusWord struct {
	Status string `json:"status"`
}

// DecodeState reads only the status word, which is all the DNS server
// needs: the other fields cost a time parse and a port list per value, a
// second or more of a million-key load.
func DecodeState(b []byte) (State, error) {
	var word statusWord
	if err := json.Unmarshal(b, &word); err != nil {
		return Unknown, fmt.Errorf("health: %w", err)
	}
	return Status{Status: word.Status}.State()
}

// Decode parses a status value.
//
// Only the status word decides: when another field does not parse (other
// writers put what they like after it), the value is read for its status
// alone.
func Decode(b []byte) (Status, error) {
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		var word statusWord
		if json.Unmarshal(b, &word) != nil {
			return Status{}, fmt.Errorf("health: %w", err)
		}
		s = Status{Status: word.Status}
	}
	_, err := s.State()
	return s, err
}

// Encode renders a status value.
func Encode(s Status) ([]byte, error) {
	if _, err := s.State(); err != nil {
		return nil, err
	}
	return json.Marshal(s)
}

// Key is the status key of ip under path (e.g. "/skydns/monitor/status/").
func Key(path string, ip netip.Addr) string {
	return strings.TrimSuffix(path, "/") + "/" + ip.String()
}

// ParseKey returns the IP a status key is about.
func ParseKey(path, key string) (netip.Addr, error) {
	rest, ok := strings.CutPrefix(key, strings.TrimSuffix(path, "/")+"/")
	if !ok || rest == "" {
		return netip.Addr{}, errors.New("health: key " + key + " is not under " + path)
	}
	ip, err := netip.ParseAddr(strings.TrimSuffix(rest, "/"))
	if err != nil {
		return netip.Addr{}, fmt.Errorf("health: key %s: %w", key, err)
	}
	return ip.Unmap(), nil
}
