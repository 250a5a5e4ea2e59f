package scheduler

import "github.com/skydns/skydns/internal/health"

// decide turns the votes of an IP's n trusted live checkers (up said UP,
// down said DOWN, the rest have no verdict yet) into its status, given the
// current one.
//
// DOWN needs a strict majority of the checkers; UP needs at least half of
// them, so a tie is UP. Between the two (too many checkers without a
// verdict yet, as right after a reassignment) the status stays as it is:
// a checker that has not spoken yet must neither bring an IP down nor
// bring it back. With no checker at all nothing changes either.
func decide(cur health.State, up, down, n int) health.State {
	switch {
	case n == 0:
		return cur
	case 2*down > n:
		return health.Down
	case 2*up >= n:
		return health.Up
	}
	return cur
}

// minCompared is how many targets an agent must share with peers that
// have a verdict before it can be found suspect: one disagreement proves
// nothing.
const minCompared = 2

// suspect reports whether an agent's DOWN votes should be ignored: of the
// targets where it and at least one peer have a verdict (compared), it
// says DOWN on more than half while the majority of its peers there say UP
// (disagree). An agent that suddenly sees everything down while its peers
// see the same IPs up has lost its own network, not the IPs theirs.
func suspect(compared, disagree int) bool {
	return compared >= minCompared && 2*disagree > compared
}
