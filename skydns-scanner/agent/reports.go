package agent

import (
	"context"
	"log/slog"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/backoff"
	"github.com/skydns/skydns/internal/etcdclient"
	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
)

// maxTxnOps stays under etcd's default --max-txn-ops (128).
const maxTxnOps = 100

// reporter keeps the agent's reports in etcd equal to its verdicts. The
// probe loop only says what it wants (set, remove); the reporter writes
// the difference in batches, retries while etcd is away, and rewrites
// everything when the agent's lease is new (the old lease took the old
// reports with it). Nothing is written while nothing changes.
type reporter struct {
	cli     *clientv3.Client
	paths   monitor.Paths
	agent   string
	timeout time.Duration
	log     *slog.Logger
	m       *metrics

	mu    sync.Mutex
	lease clientv3.LeaseID
	want  map[monitor.Target]health.Status // the reports that should exist
	dirty map[monitor.Target]uint64        // to write; the value orders changes
	seq   uint64
	kick  chan struct{}
}

func newReporter(cli *clientv3.Client, c *Config, m *metrics) *reporter {
	return &reporter{
		cli: cli, paths: c.Paths, agent: c.Name, timeout: c.RequestTimeout, log: c.Log, m: m,
		want: map[monitor.Target]health.Status{}, dirty: map[monitor.Target]uint64{},
		kick: make(chan struct{}, 1),
	}
}

func (r *reporter) markLocked(ip monitor.Target) {
	r.seq++
	r.dirty[ip] = r.seq
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// set records a new verdict on ip.
func (r *reporter) set(ip monitor.Target, s health.Status) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.want[ip] = s
	r.markLocked(ip)
}

// remove drops the report on ip (the job is gone).
func (r *reporter) remove(ip monitor.Target) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.want[ip]; !ok {
		return // never reported: nothing in etcd to delete
	}
	delete(r.want, ip)
	r.markLocked(ip)
}

// setLease switches to a new lease: every report is written again on it.
func (r *reporter) setLease(id clientv3.LeaseID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lease = id
	for ip := range r.want {
		r.markLocked(ip)
	}
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// rewriteAll writes every report again on the current lease: after etcd
// was restored from a snapshot, the reports written since are gone, and
// nothing else would write them until a verdict changes.
func (r *reporter) rewriteAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ip := range r.want {
		r.markLocked(ip)
	}
}

type pending struct {
	ip  monitor.Target
	seq uint64
	put *health.Status // nil: delete
}

// take returns up to maxTxnOps changes to write, and the lease to put them on.
func (r *reporter) take() ([]pending, clientv3.LeaseID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lease == clientv3.NoLease {
		return nil, r.lease
	}
	out := make([]pending, 0, min(len(r.dirty), maxTxnOps))
	for ip, seq := range r.dirty {
		p := pending{ip: ip, seq: seq}
		if s, ok := r.want[ip]; ok {
			p.put = &s
		}
		out = append(out, p)
		if len(out) == maxTxnOps {
			break
		}
	}
	return out, r.lease
}

// done clears what was written, unless it changed again meanwhile.
func (r *reporter) done(batch []pending) (more bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range batch {
		if r.dirty[p.ip] == p.seq {
			delete(r.dirty, p.ip)
		}
	}
	return len(r.dirty) > 0 && r.lease != clientv3.NoLease
}

// run writes changes until ctx ends.
func (r *reporter) run(ctx context.Context) {
	b := backoff.New()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		}
		for {
			batch, lease := r.take()
			if len(batch) == 0 {
				break
			}
			if err := r.write(ctx, batch, lease); err != nil {
				if ctx.Err() != nil {
					return
				}
				r.m.reportErrors.Inc()
				if !failing {
					r.log.Warn("writing reports failed; retrying", "err", err, "pending", len(batch))
					failing = true
				}
				if !b.WaitUntil(ctx, etcdclient.Answers(r.cli)) {
					return
				}
				continue
			}
			if failing {
				r.log.Info("writing reports works again")
				failing = false
			}
			b = backoff.New()
			r.m.reportsWritten.Add(float64(len(batch)))
			if !r.done(batch) {
				break
			}
		}
	}
}

func (r *reporter) write(ctx context.Context, batch []pending, lease clientv3.LeaseID) error {
	ops := make([]clientv3.Op, 0, len(batch))
	for _, p := range batch {
		key := r.paths.CheckReportKey(p.ip.IP, r.agent, p.ip.Check)
		if p.put == nil {
			ops = append(ops, clientv3.OpDelete(key))
			continue
		}
		v, err := health.Encode(*p.put)
		if err != nil {
			continue // only UP and DOWN are ever set
		}
		ops = append(ops, clientv3.OpPut(key, string(v), clientv3.WithLease(lease)))
	}
	// Puts and deletes of our own keys: safe to send again when a try is
	// lost to a leader change, and tried again at once rather than after
	// the whole request timeout (a DOWN report late by that much keeps a
	// dead backend in DNS as long).
	return etcdclient.Retry(ctx, time.Now().Add(r.timeout), func(cctx context.Context) error {
		_, err := r.cli.Txn(cctx).Then(ops...).Commit()
		return err
	})
}
