package zone

import (
	"context"
	"iter"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdview"
	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/internal/topology"
)

// Options configure a Store.
type Options struct {
	Prefix string   // etcd prefix of records and policies, e.g. /skydns
	Zones  []string // served zones
	// Descend lists the zones (of Zones) whose names answer the records
	// at every depth below them, as CoreDNS does (record.NewRule).
	Descend    []string
	StatusPath string // e.g. /skydns/monitor/status/
	Logger     *slog.Logger
	// View tunes the etcd views (tests shorten the progress interval).
	View etcdview.Options
}

// Store is the server's whole in-memory state.
type Store struct {
	prefix     string
	rule       record.Rule // which names each record serves
	statusPath string
	zones      []*Zone // longest origin first, so the first match is the most specific
	log        *slog.Logger
	viewOpts   etcdview.Options

	hmu sync.RWMutex
	// health is keyed by the 16-byte form of each IP: no pointers, so the
	// garbage collector skips the map's keys.
	health map[[16]byte]health.State
	// healthIPs and healthDown count the map, kept under hmu's write lock
	// so that a metrics scrape never walks the map under the lock every
	// query reads through.
	healthIPs, healthDown atomic.Int64
	// overridden are the IPs whose status is an operator's override: it
	// holds for every name, whatever their checks say.
	overridden map[[16]byte]bool

	// verdicts are the per-check verdicts, check-id -> IP -> state, kept
	// by their view alone under vmu; overlay is what the query path reads
	// of them (verdicts.go).
	vmu      sync.Mutex
	verdicts map[string]map[[16]byte]health.State
	overlay  atomic.Pointer[checkOverlay]

	pmu      sync.RWMutex
	policies map[string]*policy.Policy

	// topo is the compiled topology, swapped whole on every change; sites
	// are the decoded values it was compiled from, touched only by the
	// topology view's goroutine.
	topo  atomic.Pointer[topology.Topology]
	sites map[string]topology.Site

	views  []*etcdview.View
	loaded atomic.Bool
	// cli and statusView serve the explanation (explain.go), never a query.
	cli        *clientv3.Client
	statusView *etcdview.View
}

// New returns an empty store for the given zones. Run fills it.
func New(o Options) *Store {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		prefix: strings.TrimRight(o.Prefix, "/"), statusPath: o.StatusPath,
		log: o.Logger, viewOpts: o.View,
		health: map[[16]byte]health.State{}, policies: map[string]*policy.Policy{},
		overridden: map[[16]byte]bool{}, verdicts: map[string]map[[16]byte]health.State{},
	}
	s.rule = record.NewRule(s.prefix, originsOf(o.Zones), o.Descend)
	for _, origin := range o.Zones {
		origin = strings.ToLower(dnsFQDN(origin))
		s.zones = append(s.zones, &Zone{
			Origin: origin, store: s, path: record.NamePath(s.prefix, origin),
			names: map[string]*Node{}, ents: map[string]int32{}, ptr: newPtrIndex(),
		})
	}
	slices.SortFunc(s.zones, func(a, b *Zone) int { return len(b.Origin) - len(a.Origin) })
	return s
}

// originsOf are the zones' origins; never nil, so that the rule knows the
// store serves exactly these.
func originsOf(zones []string) []string {
	out := make([]string, 0, len(zones))
	for _, z := range zones {
		out = append(out, strings.ToLower(dnsFQDN(z)))
	}
	return out
}

func dnsFQDN(s string) string {
	if strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

// Zones returns the served zones, most specific first.
func (s *Store) Zones() []*Zone { return s.zones }

// ZoneOf returns the most specific zone that name (lower case, fully
// qualified) is in, or nil.
func (s *Store) ZoneOf(name string) *Zone {
	for _, z := range s.zones {
		if record.IsSubdomain(name, z.Origin) {
			return z
		}
	}
	return nil
}

// NamesOf returns the names that hold ip, in every zone.
func (s *Store) NamesOf(ip netip.Addr) []string {
	var names []string
	for _, z := range s.zones {
		names = append(names, z.NamesOf(ip)...)
	}
	return names
}

// State is the health of ip.
func (s *Store) State(ip netip.Addr) health.State {
	s.hmu.RLock()
	st := s.health[ip.Unmap().As16()]
	s.hmu.RUnlock()
	return st
}

// StateFor is ip's state for name as Healthy reads it, the check-id of
// name's check, and whether that check's verdict (rather than the IP's
// status) decided it: what /skydns/explain shows per IP.
func (s *Store) StateFor(name string, ip netip.Addr) (st health.State, check string, byVerdict bool) {
	key := ip.Unmap().As16()
	diff := s.overlay.Load().diffOf(name)
	s.hmu.RLock()
	st = stateFor(diff, s.health, key)
	s.hmu.RUnlock()
	_, byVerdict = diff[key]
	return st, checkIDOf(s.Policy(name)), byVerdict
}

// Healthy appends to dst the addresses of as, the addresses of name, that
// may be served to name: UP, or not checked yet when serveUnknown. An
// address is UP for a name when the verdict of that name's check on it
// is, and when there is none, when its status is (overridden: its status,
// whatever the checks). One lock for the whole set.
//
// An address that several records of the name hold (the original kubeapi's
// record and the sync's, say) is listed once.
func (s *Store) Healthy(dst, as []Addr, serveUnknown bool, name string) []Addr {
	diff := s.overlay.Load().diffOf(name)
	s.hmu.RLock()
	for _, a := range as {
		if a.dup {
			continue
		}
		switch stateFor(diff, s.health, a.ip) {
		case health.Up:
			dst = append(dst, a)
		case health.Unknown:
			if serveUnknown {
				dst = append(dst, a)
			}
		}
	}
	s.hmu.RUnlock()
	return dst
}

// Policy returns the policy of name, or nil for the defaults.
func (s *Store) Policy(name string) *policy.Policy {
	s.pmu.RLock()
	p := s.policies[name]
	s.pmu.RUnlock()
	return p
}

// Topology returns the compiled sites; nil or empty when none is defined.
func (s *Store) Topology() *topology.Topology { return s.topo.Load() }

// HealthCount returns how many IPs have a status, and how many are down.
func (s *Store) HealthCount() (total, down int) {
	return int(s.healthIPs.Load()), int(s.healthDown.Load())
}

// setHealth records ip's state (Unknown removes it) and keeps the counts.
// Under hmu's write lock.
func (s *Store) setHealth(ip [16]byte, st health.State) {
	old, had := s.health[ip]
	if had {
		s.healthIPs.Add(-1)
		if old == health.Down {
			s.healthDown.Add(-1)
		}
	}
	if st == health.Unknown {
		delete(s.health, ip)
		return
	}
	s.health[ip] = st
	s.healthIPs.Add(1)
	if st == health.Down {
		s.healthDown.Add(1)
	}
}

// Start begins keeping the store in step with etcd, until ctx ends; wait
// returns once everything has stopped. Call it once.
func (s *Store) Start(ctx context.Context, cli *clientv3.Client) (wait func()) {
	o := s.viewOpts
	o.Logger = s.log
	var wg sync.WaitGroup
	s.cli = cli
	start := func(prefix string, h etcdview.Handler, o etcdview.Options) *etcdview.View {
		v := etcdview.New(cli, prefix, h, o)
		s.views = append(s.views, v)
		wg.Go(func() { v.Run(ctx) })
		return v
	}
	withPrev := o
	withPrev.PrevKV = true
	for _, z := range s.zones {
		start(z.path, recordsHandler{z: z, log: s.log}, withPrev)
	}
	start(policy.Prefix(s.prefix), policyHandler{s}, o)
	s.statusView = start(s.statusPath, healthHandler{s}, o)
	vp := monitor.Paths{Status: s.statusPath}
	start(vp.VerdictDir(), verdictHandler{s: s, paths: vp}, o)
	start(topology.Prefix(s.prefix), topologyHandler{s}, o)
	wg.Go(func() {
		if s.Ready(ctx) {
			s.loaded.Store(true)
			s.log.Info("zones, health, policies and sites loaded from etcd")
		}
	})
	return wg.Wait
}

// Loaded reports whether every view has loaded once; before that the
// store knows nothing, and an empty answer would be a wrong one.
func (s *Store) Loaded() bool { return s.loaded.Load() }

// Ready is closed when every view has loaded once.
func (s *Store) Ready(ctx context.Context) bool {
	for _, v := range s.views {
		select {
		case <-v.Ready():
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// Status summarises the views: loaded (all), stale (any), the lowest
// revision and the oldest sync.
type Status struct {
	Loaded   bool
	Stale    bool
	Revision int64 // the lowest revision a view's state is at (that of its prefix's last change)
	Seen     int64 // the highest revision heard from etcd: what /readyz reports
	LastSync time.Time
	Reloads  int64
	Restarts int64
}

// Status reports the state of the etcd views, for metrics and /readyz.
func (s *Store) Status() Status {
	st := Status{Loaded: len(s.views) > 0}
	for i, v := range s.views {
		vs := v.Status()
		st.Loaded = st.Loaded && vs.Loaded
		st.Stale = st.Stale || vs.Stale
		if i == 0 || vs.Revision < st.Revision {
			st.Revision = vs.Revision
		}
		st.Seen = max(st.Seen, vs.Seen)
		if i == 0 || vs.LastSync.Before(st.LastSync) {
			st.LastSync = vs.LastSync
		}
		st.Reloads += vs.Reloads
		st.Restarts += vs.Restarts
	}
	return st
}

// healthHandler feeds the health map from the status keys.
type healthHandler struct{ s *Store }

// parse reads a status key-value; value nil (a delete) reads the key only.
// The server needs the status word alone, so only that is decoded.
func (h healthHandler) parse(key, value []byte) ([16]byte, health.State, bool, bool) {
	ip, err := health.ParseKey(h.s.statusPath, string(key))
	if err != nil {
		return [16]byte{}, health.Unknown, false, false
	}
	if value == nil {
		return ip.As16(), health.Unknown, false, true
	}
	st, err := health.DecodeState(value)
	if err != nil {
		h.s.log.Warn("health status ignored: bad value", "key", string(key), "err", err)
	}
	// Whether it is an override decides whether the checks may differ
	// from it per name (verdicts.go); a value read for its word alone is
	// none.
	full, _ := health.Decode(value)
	return ip.As16(), st, full.Override, true
}

func (h healthHandler) Load(rev int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	m := make(map[[16]byte]health.State)
	over := map[[16]byte]bool{}
	var down int64
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		if ip, st, o, ok := h.parse(kv.Key, kv.Value); ok && st != health.Unknown {
			if o {
				over[ip] = true
			}
			if old, dup := m[ip]; dup && old == health.Down {
				down-- // two spellings of one IP: the later wins
			}
			m[ip] = st
			if st == health.Down {
				down++
			}
		}
	}
	h.s.hmu.Lock()
	h.s.health = m
	h.s.overridden = over
	h.s.healthIPs.Store(int64(len(m)))
	h.s.healthDown.Store(down)
	h.s.hmu.Unlock()
	h.s.rebuildChecks()
	h.s.log.Info("health loaded", "ips", len(m), "revision", rev)
	return nil
}

func (h healthHandler) Apply(rev int64, events []*clientv3.Event) {
	h.s.hmu.Lock()
	for _, ev := range events {
		value := ev.Kv.Value
		if ev.Type == clientv3.EventTypeDelete {
			value = nil
		}
		if ip, st, o, ok := h.parse(ev.Kv.Key, value); ok {
			h.s.setHealth(ip, st)
			if o && st != health.Unknown {
				h.s.overridden[ip] = true
			} else {
				delete(h.s.overridden, ip)
			}
		}
	}
	h.s.hmu.Unlock()
	h.s.rebuildChecks()
}

// policyHandler feeds the per-name policies.
type policyHandler struct{ s *Store }

// parse reads a policy key-value; value nil (a delete) reads the key only.
func (h policyHandler) parse(key, value []byte) (string, *policy.Policy, bool) {
	name, err := policy.ParseKey(h.s.prefix, string(key))
	if err != nil || value == nil {
		return name, nil, err == nil
	}
	p, err := policy.Decode(value)
	if err != nil {
		h.s.log.Warn("policy ignored: bad value", "key", string(key), "err", err)
		return name, nil, true
	}
	return name, &p, true
}

func (h policyHandler) Load(rev int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	m := make(map[string]*policy.Policy)
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		if name, p, ok := h.parse(kv.Key, kv.Value); ok && p != nil {
			m[name] = p
		}
	}
	h.s.pmu.Lock()
	h.s.policies = m
	h.s.pmu.Unlock()
	h.s.rebuildChecks()
	return nil
}

func (h policyHandler) Apply(rev int64, events []*clientv3.Event) {
	h.s.pmu.Lock()
	for _, ev := range events {
		value := ev.Kv.Value
		if ev.Type == clientv3.EventTypeDelete {
			value = nil
		}
		name, p, ok := h.parse(ev.Kv.Key, value)
		if !ok {
			continue
		}
		if p == nil {
			delete(h.s.policies, name)
		} else {
			h.s.policies[name] = p
		}
	}
	h.s.pmu.Unlock()
	h.s.rebuildChecks()
}

// topologyHandler feeds the sites. Each change compiles the whole table
// anew (sites are few and change seldom) and swaps it in: the next query
// uses it, and each name places its addresses again on first use.
type topologyHandler struct{ s *Store }

// parse reads a topology key-value; value nil (a delete) reads the key
// only. A bad value is logged and leaves the site out; the others serve.
func (h topologyHandler) parse(key, value []byte) (string, *topology.Site, bool) {
	name, err := topology.ParseKey(h.s.prefix, string(key))
	if err != nil {
		h.s.log.Warn("topology key ignored", "key", string(key), "err", err)
		return "", nil, false
	}
	if value == nil {
		return name, nil, true
	}
	site, err := topology.Decode(name, value)
	if err != nil {
		h.s.log.Warn("site ignored: bad value", "key", string(key), "err", err)
		return name, nil, true
	}
	return name, &site, true
}

func (h topologyHandler) Load(rev int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	m := map[string]topology.Site{}
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		if name, site, ok := h.parse(kv.Key, kv.Value); ok && site != nil {
			m[name] = *site
		}
	}
	h.s.sites = m
	h.compile(rev)
	return nil
}

func (h topologyHandler) Apply(rev int64, events []*clientv3.Event) {
	for _, ev := range events {
		value := ev.Kv.Value
		if ev.Type == clientv3.EventTypeDelete {
			value = nil
		}
		name, site, ok := h.parse(ev.Kv.Key, value)
		if !ok {
			continue
		}
		if site == nil {
			delete(h.s.sites, name)
		} else {
			h.s.sites[name] = *site
		}
	}
	h.compile(rev)
}

func (h topologyHandler) compile(rev int64) {
	t, problems := topology.Compile(h.s.sites)
	for _, p := range problems {
		h.s.log.Warn("topology", "err", p)
	}
	h.s.topo.Store(t)
	h.s.log.Info("topology compiled", "sites", t.Len(), "revision", rev)
}
