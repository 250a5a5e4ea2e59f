// Package events is the operators' history: every status change the
// schedule leader decides and every write through the API, kept in etcd
// under <etcd-prefix>/events/ for a bounded time and count. It holds the
// model (Event, its key and value) used by both writers (skydns-schedule,
// skydns-kubeapi) and the reader (GET /skydns/events), and the Writer
// that stores events asynchronously, so that a slow or dead etcd never
// delays or fails what an event describes.
package events

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kinds of events.
const (
	KindStatus = "status" // the schedule leader changed or removed an IP's status
	KindAPI    = "api"    // a write through the API
)

// Event is one entry of the history. Its JSON value is stored at Key; it
// must read as a record of nothing in the SkyDNS message format (no host
// or text field), like every value under the prefix.
type Event struct {
	// ID is the key's last element; not stored, filled in by List.
	ID    string    `json:"id,omitempty"`
	Time  time.Time `json:"time"`
	Kind  string    `json:"kind"`
	IPs   []string  `json:"ips,omitempty"`
	Names []string  `json:"names,omitempty"`

	// A status change (KindStatus): the status before (From, "" when the IP
	// had none) and after (To, "" when the key was deleted).
	From     string  `json:"from,omitempty"`
	To       string  `json:"to,omitempty"`
	Votes    string  `json:"votes,omitempty"`
	Reason   string  `json:"reason,omitempty"`
	Override bool    `json:"override,omitempty"`
	Agents   []Agent `json:"agents,omitempty"`

	// A write through the API (KindAPI).
	User    string   `json:"user,omitempty"`
	Remote  string   `json:"remote,omitempty"`
	Method  string   `json:"method,omitempty"`
	Path    string   `json:"path,omitempty"`
	Changes []Change `json:"changes,omitempty"`
}

// Agent is one checker's vote in a status change.
type Agent struct {
	Name string `json:"name"`
	Vote string `json:"vote"` // UP, DOWN, or "" when it has no verdict yet
}

// Change is one etcd key a write changed: its value before (absent: the key
// was created) and after (absent: deleted), as stored.
type Change struct {
	Key    string          `json:"key"`
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
}

// Dir is the events' directory under the prefix, with its trailing slash.
func Dir(prefix string) string { return strings.TrimSuffix(prefix, "/") + "/events/" }

// idTime is the width of the time part of an ID: Unix nanoseconds, zero
// padded, so that the keys sort by time and a listing sorted by key
// descending is the newest first.
const idTime = 19

// NewID returns the ID of an event at t: the zero-padded Unix nanoseconds,
// a dash and 8 random hex digits, so that events of the same nanosecond
// (several API replicas, the schedule) do not collide.
func NewID(t time.Time) string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%0*d-%s", idTime, t.UnixNano(), hex.EncodeToString(r[:]))
}

// Key is the key of the event with id.
func Key(prefix, id string) string { return Dir(prefix) + id }

// timeKey is the smallest key of an event at or after t.
func timeKey(prefix string, t time.Time) string {
	return Dir(prefix) + fmt.Sprintf("%0*d", idTime, max(t.UnixNano(), 0))
}

// TimeOf is the time in an ID.
func TimeOf(id string) (time.Time, error) {
	ns, _, _ := strings.Cut(id, "-")
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil || len(ns) != idTime {
		return time.Time{}, fmt.Errorf("events: bad id %q", id)
	}
	return time.Unix(0, n).UTC(), nil
}

// Encode is the stored value of e (without its ID).
func Encode(e Event) ([]byte, error) {
	e.ID = ""
	if e.Kind == "" {
		return nil, errors.New("events: an event needs a kind")
	}
	return json.Marshal(e)
}

// Decode reads a stored value; id is the key's last element.
func Decode(id string, b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("events: %s: %w", id, err)
	}
	e.ID = id
	return e, nil
}

// Matches reports whether e concerns ip (when not "") and name (when not
// "": the name itself, case and final dot aside).
func (e Event) Matches(ip, name string) bool {
	if ip != "" && !contains(e.IPs, ip, false) {
		return false
	}
	if name != "" && !contains(e.Names, name, true) {
		return false
	}
	return true
}

func contains(list []string, s string, isName bool) bool {
	if isName {
		s = strings.ToLower(strings.TrimSuffix(s, "."))
	}
	for _, v := range list {
		if isName {
			v = strings.ToLower(strings.TrimSuffix(v, "."))
		}
		if v == s {
			return true
		}
	}
	return false
}
