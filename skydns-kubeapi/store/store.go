// Package store is skydns-kubeapi's view of etcd: the records of the zones it
// manages, the per-name policies, the health of every IP, the operators'
// overrides of it and the sites of the topology, mirrored in memory with
// internal/etcdview, plus the transaction helper both writers (the REST API and the
// Kubernetes sync) commit through.
//
// Reads are served from memory, so they keep working while etcd is away.
// Writes go to etcd in transactions guarded by the revisions of what the
// writer read; after a commit the writer waits until the mirror has caught
// up, so the next request, on this replica, sees its own write.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdview"
	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
)

// Provenance of records and policies: the source tag each writer sets, and
// the only records it ever changes.
const (
	SourceAPI  = "api"
	SourceKube = "kube"
)

// DefaultMaxTxnOps is etcd's default --max-txn-ops.
const DefaultMaxTxnOps = 128

// Options configure a Store.
type Options struct {
	// Prefix is the records root, e.g. /skydns.
	Prefix string
	// StatusPath is ip-monitor-path, e.g. /skydns/monitor/status/.
	StatusPath string
	// OverridePath is override-path; "" is monitor.DefaultOverridePath.
	OverridePath string
	// Zones are the zones whose records are mirrored. A zone below another
	// listed zone is covered by that one.
	Zones []string
	// Group, if set, files each record under a group key ("" for none), so
	// that a writer can find all records of one of its objects at once.
	Group func(name string, r record.Record) string
	// Logger gets the views' state changes.
	Logger *slog.Logger
	// ProgressInterval is passed to the views (tests shorten it).
	ProgressInterval time.Duration
}

// Store mirrors records, policies, health and overrides from etcd.
type Store struct {
	cli    *clientv3.Client
	prefix string
	zones  []*zoneIndex
	pol    *policyIndex
	health *healthIndex
	verd   *verdictIndex
	ovr    *overrideIndex
	sites  *siteIndex
	views  []*etcdview.View
	ready  chan struct{}
	log    *slog.Logger
}

// New returns a store; Run starts mirroring.
func New(cli *clientv3.Client, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Prefix == "" {
		o.Prefix = record.DefaultPrefix
	}
	zones, err := topZones(o.Zones)
	if err != nil {
		return nil, err
	}
	s := &Store{cli: cli, prefix: o.Prefix, ready: make(chan struct{}), log: o.Logger}
	vo := etcdview.Options{Logger: o.Logger, ProgressInterval: o.ProgressInterval}
	// Every zone, nested ones too, so that a record never climbs onto a
	// nested zone's apex, as the DNS server reads it.
	all := make([]string, 0, len(o.Zones))
	for _, z := range o.Zones {
		n, _ := record.NormalizeName(z) // checked by topZones
		all = append(all, n)
	}
	rule := record.NewRule(o.Prefix, all, nil)
	for _, z := range zones {
		ix := newZoneIndex(rule, z, o.Group, o.Logger)
		s.zones = append(s.zones, ix)
		// The prefix has no trailing slash so that a record stored at the
		// apex's own path is seen too; sibling zones that share the
		// prefix (skydns.localx) are filtered out by name.
		s.views = append(s.views, etcdview.New(cli, record.NamePath(o.Prefix, z), ix, vo))
	}
	s.pol = newPolicyIndex(o.Prefix, o.Logger)
	s.views = append(s.views, etcdview.New(cli, policy.Prefix(o.Prefix), s.pol, vo))
	s.health = newHealthIndex(o.StatusPath, o.Logger)
	s.views = append(s.views, etcdview.New(cli, o.StatusPath, s.health, vo))
	s.verd = newVerdictIndex(o.StatusPath, o.Logger)
	s.views = append(s.views, etcdview.New(cli, s.verd.path, s.verd, vo))
	s.ovr = newOverrideIndex(monitor.OverrideDir(o.OverridePath), o.Logger)
	s.views = append(s.views, etcdview.New(cli, s.ovr.path, s.ovr, vo))
	s.sites = newSiteIndex(o.Prefix, o.Logger)
	s.views = append(s.views, etcdview.New(cli, s.sites.path, s.sites, vo))
	return s, nil
}

// topZones normalizes zones and drops those that lie below another one.
func topZones(in []string) ([]string, error) {
	var norm []string
	for _, z := range in {
		n, err := record.NormalizeName(z)
		if err != nil {
			return nil, fmt.Errorf("store: zone: %w", err)
		}
		if n == "." {
			return nil, errors.New("store: the root zone cannot be managed")
		}
		norm = append(norm, n)
	}
	var out []string
	for i, z := range norm {
		covered := false
		for j, o := range norm {
			if i != j && record.IsSubdomain(z, o) && (z != o || j < i) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, z)
		}
	}
	return out, nil
}

// Run mirrors until ctx ends.
func (s *Store) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, v := range s.views {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v.Run(ctx)
		}()
	}
	go func() {
		for _, v := range s.views {
			select {
			case <-v.Ready():
			case <-ctx.Done():
				return
			}
		}
		close(s.ready)
	}()
	wg.Wait()
	return nil
}

// Ready is closed once every view has loaded.
func (s *Store) Ready() <-chan struct{} { return s.ready }

// IsReady reports whether Ready is closed.
func (s *Store) IsReady() bool {
	select {
	case <-s.ready:
		return true
	default:
		return false
	}
}

// Stale reports whether any view has lost touch with etcd.
func (s *Store) Stale() bool {
	for _, v := range s.views {
		if v.Status().Stale {
			return true
		}
	}
	return false
}

// Status sums up the views: Loaded once all have loaded, Stale while any
// is stale, LastSync and Revision of the one that lags most, Reloads and
// Restarts added up.
func (s *Store) Status() etcdview.Status {
	var out etcdview.Status
	for i, v := range s.views {
		st := v.Status()
		if i == 0 {
			out = st
			continue
		}
		out.Loaded = out.Loaded && st.Loaded
		out.Stale = out.Stale || st.Stale
		if st.LastSync.IsZero() || !out.LastSync.IsZero() && st.LastSync.Before(out.LastSync) {
			out.LastSync = st.LastSync
		}
		out.Revision = min(out.Revision, st.Revision)
		out.Seen = max(out.Seen, st.Seen)
		out.Reloads += st.Reloads
		out.Restarts += st.Restarts
	}
	return out
}

// Prefix is the records root.
func (s *Store) Prefix() string { return s.prefix }

// Client is the etcd client the store reads and commits through.
func (s *Store) Client() *clientv3.Client { return s.cli }

// zoneOf is the mirrored zone holding name, or nil.
func (s *Store) zoneOf(name string) *zoneIndex {
	for _, z := range s.zones {
		if record.IsSubdomain(name, z.zone) {
			return z
		}
	}
	return nil
}

// Covers reports whether name is in a mirrored zone.
func (s *Store) Covers(name string) bool { return s.zoneOf(name) != nil }

// Snapshot returns the records of exactly name, sorted by key, and the
// revision of the mirror they were read at. ok is false when name is in no
// mirrored zone.
func (s *Store) Snapshot(name string) (entries []Entry, rev int64, ok bool) {
	z := s.zoneOf(name)
	if z == nil {
		return nil, 0, false
	}
	entries, rev = z.snapshot(name)
	return entries, rev, true
}

// Records returns the records of exactly name, sorted by key.
func (s *Store) Records(name string) []Entry {
	e, _, _ := s.Snapshot(name)
	return e
}

// Names returns up to limit names that have records, in key order, starting
// after the name after ("" for the first page), and the name to continue
// after, "" on the last page.
func (s *Store) Names(after string, limit int) (names []string, next string) {
	names = s.names(after, limit)
	if len(names) == limit && limit > 0 {
		last := names[len(names)-1]
		// Only a page that may not be the last says where to go on.
		if len(s.names(last, 1)) > 0 {
			next = last
		}
	}
	return names, next
}

// names is a page of Names without its next: asking for the next with
// Names itself would recurse through every name left.
func (s *Store) names(after string, limit int) (names []string) {
	start := 0
	if after != "" {
		start = len(s.zones)
		for i, z := range s.zones {
			if record.IsSubdomain(after, z.zone) {
				start = i
				break
			}
		}
	}
	for i := start; i < len(s.zones) && len(names) < limit; i++ {
		a := ""
		if i == start {
			a = after
		}
		names = append(names, s.zones[i].names(a, limit-len(names))...)
	}
	return names
}

// Group returns the records filed under group g by Options.Group.
func (s *Store) Group(g string) []Entry {
	var out []Entry
	for _, z := range s.zones {
		out = append(out, z.group(g)...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Groups returns every group key with at least one record.
func (s *Store) Groups() []string {
	var out []string
	for _, z := range s.zones {
		out = append(out, z.groupKeys()...)
	}
	sort.Strings(out)
	return out
}

// Health returns the stored status of ip; ok is false when it has none.
func (s *Store) Health(ip netip.Addr) (health.Status, bool) { return s.health.get(ip) }

// Verdict is the verdict of check id on ip, if one is stored.
func (s *Store) Verdict(ip netip.Addr, id string) (monitor.Verdict, bool) {
	e, ok, _ := s.verd.snapshot(monitor.Target{IP: ip.Unmap(), Check: id})
	return e.v, ok
}

// NamesOf returns the names of the mirrored zones that have an A or AAAA
// record of ip, sorted.
func (s *Store) NamesOf(ip netip.Addr) []string {
	var out []string
	for _, z := range s.zones {
		out = append(out, z.namesOf(ip.Unmap())...)
	}
	sort.Strings(out)
	return out
}

// Override returns the override stored for ip.
func (s *Store) Override(ip netip.Addr) (OverrideEntry, bool) {
	e, ok, _ := s.ovr.snapshot(ip)
	return e, ok
}

// OverrideSnapshot is Override with the revision of the override mirror.
func (s *Store) OverrideSnapshot(ip netip.Addr) (OverrideEntry, bool, int64) {
	return s.ovr.snapshot(ip)
}

// Overrides returns every stored override, by IP.
func (s *Store) Overrides() []OverrideEntry { return s.ovr.all() }

// OverrideKey is the key an override of ip is written under.
func (s *Store) OverrideKey(ip netip.Addr) string { return monitor.OverrideKey(s.ovr.path, ip.Unmap()) }

// Policy returns the policy stored for name.
func (s *Store) Policy(name string) (PolicyEntry, bool) { return s.pol.get(name) }

// PolicySnapshot is Policy with the revision of the policy mirror.
func (s *Store) PolicySnapshot(name string) (PolicyEntry, bool, int64) { return s.pol.snapshot(name) }

// Policies returns every stored policy written with source and cluster.
func (s *Store) Policies(source, cluster string) []PolicyEntry { return s.pol.owned(source, cluster) }

// Wait waits until the mirrors holding keys have applied revision rev, or
// ctx ends; it reports whether they did.
func (s *Store) Wait(ctx context.Context, rev int64, keys ...string) bool {
	for _, k := range keys {
		t := s.trackerOf(k)
		if t == nil {
			continue
		}
		if !t.wait(ctx, rev) {
			return false
		}
	}
	return true
}

func (s *Store) trackerOf(key string) *revTracker {
	if hasPrefix(key, s.pol.prefix) {
		return &s.pol.revTracker
	}
	if hasPrefix(key, s.health.path) {
		return &s.health.revTracker
	}
	if hasPrefix(key, s.verd.path) {
		return &s.verd.revTracker
	}
	if hasPrefix(key, s.ovr.path) {
		return &s.ovr.revTracker
	}
	if hasPrefix(key, s.sites.path) {
		return &s.sites.revTracker
	}
	for _, z := range s.zones {
		if z.holds(key) {
			return &z.revTracker
		}
	}
	return nil
}

func hasPrefix(s, p string) bool { return len(s) >= len(p) && s[:len(p)] == p }

// Commit runs a transaction: ops if every cmp holds, else the reads in
// orElse. It returns the response, whose Succeeded says which ran.
func (s *Store) Commit(ctx context.Context, cmps []clientv3.Cmp, ops, orElse []clientv3.Op) (*clientv3.TxnResponse, error) {
	return s.cli.Txn(ctx).If(cmps...).Then(ops...).Else(orElse...).Commit()
}

// revTracker is the revision a mirror has applied, with a way to wait for
// it to move.
type revTracker struct {
	mu     sync.Mutex
	rev    int64
	notify chan struct{}
}

func (t *revTracker) advance(rev int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if rev > t.rev {
		t.rev = rev
	}
	if t.notify != nil {
		close(t.notify)
		t.notify = nil
	}
}

func (t *revTracker) current() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.rev
}

func (t *revTracker) wait(ctx context.Context, rev int64) bool {
	for {
		t.mu.Lock()
		if t.rev >= rev {
			t.mu.Unlock()
			return true
		}
		if t.notify == nil {
			t.notify = make(chan struct{})
		}
		ch := t.notify
		t.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		}
	}
}
