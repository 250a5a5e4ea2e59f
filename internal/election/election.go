// Package election is a daemon's side of a leader election in etcd:
// skydns-schedule and the Kubernetes sync of skydns-kubeapi both run one,
// and a lease lost or a handover must go the same way in both. It owns the
// mechanics (the lease, the session that keeps it alive, the campaign, one
// term at a time, the step-down); what a term does, and what the daemon
// logs and counts, stay with the daemon, which Run tells through Config.
//
// A term ends when Run's context ends (the candidate resigns and revokes
// its lease, so that a standby takes over at once), when the lease is lost
// (etcd out of reach for longer than the TTL: the session is dead, so there
// is nothing to revoke), or when Lead returns; in the last two cases the
// candidate campaigns again at once.
package election

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/skydns/skydns/internal/backoff"
	"github.com/skydns/skydns/internal/etcdclient"
)

// Config is one candidate in one election. The reports (Granted to
// Failed) may be nil; Run calls them on its own goroutine, one at a time.
type Config struct {
	// Prefix is the election's key prefix. A trailing "/" is dropped:
	// NewElection adds one, and with both, candidates of "a" would also
	// wait on "ab".
	Prefix string
	// Value is this candidate's name, which a standby sees as the leader.
	// The key holds it as JSON (see Value).
	Value string
	// TTL is the lease, whole seconds: a leader that stops without
	// resigning is replaced this long after etcd last heard from it.
	TTL time.Duration
	// RequestTimeout bounds the grant of the lease, the look-up of the
	// leader and the resignation; and once Run's ctx has ended, all the
	// letting go together, so that Run returns within it even with etcd
	// gone.
	RequestTimeout time.Duration

	// Lead runs one term; required. Its ctx ends when Run's ctx ends or
	// the lease is lost. What it returns goes to Lost.
	Lead func(ctx context.Context, el *concurrency.Election) error

	// Granted: etcd granted a lease (it is reachable); the candidate is
	// about to campaign.
	Granted func()
	// Standby: leader leads as the candidate starts to campaign. Set, it
	// costs one look-up per campaign.
	Standby func(leader string)
	// SteppedDown: a term ended because Run's ctx ended; the candidate
	// has resigned.
	SteppedDown func()
	// Lost: a term ended while Run's ctx lasts (the lease was lost, or
	// Lead returned err); the candidate has resigned, if it could, and
	// campaigns again at once.
	Lost func(err error)
	// Failed: the candidate could not campaign (no lease, no session, the
	// lease lost before a term); Run tries again after a backoff.
	Failed func(err error)
}

// Run campaigns until ctx ends: a session at a time, each with a new
// lease, at most one term each. It returns once the last term has ended
// and its lease is revoked (or was lost), or RequestTimeout after ctx
// ended if etcd does not answer: the lease then expires with its TTL.
func Run(ctx context.Context, cli *clientv3.Client, c Config) {
	c.Prefix = strings.TrimRight(c.Prefix, "/")
	b := backoff.New()
	for ctx.Err() == nil {
		err := c.session(ctx, cli)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if c.Failed != nil {
				c.Failed(err)
			}
			if !b.WaitUntil(ctx, etcdclient.Answers(cli)) {
				return
			}
			continue
		}
		b = backoff.New()
	}
}

// session runs one session: wait to lead, lead until the session or ctx
// ends, step down. It returns nil after a term, an error if it could not
// campaign.
func (c *Config) session(ctx context.Context, cli *clientv3.Client) error {
	// The lease is granted here, under ctx, because a session's own grant
	// cannot be interrupted; the session then keeps it alive. A grant in
	// flight as quorum returns or the leader changes is tried again within
	// a second (etcdclient.Retry) rather than after RequestTimeout: the
	// chaos suite saw a schedule lead 4 s after quorum's return, and a dead
	// backend stay in DNS as long. A grant whose answer was lost leaves an
	// unused lease, which expires after TTL.
	var g *clientv3.LeaseGrantResponse
	err := etcdclient.Retry(ctx, time.Now().Add(c.RequestTimeout), func(gctx context.Context) error {
		var err error
		g, err = cli.Grant(gctx, int64(c.TTL/time.Second))
		return err
	})
	if err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	if c.Granted != nil {
		c.Granted()
	}
	// Letting go (the resignation, the revoke, and the clean-up of a
	// campaign cut short) must end within RequestTimeout of ctx, also with
	// etcd gone. concurrency does part of it under the client's own
	// context, which ends only when the client closes, after Run has
	// returned: so the session gets a view of cli whose context ends
	// RequestTimeout after ctx.
	grace, endGrace := afterEnd(ctx, c.RequestTimeout)
	defer endGrace()
	scli := clientv3.NewCtxClient(grace)
	scli.KV, scli.Lease, scli.Watcher = cli.KV, cli.Lease, cli.Watcher
	sess, err := concurrency.NewSession(scli, concurrency.WithLease(g.ID), concurrency.WithTTL(int(g.TTL)))
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	defer release(sess)
	el := concurrency.NewElection(sess, c.Prefix)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
			cancel() // the lease is lost: stop campaigning or leading
		case <-cctx.Done():
		}
	}()
	if c.Standby != nil {
		lctx, lcancel := context.WithTimeout(cctx, c.RequestTimeout)
		if resp, err := el.Leader(lctx); err == nil && len(resp.Kvs) > 0 {
			c.Standby(Holder(resp.Kvs[0].Value))
		}
		lcancel()
	}
	if err := el.Campaign(cctx, EncodeValue(c.Value)); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		select {
		case <-sess.Done():
			return errors.New("lease lost while waiting to lead")
		default:
		}
		return fmt.Errorf("campaign: %w", err)
	}
	select {
	case <-sess.Done():
		return errors.New("lease lost while campaigning")
	default:
	}
	err = c.Lead(cctx, el)
	rctx, rcancel := context.WithTimeout(grace, c.RequestTimeout)
	_ = el.Resign(rctx)
	rcancel()
	if ctx.Err() != nil {
		if c.SteppedDown != nil {
			c.SteppedDown()
		}
		return nil
	}
	if c.Lost != nil {
		c.Lost(err)
	}
	return nil
}

// release lets a session go. A live one is closed, which revokes its
// lease: on a clean stop a standby needs no TTL to take over. The revoke
// waits for etcd for up to the TTL, or until the session's client context
// ends (see afterEnd). A dead one (its lease expired or could not be
// refreshed) has nothing to revoke.
func release(sess *concurrency.Session) {
	select {
	case <-sess.Done():
		sess.Orphan()
	default:
		_ = sess.Close()
	}
}

// afterEnd returns a context that ends d after ctx ends, or when stop is
// called: the time a candidate has to let go once it is told to stop.
func afterEnd(ctx context.Context, d time.Duration) (_ context.Context, stop func()) {
	grace, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stopAfter := context.AfterFunc(ctx, func() { time.AfterFunc(d, cancel) })
	return grace, func() {
		stopAfter()
		cancel()
	}
}
