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
	Ports  []int     `json:"ports,omitempty"`  // what is probed
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

// Decode parses a status value.
func Decode(b []byte) (Status, error) {
	var s Status
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("health: %w", err)
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
