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
func New() *Backoff { return &Backoff{d: first} }

const (
	first = 100 * time.Millisecond
	limit = 5 * time.Second
	// ProbeEvery is how often WaitUntil asks whether etcd is back: the
	// bound on how late a retry comes after it is.
	ProbeEvery = 200 * time.Millisecond
)

// Wait sleeps for the current delay, doubles it (up to 5 s), and reports
// false if ctx ended first.
func (b *Backoff) Wait(ctx context.Context) bool {
	t := time.NewTimer(b.d)
	defer t.Stop()
	b.d = min(2*b.d, limit)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// WaitUntil is Wait that ends early once back reports that what failed
// works again: a backoff grown to 5 s during a long outage would otherwise
// leave the retry up to 5 s behind etcd's return. After the first 100 ms,
// back is called at most every ProbeEvery with a context that ends by
// then: a cheap request to etcd. The delay still grows, so that an
// operation failing while etcd answers is not retried in a tight loop; the
// caller starts a new Backoff once the operation itself works again.
func (b *Backoff) WaitUntil(ctx context.Context, back func(context.Context) bool) bool {
	end := time.Now().Add(b.d)
	b.d = min(2*b.d, limit)
	t := time.NewTimer(first)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	}
	for time.Now().Before(end) {
		pctx, cancel := context.WithTimeout(ctx, min(ProbeEvery, time.Until(end)))
		ok := back(pctx)
		if !ok {
			<-pctx.Done() // one probe per ProbeEvery, even when it fails at once
		}
		cancel()
		if ctx.Err() != nil {
			return false
		}
		if ok {
			return true
		}
	}
	return true
}
