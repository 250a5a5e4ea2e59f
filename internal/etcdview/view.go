// Package etcdview keeps a consumer's in-memory state in step with a key
// prefix in etcd: one paginated range read, then a watch from the next
// revision. Every SkyDNS program builds its state on it, so the hard cases
// live here once: compaction while disconnected, a lost watch, an etcd that
// restarted, and knowing whether the state is still current.
//
// The consumer implements Handler. Load hands it the whole prefix as of one
// revision; Apply hands it, in order, every change after that. Nothing is
// skipped and nothing is delivered twice: after a compaction the view
// reloads, and the consumer replaces its state with the new snapshot.
package etcdview

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/skydns/skydns/internal/backoff"
	"github.com/skydns/skydns/internal/etcdclient"
)

// Handler receives the contents of the prefix. Calls never overlap.
type Handler interface {
	// Load replaces the whole state with the key-values of kvs, the prefix
	// as it was at revision rev. kvs yields page by page as it is read; if
	// it yields an error the handler must drop what it built from this
	// call, return that error, and keep its previous state: Load will be
	// called again.
	Load(rev int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error
	// Apply applies changes made after the last Load or Apply, in revision
	// order. rev is the revision the state is at afterwards.
	Apply(rev int64, events []*clientv3.Event)
}

// Options tune a View. Zero values take the defaults.
type Options struct {
	// PageSize is the number of keys per range request, when etcd is too
	// old to stream a range (before 3.7). Default 50000.
	PageSize int64
	// ProgressInterval is how often the view asks etcd to confirm that the
	// watch is current. Default 2s.
	ProgressInterval time.Duration
	// StaleAfter is how long without any word from etcd makes the view
	// stale. Default 3 x ProgressInterval.
	StaleAfter time.Duration
	// Logger gets state changes (loaded, stale, recovered). Default: discard.
	Logger *slog.Logger
	// PrevKV delivers each event with the key's previous value, for
	// consumers that need the deleted value to know what a key meant.
	PrevKV bool
}

// Status is a snapshot of the view's state, for metrics and readiness.
type Status struct {
	Loaded   bool  // the first Load has completed
	Revision int64 // the revision the handler's state is at
	// Seen is the highest revision etcd's answers to this view have
	// carried (reads and watch responses): how far the process has heard
	// from etcd, comparable with `etcdctl endpoint status`. Revision stays
	// at the last change under the prefix; Seen moves with any write.
	Seen     int64
	LastSync time.Time // when etcd last confirmed the state current
	Stale    bool      // no word from etcd for longer than StaleAfter
	Reloads  int64     // full loads after the first (compaction, lost history)
	Restarts int64     // watches re-established
}

// View mirrors one prefix into a Handler.
type View struct {
	cli    *clientv3.Client
	prefix string
	h      Handler
	o      Options
	log    *slog.Logger

	ready     chan struct{}
	readyOnce sync.Once

	revision atomic.Int64
	// seen is the highest revision a linearizable read has shown; such
	// reads never go backwards unless etcd itself did.
	seen     atomic.Int64
	lastSync atomic.Int64 // unix nanoseconds
	stale    atomic.Bool
	reloads  atomic.Int64
	restarts atomic.Int64
}

// New returns a view of every key under prefix. Run starts it.
func New(cli *clientv3.Client, prefix string, h Handler, o Options) *View {
	if o.PageSize <= 0 {
		o.PageSize = 50000
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 2 * time.Second
	}
	if o.StaleAfter <= 0 {
		o.StaleAfter = 3 * o.ProgressInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &View{
		cli: cli, prefix: prefix, h: h, o: o,
		log:   o.Logger.With("prefix", prefix),
		ready: make(chan struct{}),
	}
}

// Ready is closed once the first Load has completed.
func (v *View) Ready() <-chan struct{} { return v.ready }

// Status reports the view's state; safe from any goroutine.
func (v *View) Status() Status {
	s := Status{
		Revision: v.revision.Load(),
		Seen:     v.seen.Load(),
		Stale:    v.stale.Load(),
		Reloads:  v.reloads.Load(),
		Restarts: v.restarts.Load(),
	}
	select {
	case <-v.ready:
		s.Loaded = true
	default:
	}
	if ns := v.lastSync.Load(); ns != 0 {
		s.LastSync = time.Unix(0, ns)
	}
	return s
}

// errReload means the watch cannot continue from the current revision.
var errReload = errors.New("etcdview: history lost, reload")

// Run loads and watches until ctx is done. It returns nil then; it never
// gives up on etcd by itself.
func (v *View) Run(ctx context.Context) error {
	loaded := false
	for {
		if err := v.loadRetrying(ctx); err != nil {
			return nil // only ctx ends the retries
		}
		if loaded {
			v.reloads.Add(1)
		}
		loaded = true
		v.readyOnce.Do(func() { close(v.ready) })
		err := v.watch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		v.log.Warn("etcd view reloading", "reason", err, "revision", v.revision.Load())
	}
}

func (v *View) loadRetrying(ctx context.Context) error {
	retry := backoff.New()
	for {
		err := v.load(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		v.markStale()
		v.log.Warn("etcd view load failed", "err", err)
		if !retry.WaitUntil(ctx, etcdclient.Answers(v.cli)) {
			return ctx.Err()
		}
	}
}

// load reads the whole prefix at one revision and hands it over.
func (v *View) load(ctx context.Context) error {
	// A single-key read costs O(log n) and tells the current revision; a
	// limited range read would count the whole prefix to answer.
	head, err := v.cli.Get(ctx, v.prefix)
	if err != nil {
		return err
	}
	rev := head.Header.Revision
	sctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the stream if the handler stops early
	if err := v.h.Load(rev, v.read(sctx, rev)); err != nil {
		return err
	}
	v.revision.Store(rev)
	v.seen.Store(rev)
	v.markSynced()
	v.log.Info("etcd view loaded", "revision", rev)
	return nil
}

// read yields every key-value under the prefix as of rev. It streams the
// range (etcd 3.7's RangeStream: chunks sized by the server, no count of
// the rest per chunk), and falls back to paging on servers without it.
// Either way every chunk is read at rev, so the snapshot is consistent
// however long it takes; if rev is compacted meanwhile the error makes the
// handler drop the load, and Run starts over.
func (v *View) read(ctx context.Context, rev int64) iter.Seq2[*mvccpb.KeyValue, error] {
	return func(yield func(*mvccpb.KeyValue, error) bool) {
		stream, err := v.cli.GetStream(ctx, v.prefix, clientv3.WithPrefix(), clientv3.WithRev(rev))
		if err != nil {
			yield(nil, err)
			return
		}
		for resp := range stream {
			if err := resp.Err(); err != nil {
				if status.Code(err) == codes.Unimplemented {
					v.readPages(ctx, rev, yield)
					return
				}
				yield(nil, err)
				return
			}
			for _, kv := range resp.Kvs {
				if !yield(kv, nil) {
					return
				}
			}
		}
	}
}

// readPages pages through the prefix with limited range reads. etcd
// counts the rest of the range for each page, so pages are large. The
// reads may be serializable: the revision was pinned by a linearizable
// read, and a member that has not reached it fails rather than answer.
func (v *View) readPages(ctx context.Context, rev int64, yield func(*mvccpb.KeyValue, error) bool) {
	end := clientv3.GetPrefixRangeEnd(v.prefix)
	key := v.prefix
	for {
		resp, err := v.cli.Get(ctx, key, clientv3.WithRange(end), clientv3.WithLimit(v.o.PageSize),
			clientv3.WithRev(rev), clientv3.WithSerializable())
		if err != nil {
			yield(nil, err)
			return
		}
		for _, kv := range resp.Kvs {
			if !yield(kv, nil) {
				return
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// watch follows changes from the current revision until history is lost
// (returns errReload) or ctx ends.
func (v *View) watch(ctx context.Context) error {
	retry := backoff.New()
	for {
		synced := v.lastSync.Load()
		err := v.watchOnce(ctx)
		if ctx.Err() != nil || errors.Is(err, errReload) {
			return err
		}
		if v.lastSync.Load() != synced {
			retry = backoff.New() // it worked for a while: retry fast
		}
		v.markStale()
		v.restarts.Add(1)
		v.log.Warn("etcd watch lost, re-watching", "err", err, "revision", v.revision.Load())
		if !retry.WaitUntil(ctx, etcdclient.Answers(v.cli)) {
			return ctx.Err()
		}
	}
}

func (v *View) watchOnce(ctx context.Context) error {
	// WithRequireLeader ends the watch when the member is cut off from the
	// cluster, instead of leaving it silently open on a minority member.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	rev := v.revision.Load()
	opts := []clientv3.OpOption{clientv3.WithPrefix(), clientv3.WithRev(rev + 1),
		clientv3.WithProgressNotify(), clientv3.WithCreatedNotify()}
	if v.o.PrevKV {
		opts = append(opts, clientv3.WithPrevKV())
	}
	wch := v.cli.Watch(wctx, v.prefix, opts...)

	tick := time.NewTicker(v.o.ProgressInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			v.checkStale()
			// A linearizable read of one key proves that etcd answers with
			// a quorum. Progress notifications alone cannot: etcd sends
			// none while nothing at all is written. The read's revision
			// also catches an etcd that lost its data (restored from an
			// older backup): then our state is from a future that is gone,
			// and so may be what the daemon wrote elsewhere meanwhile,
			// which a reload tells it (a scanner writes its reports again).
			// Compared with the highest revision seen, not only with ours:
			// a restore that took back only writes outside the prefix
			// leaves our own revision in the past.
			pctx, pcancel := context.WithTimeout(wctx, v.o.ProgressInterval)
			resp, err := v.cli.Get(pctx, v.prefix)
			pcancel()
			if err == nil {
				rev := resp.Header.Revision
				if rev < v.revision.Load() || rev < v.seen.Load() {
					return errReload
				}
				v.see(rev)
				v.markSynced()
			}
		case resp, ok := <-wch:
			if !ok {
				return errors.New("watch channel closed")
			}
			if resp.CompactRevision != 0 || errors.Is(resp.Err(), rpctypes.ErrCompacted) {
				return errReload
			}
			if err := resp.Err(); err != nil {
				return err
			}
			if resp.Canceled {
				return errors.New("watch canceled by server")
			}
			v.see(resp.Header.Revision)
			if len(resp.Events) > 0 {
				last := resp.Events[len(resp.Events)-1].Kv.ModRevision
				v.h.Apply(last, resp.Events)
				v.revision.Store(last)
			} else if resp.IsProgressNotify() {
				// A progress notification promises every event up to its
				// revision was sent. A revision below ours means etcd lost
				// its data (restored from backup, wiped): our state is from
				// a future that no longer exists.
				if resp.Header.Revision < v.revision.Load() {
					return errReload
				}
			}
			v.markSynced()
		}
	}
}

// see raises seen to rev. Every answer's header revision is one etcd has
// committed, so seen never passes etcd's own.
func (v *View) see(rev int64) {
	for {
		old := v.seen.Load()
		if rev <= old || v.seen.CompareAndSwap(old, rev) {
			return
		}
	}
}

func (v *View) markSynced() {
	v.lastSync.Store(time.Now().UnixNano())
	if v.stale.Swap(false) {
		v.log.Info("etcd view current again", "revision", v.revision.Load())
	}
}

func (v *View) markStale() {
	if !v.stale.Swap(true) {
		v.log.Warn("etcd view stale: serving the last known state", "revision", v.revision.Load())
	}
}

func (v *View) checkStale() {
	if last := v.lastSync.Load(); last != 0 && time.Since(time.Unix(0, last)) > v.o.StaleAfter {
		v.markStale()
	}
}
