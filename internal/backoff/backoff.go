// Package backoff spaces out retries against etcd: 100 ms, doubling, at
// most 5 s, so a daemon neither hammers a struggling cluster nor waits long
// once it is back.
package backoff

import (
	"context"
	"time"
)

// Backoff is the wait before the next retry; a new one starts short.
type Backoff struct{ d time.Duration }

// New returns a backoff whose first wait is 100 ms.
func New() *Backoff { return &Backoff{d: 100 * time.Millisecond} }

// Wait sleeps for the current delay, doubles it (up to 5 s), and reports
// false if ctx ended first.
func (b *Backoff) Wait(ctx context.Context) bool {
	t := time.NewTimer(b.d)
	defer t.Stop()
	b.d = min(2*b.d, 5*time.Second)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
