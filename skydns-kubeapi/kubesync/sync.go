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
package kubesync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"strings"
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

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

// Config is what the sync needs from skydns-api.conf.
type Config struct {
	// Domain is kube-domain.
	Domain string
	// Cluster is cluster-name, stamped on every record so that several
	// clusters can publish into one etcd without touching each other.
	Cluster string
	// User is stored as each record's user (the host name).
	User string
	// PublishClusterIP also publishes ClusterIPs.
	PublishClusterIP bool
	// MaxTxnOps bounds one transaction; the sync splits larger changes.
	MaxTxnOps int
	// Resync is how often every service is reconciled again. Default 10m.
	Resync time.Duration
	// RequestTimeout bounds each etcd request. Default 5s.
	RequestTimeout time.Duration
	Logger         *slog.Logger
}

// Syncer runs the sync.
type Syncer struct {
	cfg    Config
	domain string
	client kubernetes.Interface
	store  *store.Store
	log    *slog.Logger
	queue  workqueue.TypedRateLimitingInterface[string]

	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
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
	return &Syncer{cfg: cfg, domain: d, client: client, store: st, log: cfg.Logger}, nil
}

// Run syncs until ctx ends.
func (s *Syncer) Run(ctx context.Context) error {
	s.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[string](100*time.Millisecond, 30*time.Second),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "skydns-kubesync"})
	defer s.queue.ShutDown()

	factory := informers.NewSharedInformerFactory(s.client, 0)
	svcInf := factory.Core().V1().Services()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	s.services, s.slices = svcInf.Lister(), sliceInf.Lister()
	enqueueObj := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			s.queue.Add(key)
		}
	}
	enqueueSlice := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if sl, ok := obj.(*discoveryv1.EndpointSlice); ok {
			if svc := sl.Labels[discoveryv1.LabelServiceName]; svc != "" {
				s.queue.Add(sl.Namespace + "/" + svc)
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
	s.log.Info("kubernetes sync running: caches synced, records loaded")

	done := make(chan struct{})
	go func() {
		defer close(done)
		for s.next(ctx) {
		}
	}()
	s.sweep()
	tick := time.NewTicker(s.cfg.Resync)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			s.queue.ShutDown()
			<-done
			return nil
		case <-tick.C:
			s.sweep()
		}
	}
}

// sweep queues every service and every service we own records or a
// policy of: together, everything that may need a change.
func (s *Syncer) sweep() {
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
		s.queue.Add(k)
	}
	s.log.Debug("kubernetes sync sweep", "services", len(keys))
}

// maxRetries is how often a failing service is retried quickly before its
// failure is logged as an error (it is still retried, more slowly).
const maxRetries = 5

func (s *Syncer) next(ctx context.Context) bool {
	key, quit := s.queue.Get()
	if quit {
		return false
	}
	defer s.queue.Done(key)
	err := s.safeReconcile(ctx, key)
	switch {
	case err == nil:
		s.queue.Forget(key)
	case ctx.Err() != nil:
	default:
		// Said once when it starts failing and once when it keeps failing,
		// so that an etcd outage does not flood the log with one line per
		// service per retry.
		level := slog.LevelDebug
		switch s.queue.NumRequeues(key) {
		case 0:
			level = slog.LevelWarn
		case maxRetries:
			level = slog.LevelError
		}
		s.log.Log(ctx, level, "kubernetes sync: service not synced, retrying", "service", key, "err", err,
			"attempts", s.queue.NumRequeues(key)+1)
		s.queue.AddRateLimited(key)
	}
	return true
}

// safeReconcile turns a panic while reconciling one service into an error
// for that service, so that one odd object cannot stop the sync.
func (s *Syncer) safeReconcile(ctx context.Context, key string) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("kubernetes sync: panic", "service", key, "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", v)
		}
	}()
	return s.Reconcile(ctx, key)
}

// errConflict: etcd changed under a transaction; try again from fresh data.
var errConflict = errors.New("records changed during the update")

// Reconcile brings the records of the service with queue key key in line
// with the service as the informer caches have it.
func (s *Syncer) Reconcile(ctx context.Context, key string) error {
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
			d = desiredFor(svc, slices, s.domain, s.cfg.PublishClusterIP, meta{cluster: s.cfg.Cluster, user: s.cfg.User})
			for _, p := range d.Problems {
				s.log.Warn("kubernetes sync: "+p, "service", key)
			}
		}
	}
	return s.apply(ctx, key, root, d)
}

// change is one guarded write of the sync.
type change struct {
	key    string
	value  []byte // nil: delete
	modRev int64  // what the key must still be at (0: absent)
	cname  bool
}

// apply writes the difference between d and what the sync owns for key.
func (s *Syncer) apply(ctx context.Context, key, root string, d Desired) error {
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
			k := store.RecordKey(prefix, name, n)
			if _, ours := owned[k]; !ours && s.keyTaken(name, k) {
				s.log.Debug("kubernetes sync: record already published by another writer", "name", name, "key", k)
				continue
			}
			want[k] = n
		}
	}

	var changes []change
	for k, r := range want {
		if e, ok := owned[k]; ok && e.Record == r {
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
	return s.commit(ctx, changes)
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
			return &change{key: cur.Key, modRev: cur.ModRev}, nil
		}
		return nil, nil
	}
	b, err := store.EncodePolicy(store.StoredPolicy{Policy: *p, Source: store.SourceKube, Cluster: s.cfg.Cluster, User: s.cfg.User})
	if err != nil {
		return nil, err
	}
	if ok && cur.Key == pkey {
		old, err := store.EncodePolicy(store.StoredPolicy{Policy: cur.Policy, Source: cur.Source, Cluster: cur.Cluster, User: cur.User})
		if err == nil && string(old) == string(b) {
			return nil, nil
		}
	}
	var modRev int64
	if ok && cur.Key == pkey {
		modRev = cur.ModRev
	}
	return &change{key: pkey, value: b, modRev: modRev}, nil
}

// commit writes changes in transactions of at most MaxTxnOps, each guarded
// key by key: a put only if the key is still as the sync last saw it (so a
// record another writer has just made is not overwritten), a delete only
// if the key still holds the record the sync made. Additions go first, so
// a name is not left without addresses while its set changes; when a CNAME
// comes or goes, deletions go first, so it is never beside other records.
// Changes that span several transactions are not atomic together; the
// next pass completes whatever a failure interrupted.
func (s *Syncer) commit(ctx context.Context, changes []change) error {
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
	for start := 0; start < len(changes); start += s.cfg.MaxTxnOps {
		chunk := changes[start:min(len(changes), start+s.cfg.MaxTxnOps)]
		cmps, ops, keys := guardedOps(chunk)
		cctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
		resp, err := s.store.Commit(cctx, cmps, ops, nil)
		cancel()
		if err != nil {
			return fmt.Errorf("etcd: %w", err)
		}
		if !resp.Succeeded {
			return errConflict
		}
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
