package agent

import (
	"time"

	"github.com/skydns/skydns/internal/health"
)

// verdict is an agent's view of one target, with flap protection: it
// turns UP only after rise passing probes in a row and DOWN only after
// fall failing ones, so a target that fails one probe in three never
// changes state. A new target starts Unknown and gets its first verdict
// the same way.
type verdict struct {
	state  health.State
	since  time.Time
	reason string // the failure that made it DOWN
	pass   int    // consecutive passing probes
	fail   int    // consecutive failing probes
}

// observe counts one probe result and reports whether the state changed.
func (v *verdict) observe(ok bool, reason string, rise, fall int, now time.Time) bool {
	if ok {
		v.pass++
		v.fail = 0
		if v.state != health.Up && v.pass >= rise {
			v.state, v.since, v.reason = health.Up, now, ""
			return true
		}
		return false
	}
	v.fail++
	v.pass = 0
	if v.state != health.Down && v.fail >= fall {
		v.state, v.since, v.reason = health.Down, now, reason
		return true
	}
	return false
}

// report is the verdict as stored under the report key.
func (v *verdict) report() health.Status {
	return health.Status{Status: v.state.String(), Since: v.since.UTC().Truncate(time.Millisecond), Reason: v.reason}
}
