package events

import (
	"context"
	"log/slog"

	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Defaults of the retention keys (events-retention, events-max).
const (
	DefaultRetention = 7 * 24 * time.Hour
	DefaultMax       = 100000
	// DefaultQueue is how many events may wait for etcd; beyond it they
	// are dropped and counted.
	DefaultQueue = 1024
)

// maxBatch bounds the events stored in one etcd transaction.
const maxBatch = 64

// WriterConfig configures a Writer.
type WriterConfig struct {
	Prefix string // etcd-prefix: events go under Dir(Prefix)
	// Retention is how long an event is kept at least (an etcd lease);
	// it goes at most a lease period (Retention/24, 1 s to 1 h) later.
	Retention time.Duration
	// Max is the most events kept: a writer deletes the oldest beyond it,
	// at most once per lease period and after every Max/10 events it wrote.
	Max            int
	Queue          int
	RequestTimeout time.Duration
	Log            *slog.Logger
	// Registry gets skydns_events_written_total and
	// skydns_events_dropped_total; nil: none.
	Registry prometheus.Registerer
}

// Writer stores events in the background: Add never blocks, and an event
// that cannot be stored (a full queue, etcd away) is dropped and counted.
// What an event describes has already happened and must not wait for it.
type Writer struct {
	cli     *clientv3.Client
	cfg     WriterConfig
	queue   chan Event
	written prometheus.Counter
	dropped *prometheus.CounterVec

	// Run's own state.
	lease      clientv3.LeaseID
	leaseUntil time.Time // new events take a new lease from then on
	sincePrune int
	lastPrune  time.Time
}

// NewWriter returns a Writer over cli; Run stores what Add queues.
func NewWriter(cli *clientv3.Client, cfg WriterConfig) *Writer {
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Max <= 0 {
		cfg.Max = DefaultMax
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	w := &Writer{cli: cli, cfg: cfg, queue: make(chan Event, cfg.Queue),
		written: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "skydns", Name: "events_written_total",
			Help: "Events (status changes, API writes) stored in etcd under <etcd-prefix>/events/."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "skydns", Name: "events_dropped_total",
			Help: "Events lost, by reason: queue (more events waiting for etcd than the queue holds), etcd (etcd did not store them)."},
			[]string{"reason"}),
	}
	w.dropped.WithLabelValues("queue")
	w.dropped.WithLabelValues("etcd")
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(w.written, w.dropped)
	}
	return w
}

// Add queues e; a nil Writer drops it silently. Its time is now when unset.
func (w *Writer) Add(e Event) {
	if w == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC()
	select {
	case w.queue <- e:
	default:
		w.dropped.WithLabelValues("queue").Inc()
	}
}

// Run stores queued events until ctx ends; what is still queued then is
// lost (and counted).
func (w *Writer) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			if n := len(w.queue); n > 0 {
				w.dropped.WithLabelValues("queue").Add(float64(n))
			}
			return
		case e := <-w.queue:
			batch := []Event{e}
			for len(batch) < maxBatch {
				select {
				case e := <-w.queue:
					batch = append(batch, e)
					continue
				default:
				}
				break
			}
			w.store(ctx, batch)
			w.prune(ctx)
		}
	}
}

// period is the time one lease is shared over: events of one period expire
// together, between Retention and Retention+period after they were written.
func (w *Writer) period() time.Duration {
	return min(max(w.cfg.Retention/24, time.Second), time.Hour)
}

func (w *Writer) store(ctx context.Context, batch []Event) {
	cctx, cancel := context.WithTimeout(ctx, w.cfg.RequestTimeout)
	defer cancel()
	now := time.Now()
	if w.lease == 0 || !now.Before(w.leaseUntil) {
		ttl := int64((w.cfg.Retention + w.period() + time.Second - 1) / time.Second)
		g, err := w.cli.Grant(cctx, ttl)
		if err != nil {
			w.lost(batch, err)
			return
		}
		w.lease, w.leaseUntil = g.ID, now.Add(w.period())
	}
	ops := make([]clientv3.Op, 0, len(batch))
	for _, e := range batch {
		b, err := Encode(e)
		if err != nil {
			w.lost([]Event{e}, err)
			continue
		}
		ops = append(ops, clientv3.OpPut(Key(w.cfg.Prefix, NewID(e.Time)), string(b), clientv3.WithLease(w.lease)))
	}
	if _, err := w.cli.Txn(cctx).Then(ops...).Commit(); err != nil {
		// The lease may have gone (etcd restored, revoked by hand): take a
		// new one next time.
		w.lease = 0
		w.lost(batch[:len(ops)], err)
		return
	}
	w.written.Add(float64(len(ops)))
	w.sincePrune += len(ops)
}

func (w *Writer) lost(batch []Event, err error) {
	w.dropped.WithLabelValues("etcd").Add(float64(len(batch)))
	w.cfg.Log.Warn("events not stored", "events", len(batch), "err", err)
}

// pruneLimit bounds the keys one prune reads and deletes.
const pruneLimit = 10000

// prune deletes the oldest events beyond Max. Every writer (the schedule
// and each API replica) prunes; deleting what another just deleted is
// harmless.
func (w *Writer) prune(ctx context.Context) {
	if w.sincePrune < max(w.cfg.Max/10, 1) && time.Since(w.lastPrune) < w.period() {
		return
	}
	w.sincePrune, w.lastPrune = 0, time.Now()
	cctx, cancel := context.WithTimeout(ctx, w.cfg.RequestTimeout)
	defer cancel()
	dir := Dir(w.cfg.Prefix)
	resp, err := w.cli.Get(cctx, dir, clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return
	}
	excess := resp.Count - int64(w.cfg.Max)
	if excess <= 0 {
		return
	}
	excess = min(excess, pruneLimit)
	// The excess-th oldest key: every key up to it goes.
	old, err := w.cli.Get(cctx, dir, clientv3.WithPrefix(), clientv3.WithKeysOnly(),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend), clientv3.WithLimit(excess))
	if err != nil || len(old.Kvs) == 0 {
		return
	}
	last := string(old.Kvs[len(old.Kvs)-1].Key)
	if _, err := w.cli.Delete(cctx, dir, clientv3.WithRange(last+"\x00")); err != nil {
		w.cfg.Log.Warn("old events not pruned", "err", err)
	}
}
