package forward

import (
	"sync"

	"github.com/miekg/dns"
)

// call is one question on the wire and, once done is closed, its outcome.
// msg is shared by every waiter and the cache, so it is never modified.
type call struct {
	done chan struct{}
	msg  *dns.Msg
	err  error
}

// flightGroup makes concurrent misses for the same key share one query.
type flightGroup struct {
	mu    sync.Mutex
	calls map[key]*call
}

// join returns the call for k, creating it when none is in flight; leader
// is true for the caller that must run it. With max calls in flight
// already, a new one is not created: c is nil. Joining one is always
// possible, since it costs no query.
func (g *flightGroup) join(k key, max int) (c *call, leader bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[k]; ok {
		return c, false
	}
	if len(g.calls) >= max {
		return nil, false
	}
	if g.calls == nil {
		g.calls = map[key]*call{}
	}
	c = &call{done: make(chan struct{})}
	g.calls[k] = c
	return c, true
}

// inFlight is the number of questions on the wire.
func (g *flightGroup) inFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.calls)
}

// leave ends the flight for k: later misses start a new query.
func (g *flightGroup) leave(k key) {
	g.mu.Lock()
	delete(g.calls, k)
	g.mu.Unlock()
}
