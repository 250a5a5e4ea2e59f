package etcdclient

import (
	"context"
	"errors"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// FirstTry bounds the first try of a request in Retry; each further try
// may take twice as long. A request takes milliseconds when etcd has a
// leader; one a member accepted just as its leader died is dropped by raft
// and would hang until the request's whole timeout, although a new leader
// is elected within etcd's election timeout (1 s by default).
const FirstTry = time.Second

// retryPause separates a failed try from the next: an unreachable member
// fails in microseconds.
const retryPause = 50 * time.Millisecond

// Retry runs op, an etcd request that is safe to send twice (idempotent,
// or guarded by a comparison that makes a second application a no-op or
// a refusal), until it succeeds, fails for good, or deadline passes. The
// first try is bounded by FirstTry and made even past deadline; each
// further try by twice the last, up to what is left. It returns op's last
// error, nil once op succeeded.
//
// This is how every SkyDNS write rides out an etcd leader change: the API's
// transactions, the scanners' reports, the schedule leader's jobs and
// status, the elections' lease grants (op sees the try's context; it
// decides what an answer means).
func Retry(ctx context.Context, deadline time.Time, op func(context.Context) error) error {
	try := FirstTry
	first := true
	for {
		limit := try
		if !first {
			limit = min(try, time.Until(deadline))
		}
		first = false
		cctx, cancel := context.WithTimeout(ctx, limit)
		err := op(cctx)
		cancel()
		if err == nil || Permanent(err) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(retryPause):
		}
		if time.Until(deadline) <= 0 {
			return err
		}
		try *= 2
	}
}

// Permanent reports whether err is etcd refusing the request itself, which
// no retry changes, as opposed to etcd not answering (no leader, a lost
// connection, a try's deadline).
func Permanent(err error) bool {
	for _, p := range []error{rpctypes.ErrTooManyOps, rpctypes.ErrRequestTooLarge, rpctypes.ErrLeaseNotFound,
		rpctypes.ErrDuplicateKey, rpctypes.ErrPermissionDenied, rpctypes.ErrCompacted, rpctypes.ErrFutureRev} {
		if errors.Is(err, p) {
			return true
		}
	}
	return false
}
