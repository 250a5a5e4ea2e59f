// Package kubesync publishes Kubernetes Services as SkyDNS records.
//
// A Service becomes <svc>.<ns>.svc.<kube-domain> with its external IPs and
// load-balancer ingress IPs (optionally its ClusterIP); a headless Service
// publishes its ready endpoints and SRV records for its named ports; the
// Service's ports become the ports the health checkers probe, through the
// name's policy; skydns.io/ annotations set the rest of that policy.
//
// The sync is level-triggered: for a service it computes the records that
// should exist and compares them with the records it owns in etcd (source
// "kube" and this cluster's name), then writes the difference. Events from
// client-go informers say which service to look at; a periodic sweep looks
// at all of them and at every service it owns records of, so a restart, a
// missed event or a hand edit converges. It never touches a record or a
// policy that another writer made.
//
// Several syncs of one cluster may run: they elect a leader through etcd
// (see Run), and only the leader writes. The others keep their informers
// and the store warm and take over when the leader's lease ends.
package kubesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/skydns/skydns/internal/election"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/internal/topology"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

// Config is what the sync needs from skydns-api.conf.
type Config struct {
	// Domain is kube-domain.
	Domain string
	// Cluster is cluster-name, stamped on every record so that several
	// clusters can publish into one etcd without touching each other.
	Cluster string
	// User is stored as each record's user (the host name), and is this
	// sync's value in the leader election.
	User string
	// PublishClusterIP also publishes ClusterIPs.
	PublishClusterIP bool
	// Site is [Kube2Skydns] site: the site the whole cluster is in,
	// written as the site field of every A and AAAA record; "" for none,
	// and then the DNS server places each IP by the sites' networks.
	Site string
	// MaxTxnOps bounds one transaction; the sync splits larger changes.
	MaxTxnOps int
	// Resync is how often every service is reconciled again. Default 10m.
	Resync time.Duration
	// RequestTimeout bounds each etcd request. Default 5s.
	RequestTimeout time.Duration
	// LockKey is the election prefix the syncs of this cluster campaign
	// on. Default LockKey(the store's prefix, Cluster).
	LockKey string
	// LockTTL is the leader's lease, whole seconds: a leader that stops
	// without resigning is replaced this long after etcd last heard from
	// it. Default 10s.
	LockTTL time.Duration
	// Registry, if set, gets the sync's metrics.
	Registry prometheus.Registerer
	Logger   *slog.Logger
}

// LockKey is the election prefix of the syncs of cluster. It lies under
// <prefix>/monitor/, which no program reads as records: the schedule
// mirrors every key under the prefix, and would count an election key
// elsewhere as an unreadable record.
func LockKey(prefix, cluster string) string {
	return strings.TrimRight(prefix, "/") + "/monitor/kubeapi-lock/" + cluster
}

// Syncer runs the sync.
type Syncer struct {
	cfg    Config
	domain string
	store  *store.Store
	cli    *clientv3.Client
	log    *slog.Logger
	m      *metrics

	factory  informers.SharedInformerFactory
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister

	// term is the current term of leadership; nil on a standby.
	term    atomic.Pointer[term]
	leading atomic.Bool
}

// term is one term of leadership: the queue the informers feed while it
// lasts, and what every write of the term is guarded by.
type term struct {
	queue workqueue.TypedRateLimitingInterface[string]
	// key and rev are our election key and the revision it was created
	// at; guard holds while that key is still there, that is while we
	// lead.
	key   string
	rev   int64
	guard clientv3.Cmp
	// lost ends the term, when a write finds that we no longer lead.
	lost context.CancelFunc
	// failing are the services whose last reconcile failed; only the
	// term's worker uses it.
	failing map[string]bool
}

// Group files the records the sync of cluster owns under the key of their
// service, "<namespace>/<name>". Pass it as store.Options.Group. Records of
// ours whose name fits no service get a key that names no service, so that
// the sweep deletes them.
func Group(domain, cluster string) func(name string, r record.Record) string {
	d, _ := record.NormalizeName(domain)
	return func(name string, r record.Record) string {
		if r.Source != store.SourceKube || r.Cluster != cluster {
			return ""
		}
		return serviceKey(name, d)
	}
}

// serviceKey is the queue key of the service a name belongs to:
// x.<svc>.<ns>.svc.<domain> belongs to "<ns>/<svc>".
func serviceKey(name, domain string) string {
	rest, ok := strings.CutSuffix(name, "."+domain)
	if !ok {
		return "!" + name
	}
	labels := strings.Split(rest, ".")
	n := len(labels)
	if n < 3 || labels[n-1] != "svc" {
		return "!" + name
	}
	return labels[n-2] + "/" + labels[n-3]
}

// New returns a Syncer over client. The store must mirror cfg.Domain and
// have been built with Group(cfg.Domain, cfg.Cluster).
func New(cfg Config, client kubernetes.Interface, st *store.Store) (*Syncer, error) {
	d, err := record.NormalizeName(cfg.Domain)
	if err != nil {
		return nil, fmt.Errorf("kubesync: kube-domain: %w", err)
	}
	if !st.Covers(d) {
		return nil, fmt.Errorf("kubesync: the store does not mirror %s", d)
	}
	if cfg.Site != "" && !topology.ValidName(cfg.Site) {
		return nil, fmt.Errorf("kubesync: site %q is not a site name (a lower-case DNS label)", cfg.Site)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxTxnOps <= 0 {
		cfg.MaxTxnOps = store.DefaultMaxTxnOps
	}
	if cfg.Resync <= 0 {
		cfg.Resync = 10 * time.Minute
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.LockKey == "" {
		cfg.LockKey = LockKey(st.Prefix(), cfg.Cluster)
	}
	// NewElection adds the slash between the prefix and each candidate's
	// key; with it kept here, cluster "a" would also wait on cluster "ab".
	cfg.LockKey = strings.TrimRight(cfg.LockKey, "/")
	if cfg.LockTTL < time.Second {
		cfg.LockTTL = 10 * time.Second
	}
	s := &Syncer{cfg: cfg, domain: d, store: st, cli: st.Client(), log: cfg.Logger}
	s.factory = informers.NewSharedInformerFactory(client, 0)
	s.m = newMetrics(cfg.Registry, cfg.Cluster, func() corelisters.ServiceLister { return s.services })
	if err := newAPIServer(s.log, s.m.apiserverUp).informers(s.factory, client); err != nil {
		return nil, fmt.Errorf("kubesync: %w", err)
	}
	s.services = s.factory.Core().V1().Services().Lister()
	s.slices = s.factory.Discovery().V1().EndpointSlices().Lister()
	return s, nil
}

// Leading reports whether this sync leads right now, and so writes.
func (s *Syncer) Leading() bool { return s.leading.Load() }

// enqueue asks the current term, if any, to look at a service. A standby
// drops the event: the sweep that starts a term looks at every service.
func (s *Syncer) enqueue(key string) {
	if t := s.term.Load(); t != nil {
		t.queue.Add(key)
	}
}

// Run syncs until ctx ends. Every sync keeps the informers and the store
// running; once both are loaded it campaigns in the election of its
// cluster, and only while it leads does it write. A term of leadership
// starts with a sweep over every service, so nothing that changed while
// this sync stood by is missed, and ends when ctx ends (the sync resigns
// and revokes its lease, so that a standby takes over at once), or when
// the lease is lost (etcd unreachable for longer than LockTTL, or a write
// finds another leader): then the sync stops writing and campaigns again.
func (s *Syncer) Run(ctx context.Context) error {
	factory := s.factory
	svcInf := factory.Core().V1().Services()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	enqueueObj := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			s.enqueue(key)
		}
	}
	enqueueSlice := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if sl, ok := obj.(*discoveryv1.EndpointSlice); ok {
			if svc := sl.Labels[discoveryv1.LabelServiceName]; svc != "" {
				s.enqueue(sl.Namespace + "/" + svc)
			}
		}
	}
	if _, err := svcInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueueObj, UpdateFunc: func(_, o any) { enqueueObj(o) }, DeleteFunc: enqueueObj,
	}); err != nil {
		return err
	}
	if _, err := sliceInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueueSlice,
		UpdateFunc: func(old, cur any) {
			enqueueSlice(old) // the service label may have changed
			enqueueSlice(cur)
		},
		DeleteFunc: enqueueSlice,
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()

	s.log.Info("kubernetes sync starting", "domain", s.domain, "cluster", s.cfg.Cluster)
	for _, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return ctx.Err()
		}
	}
	select {
	case <-s.store.Ready():
	case <-ctx.Done():
		return nil
	}
	s.log.Info("kubernetes sync running: caches synced, records loaded; campaigning for the lead",
		"lock", s.cfg.LockKey, "host", s.cfg.User)

	election.Run(ctx, s.cli, election.Config{
		Prefix: s.cfg.LockKey, Value: s.cfg.User, TTL: s.cfg.LockTTL, RequestTimeout: s.cfg.RequestTimeout,
		Lead: s.lead,
		Standby: func(leader string) {
			s.log.Info("sync standby", "leader", leader, "host", s.cfg.User, "cluster", s.cfg.Cluster)
		},
		SteppedDown: func() { s.log.Info("sync stepped down", "host", s.cfg.User, "cluster", s.cfg.Cluster) },
		Lost: func(error) {
			s.log.Warn("sync lost the lead: stopped writing; campaigning again", "host", s.cfg.User, "cluster", s.cfg.Cluster)
		},
		Failed: func(err error) { s.log.Warn("kubernetes sync: leader election", "err", err) },
	})
	return nil
}

// lead runs one term (election.Config.Lead): a sweep over everything,
// then the informers' events and a sweep every Resync, until ctx ends or a
// write finds that another sync leads.
func (s *Syncer) lead(ctx context.Context, el *concurrency.Election) error {
	s.leading.Store(true)
	s.m.leader.Set(1)
	s.m.elections.Inc()
	s.log.Info("sync leading", "host", s.cfg.User, "cluster", s.cfg.Cluster, "key", el.Key())
	defer func() { s.leading.Store(false); s.m.leader.Set(0) }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := &term{
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 30*time.Second),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "skydns-kubesync"}),
		key:     el.Key(),
		rev:     el.Rev(),
		guard:   clientv3.Compare(clientv3.CreateRevision(el.Key()), "=", el.Rev()),
		lost:    cancel,
		failing: map[string]bool{},
	}
	s.term.Store(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for s.next(ctx, t) {
		}
	}()
	s.sweep(t)
	tick := time.NewTicker(s.cfg.Resync)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			// Events from now on are dropped; what is queued is dropped
			// with the queue (the next term sweeps), and the worker stops
			// after the service in hand.
			s.term.Store(nil)
			t.queue.ShutDown()
			<-done
			return nil
		case <-tick.C:
			s.sweep(t)
		}
	}
}

// sweep queues every service and every service we own records or a
// policy of: together, everything that may need a change.
func (s *Syncer) sweep(t *term) {
	keys := map[string]bool{}
	svcs, _ := s.services.List(labels.Everything())
	for _, svc := range svcs {
		keys[svc.Namespace+"/"+svc.Name] = true
	}
	for _, g := range s.store.Groups() {
		keys[g] = true
	}
	for _, p := range s.store.Policies(store.SourceKube, s.cfg.Cluster) {
		keys[serviceKey(p.Name, s.domain)] = true
	}
	for k := range keys {
		t.queue.Add(k)
	}
	if len(keys) == 0 {
		s.m.converged.SetToCurrentTime()
	}
	s.log.Debug("kubernetes sync sweep", "services", len(keys))
}

// maxRetries is how often a failing service is retried quickly before its
// failure is logged as an error (it is still retried, more slowly).
const maxRetries = 5

// next reconciles one service of term t; false when the term is over.
func (s *Syncer) next(ctx context.Context, t *term) bool {
	key, quit := t.queue.Get()
	if quit {
		return false
	}
	if ctx.Err() != nil {
		t.queue.Done(key)
		return false
	}
	err := s.safeReconcile(ctx, t, key)
	t.queue.Done(key)
	switch {
	case err == nil:
		t.queue.Forget(key)
		delete(t.failing, key)
		if len(t.failing) == 0 && t.queue.Len() == 0 {
			s.m.converged.SetToCurrentTime()
		}
	case errors.Is(err, errNotLeader):
		s.log.Warn("kubernetes sync: another sync leads; stopping writes", "service", key)
		t.lost()
		return false
	case ctx.Err() != nil:
	default:
		s.m.errors.WithLabelValues(errorReason(err)).Inc()
		t.failing[key] = true
		// Said once when it starts failing and once when it keeps failing,
		// so that an etcd outage does not flood the log with one line per
		// service per retry.
		level := slog.LevelDebug
		switch t.queue.NumRequeues(key) {
		case 0:
			level = slog.LevelWarn
		case maxRetries:
			level = slog.LevelError
		}
		s.log.Log(ctx, level, "kubernetes sync: service not synced, retrying", "service", key, "err", err,
			"attempts", t.queue.NumRequeues(key)+1)
		t.queue.AddRateLimited(key)
	}
	return true
}

// safeReconcile turns a panic while reconciling one service into an error
// for that service, so that one odd object cannot stop the sync.
func (s *Syncer) safeReconcile(ctx context.Context, t *term, key string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("kubernetes sync: panic", "service", key, "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return s.reconcile(ctx, t, key)
}

var (
	// errConflict: etcd changed under a transaction; try again from fresh
	// data.
	errConflict = errors.New("records changed during the update")
	// errEtcd wraps a failed etcd request.
	errEtcd = errors.New("etcd")
	// errNotLeader: our election key is gone; another sync may lead.
	errNotLeader = errors.New("no longer the leader")
)

// errorReason is the reason label of a failed reconcile.
func errorReason(err error) string {
	switch {
	case errors.Is(err, errConflict):
		return "conflict"
	case errors.Is(err, errEtcd):
		return "etcd"
	}
	return "other"
}

// reconcile brings the records of the service with queue key key in line
// with the service as the informer caches have it, writing in term t.
func (s *Syncer) reconcile(ctx context.Context, t *term, key string) error {
	var d Desired
	root := ""
	if ns, name, err := cache.SplitMetaNamespaceKey(key); err == nil && ns != "" && !strings.HasPrefix(key, "!") {
		root, _ = record.NormalizeName(ServiceName(ns, name, s.domain))
		svc, err := s.services.Services(ns).Get(name)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return err
		default:
			var slices []*discoveryv1.EndpointSlice
			if svc.Spec.ClusterIP == corev1.ClusterIPNone {
				sel := labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: name})
				if slices, err = s.slices.EndpointSlices(ns).List(sel); err != nil {
					return err
				}
			}
			d = desiredFor(svc, slices, s.domain, s.cfg.PublishClusterIP, meta{cluster: s.cfg.Cluster, user: s.cfg.User, site: s.cfg.Site})
			for _, p := range d.Problems {
				s.log.Warn("kubernetes sync: "+p, "service", key)
			}
		}
	}
	return s.apply(ctx, t, key, root, d)
}

// change is one guarded write of the sync.
type change struct {
	key    string
	value  []byte // nil: delete
	modRev int64  // what the key must still be at (0: absent)
	cname  bool
	policy bool
}

// sameRecord reports whether two records of ours say the same thing.
//
// It leaves out user, the host of the sync that wrote the record. Every
// sync of a cluster stamps its own host, and leadership moves between them
// (a restart, a node drained, etcd briefly away from the leader); if user
// counted, each new leader would rewrite every record and policy of the
// cluster on its first sweep, only to change that field: a burst of
// writes that every DNS server and schedule must then apply, with nothing
// they use changed. So a record whose content is right stays as it is, and
// user names the host that last changed it.
func sameRecord(a, b record.Record) bool {
	a.User, b.User = "", ""
	return a == b
}

// apply writes the difference between d and what the sync owns for key.
func (s *Syncer) apply(ctx context.Context, t *term, key, root string, d Desired) error {
	prefix := s.store.Prefix()
	owned := map[string]store.Entry{}
	for _, e := range s.store.Group(key) {
		owned[e.Key] = e
	}
	// Desired records by key, minus those that would clash with another
	// writer's records.
	want := map[string]record.Record{}
	skipped := map[string]bool{}
	byName := map[string][]record.Record{}
	for _, w := range d.Records {
		byName[w.Name] = append(byName[w.Name], w.Record)
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	// First the names another writer's records keep from us: a CNAME of
	// theirs excludes everything else, and a CNAME of ours needs the name
	// to itself.
	for _, name := range names {
		theirs, theirCNAME := 0, ""
		for _, e := range s.store.Records(name) {
			if _, ours := owned[e.Key]; !ours {
				theirs++
				if e.Record.Type == record.TypeCNAME {
					theirCNAME = e.Record.Host
				}
			}
		}
		wantCNAME := false
		for _, r := range byName[name] {
			wantCNAME = wantCNAME || r.Type == record.TypeCNAME
		}
		if theirCNAME != "" || wantCNAME && theirs > 0 {
			s.log.Warn("kubernetes sync: name is taken by another writer's records; not publishing it",
				"service", key, "name", name, "their_cname", theirCNAME)
			skipped[name] = true
		}
	}
	for _, name := range names {
		if skipped[name] {
			continue
		}
		for _, r := range byName[name] {
			n, _, err := store.Normalize(r)
			if err != nil {
				continue
			}
			if n.Type == record.TypeSRV && skipped[n.Host] {
				continue // its target is not ours to serve
			}
			// The key of a record whose id collides with another's,
			// ours or theirs, is the next probe: never the other's key.
			inStore := store.EntryAt(s.store.Records(name))
			k, ok := store.RecordKey(prefix, name, n, func(k string) (record.Record, bool) {
				if r, ok := want[k]; ok {
					return r, true
				}
				return inStore(k)
			})
			if !ok {
				s.log.Warn("kubernetes sync: no free id for a record; not publishing it", "name", name, "type", n.Type)
				continue
			}
			if _, ours := owned[k]; !ours && s.keyTaken(name, k) {
				s.log.Debug("kubernetes sync: record already published by another writer", "name", name, "key", k)
				continue
			}
			want[k] = n
		}
	}

	var changes []change
	for k, r := range want {
		if e, ok := owned[k]; ok && sameRecord(e.Record, r) {
			continue
		}
		b, err := r.Encode()
		if err != nil {
			continue
		}
		changes = append(changes, change{key: k, value: b, modRev: owned[k].ModRev, cname: r.Type == record.TypeCNAME})
	}
	for k, e := range owned {
		if _, keep := want[k]; !keep {
			changes = append(changes, change{key: k, modRev: e.ModRev, cname: e.Record.Type == record.TypeCNAME})
		}
	}
	if root != "" {
		pc, err := s.policyChange(key, root, d.Policy)
		if err != nil {
			return err
		}
		if pc != nil {
			changes = append(changes, *pc)
		}
	}
	if len(changes) == 0 {
		return nil
	}
	return s.commit(ctx, t, changes)
}

// keyTaken reports whether key holds another writer's record.
func (s *Syncer) keyTaken(name, key string) bool {
	for _, e := range s.store.Records(name) {
		if e.Key == key {
			return true
		}
	}
	return false
}

// policyChange is the write that makes the policy of root p, if any. A
// policy another writer set is left alone.
func (s *Syncer) policyChange(key, root string, p *policy.Policy) (*change, error) {
	cur, ok := s.store.Policy(root)
	if ok && (cur.Source != store.SourceKube || cur.Cluster != s.cfg.Cluster) {
		if p != nil {
			s.log.Debug("kubernetes sync: policy set by another writer; leaving it", "service", key, "name", root, "source", cur.Source)
		}
		return nil, nil
	}
	pkey := policy.Key(s.store.Prefix(), root)
	if p == nil {
		if ok {
			return &change{key: cur.Key, modRev: cur.ModRev, policy: true}, nil
		}
		return nil, nil
	}
	want := store.StoredPolicy{Policy: *p, Source: store.SourceKube, Cluster: s.cfg.Cluster, User: s.cfg.User}
	b, err := store.EncodePolicy(want)
	if err != nil {
		return nil, err
	}
	if ok && cur.Key == pkey {
		// As for records (sameRecord), the host that wrote the policy
		// does not count: a new leader leaves a right policy alone.
		want.User = ""
		same, _ := store.EncodePolicy(want)
		old, err := store.EncodePolicy(store.StoredPolicy{Policy: cur.Policy, Source: cur.Source, Cluster: cur.Cluster})
		if err == nil && string(old) == string(same) {
			return nil, nil
		}
	}
	var modRev int64
	if ok && cur.Key == pkey {
		modRev = cur.ModRev
	}
	return &change{key: pkey, value: b, modRev: modRev, policy: true}, nil
}

// commit writes changes in transactions that fit MaxTxnOps, each guarded
// key by key: a put only if the key is still as the sync last saw it (so a
// record another writer has just made is not overwritten), a delete only
// if the key still holds the record the sync made. Additions go first, so
// a name is not left without addresses while its set changes; when a CNAME
// comes or goes, deletions go first, so it is never beside other records.
// Changes that span several transactions are not atomic together; the
// next pass completes whatever a failure interrupted. Every transaction
// also holds only while the term's election key is there, so a sync that
// lost the lead without noticing yet (a pause, a partition) cannot write
// over its successor.
func (s *Syncer) commit(ctx context.Context, t *term, changes []change) error {
	delFirst := false
	for _, c := range changes {
		delFirst = delFirst || c.cname
	}
	sort.SliceStable(changes, func(i, j int) bool {
		ai, aj := changes[i].value != nil, changes[j].value != nil
		if ai != aj {
			return ai != delFirst
		}
		return changes[i].key < changes[j].key
	})
	// etcd counts the comparisons against --max-txn-ops too: one per
	// change, and the leader's guard.
	size := max(1, s.cfg.MaxTxnOps-1)
	for start := 0; start < len(changes); start += size {
		chunk := changes[start:min(len(changes), start+size)]
		cmps, ops, keys := guardedOps(chunk)
		cmps = append(cmps, t.guard)
		cctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		resp, err := s.store.Commit(cctx, cmps, ops, []clientv3.Op{clientv3.OpGet(t.key)})
		cancel()
		if err != nil {
			return fmt.Errorf("%w: %w", errEtcd, err)
		}
		if !resp.Succeeded {
			if r := resp.Responses[0].GetResponseRange(); r == nil || len(r.Kvs) == 0 || r.Kvs[0].CreateRevision != t.rev {
				return errNotLeader
			}
			return errConflict
		}
		s.m.wrote(chunk)
		// The next reconcile must see this write, or it would plan again
		// from before it.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok := s.store.Wait(wctx, resp.Header.Revision, keys...)
		cancel()
		if !ok && ctx.Err() == nil {
			return errors.New("the etcd mirror did not catch up with the sync's own write")
		}
	}
	return nil
}

// guardedOps turns changes into a transaction's guards and operations.
func guardedOps(chunk []change) ([]clientv3.Cmp, []clientv3.Op, []string) {
	cmps := make([]clientv3.Cmp, 0, len(chunk))
	ops := make([]clientv3.Op, 0, len(chunk))
	keys := make([]string, 0, len(chunk))
	for _, c := range chunk {
		cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(c.key), "=", c.modRev))
		if c.value == nil {
			ops = append(ops, clientv3.OpDelete(c.key))
		} else {
			ops = append(ops, clientv3.OpPut(c.key, string(c.value)))
		}
		keys = append(keys, c.key)
	}
	return cmps, ops, keys
}
