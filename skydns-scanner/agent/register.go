package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/backoff"
	"github.com/skydns/skydns/internal/etcdclient"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/version"
)

// heartbeat keeps the agent registered: a lease of three heartbeats, the
// heartbeat key on it, and one keep-alive per heartbeat-interval. The
// agent's reports live on the same lease, so an agent that stops (or loses
// etcd for longer than the TTL) takes its key and its votes with it. A
// lost lease is replaced by a new one. When ctx ends the lease is revoked,
// so that a clean stop shows at once instead of after the TTL.
func (a *Agent) heartbeat(ctx context.Context) {
	var lease clientv3.LeaseID
	defer func() {
		if lease == clientv3.NoLease {
			return
		}
		// ctx is done: the revoke needs its own deadline.
		rctx, cancel := context.WithTimeout(context.Background(), a.cfg.RequestTimeout)
		defer cancel()
		if _, err := a.cli.Revoke(rctx, lease); err != nil {
			a.cfg.Log.Warn("revoking the lease failed; the key and reports expire with its TTL", "err", err)
			return
		}
		a.cfg.Log.Info("unregistered", "lease", int64(lease))
	}()
	reachable := false
	for ctx.Err() == nil {
		id, err := a.register(ctx)
		if err != nil {
			return // ctx ended
		}
		lease = id
		if !reachable {
			// e2e tests and operators look for this line.
			a.cfg.Log.Info("etcd reachable")
			reachable = true
		}
		a.registered.Store(true)
		a.m.registered.Set(1)
		a.rep.setLease(id)
		a.keepAlive(ctx, id)
		a.registered.Store(false)
		a.m.registered.Set(0)
	}
}

// register grants a lease and puts the heartbeat key on it, retrying until
// it works or ctx ends.
func (a *Agent) register(ctx context.Context) (clientv3.LeaseID, error) {
	b := backoff.New()
	warned := false
	for {
		id, ttl, err := a.registerOnce(ctx)
		if err == nil {
			a.cfg.Log.Info("registered", "agent", a.cfg.Name, "key", a.cfg.Paths.AgentKey(a.cfg.Name),
				"lease", int64(id), "ttl", ttl)
			return id, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if !warned {
			a.cfg.Log.Warn("cannot register with etcd yet; probing goes on, reports wait", "err", err)
			warned = true
		}
		if !b.WaitUntil(ctx, etcdclient.Answers(a.cli)) {
			return 0, ctx.Err()
		}
	}
}

func (a *Agent) registerOnce(ctx context.Context) (clientv3.LeaseID, int64, error) {
	rctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	defer cancel()
	g, err := a.cli.Grant(rctx, a.cfg.leaseTTL())
	if err != nil {
		return 0, 0, err
	}
	hb := monitor.Heartbeat{Idle: !a.cfg.EnableCheck, TTL: g.TTL, Started: a.started, Version: version.Version, Site: a.cfg.Site}
	key := a.cfg.Paths.AgentKey(a.cfg.Name)
	// Only if nobody holds the name: two agents under one name would share
	// jobs and report keys, and the first to stop would take the other's
	// reports with it. A crashed predecessor's key goes with its lease.
	resp, err := a.cli.Txn(rctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(hb.Encode()), clientv3.WithLease(g.ID))).
		Commit()
	if err == nil && !resp.Succeeded {
		err = fmt.Errorf("another agent is registered as %q; waiting for its key %s to go", a.cfg.Name, key)
	}
	if err != nil {
		// Do not leave the lease to wait for its TTL.
		_, _ = a.cli.Revoke(rctx, g.ID)
		return 0, 0, err
	}
	return g.ID, g.TTL, nil
}

// keepAlive refreshes lease every heartbeat-interval until ctx ends or etcd
// says the lease is gone.
func (a *Agent) keepAlive(ctx context.Context, lease clientv3.LeaseID) {
	t := time.NewTicker(a.cfg.HeartbeatInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		kctx, cancel := context.WithTimeout(ctx, max(a.cfg.HeartbeatInterval, time.Second))
		_, err := a.cli.KeepAliveOnce(kctx, lease)
		cancel()
		switch {
		case err == nil:
			if failing {
				a.cfg.Log.Info("heartbeat works again")
				failing = false
			}
		case ctx.Err() != nil:
			return
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			a.m.heartbeatFailures.Inc()
			a.cfg.Log.Warn("lease expired (etcd was out of reach too long); registering again", "lease", int64(lease))
			return
		default:
			a.m.heartbeatFailures.Inc()
			if !failing {
				a.cfg.Log.Warn("heartbeat failed; probing goes on", "err", err)
				failing = true
			}
		}
	}
}
