package health

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Override is the value of an override key, <override-path><ip>, e.g.
// /skydns/monitor/override/192.0.2.1 = {"status":"DOWN","reason":"kernel
// upgrade","user":"alice","since":"..."}: an operator's decision about an
// IP that wins over the health checkers. DOWN takes the IP out of the
// answers (maintenance, a drain); UP serves it even when its checks fail.
//
// The skydns-schedule leader writes the override into the IP's status
// while it lasts, and the checkers' verdict again the moment it ends. The
// key has no lease: it survives restarts of every program, until it is
// deleted or, when Until is set, until then.
type Override struct {
	Status string    `json:"status"`           // UP or DOWN
	Reason string    `json:"reason,omitempty"` // why, for people
	User   string    `json:"user,omitempty"`   // who set it
	Since  time.Time `json:"since,omitzero"`   // when it was set
	Until  time.Time `json:"until,omitzero"`   // when it stops counting; zero: never
}

// State reads the status word; anything but UP or DOWN is an error.
func (o Override) State() (State, error) {
	switch strings.ToUpper(o.Status) {
	case "UP":
		return Up, nil
	case "DOWN":
		return Down, nil
	}
	return Unknown, fmt.Errorf("health: override status %q: want UP or DOWN", o.Status)
}

// Active reports whether the override counts at now: it has no Until, or
// Until is still ahead.
func (o Override) Active(now time.Time) bool {
	return o.Until.IsZero() || now.Before(o.Until)
}

// Describe is the reason the schedule leader writes into the status of an
// overridden IP: "override: <reason> (by <user>)", the parts that are
// empty left out.
func (o Override) Describe() string {
	s := "override"
	if o.Reason != "" {
		s += ": " + o.Reason
	}
	if o.User != "" {
		s += " (by " + o.User + ")"
	}
	return s
}

// DecodeOverride parses an override value. Unlike a status, it must parse
// whole: an override whose until cannot be read might otherwise hold for
// ever. Unknown fields are ignored. The status word is returned
// upper-case.
func DecodeOverride(b []byte) (Override, error) {
	var o Override
	if err := json.Unmarshal(b, &o); err != nil {
		return Override{}, fmt.Errorf("health: override: %w", err)
	}
	st, err := o.State()
	if err != nil {
		return Override{}, err
	}
	o.Status = st.String()
	return o, nil
}

// EncodeOverride renders an override value.
func EncodeOverride(o Override) ([]byte, error) {
	st, err := o.State()
	if err != nil {
		return nil, err
	}
	o.Status = st.String()
	return json.Marshal(o)
}
