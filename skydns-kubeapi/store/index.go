package store

import (
	"iter"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
)

// Entry is one stored record.
type Entry struct {
	Key    string        // the etcd key, exactly as stored
	Name   string        // the owner name it serves (record.ParseKey)
	Record record.Record // decoded and normalized
	ModRev int64
}

// zoneIndex mirrors the records of one zone. It is an etcdview.Handler.
type zoneIndex struct {
	revTracker
	prefix string // records root
	zone   string
	path   string // record.NamePath(prefix, zone)
	groupF func(string, record.Record) string
	log    *slog.Logger

	mu     sync.RWMutex
	byKey  map[string]*Entry
	byName map[string]map[string]*Entry
	groups map[string]map[string]*Entry
	byIP   map[netip.Addr]map[string]int // address -> names with records of it -> how many
	sorted []pathName                    // names in key order; nil after a change
}

// pathName is a name with its path, the sort key of listings.
type pathName struct{ path, name string }

func newZoneIndex(prefix, zone string, group func(string, record.Record) string, log *slog.Logger) *zoneIndex {
	z := &zoneIndex{prefix: prefix, zone: zone, path: record.NamePath(prefix, zone), groupF: group, log: log}
	z.reset()
	return z
}

func (z *zoneIndex) reset() {
	z.byKey = map[string]*Entry{}
	z.byName = map[string]map[string]*Entry{}
	z.groups = map[string]map[string]*Entry{}
	z.byIP = map[netip.Addr]map[string]int{}
	z.sorted = nil
}

// holds reports whether key lies in this zone's part of the tree.
func (z *zoneIndex) holds(key string) bool {
	return key == z.path || hasPrefix(key, z.path+"/")
}

// parse turns a key-value into an entry; nil for keys that are not records
// of this zone (a sibling zone sharing the prefix, or data no reader could
// serve, which is logged once per change).
func (z *zoneIndex) parse(kv *mvccpb.KeyValue) *Entry {
	key := string(kv.Key)
	if !z.holds(key) {
		return nil
	}
	r, err := record.Decode(kv.Value)
	if err != nil {
		z.log.Debug("ignoring undecodable record", "key", key, "err", err)
		return nil
	}
	name, _, err := record.ParseKey(z.prefix, key, r)
	if err != nil || !record.IsSubdomain(name, z.zone) {
		z.log.Debug("ignoring key that names no record of the zone", "key", key, "err", err)
		return nil
	}
	return &Entry{Key: key, Name: name, Record: r, ModRev: kv.ModRevision}
}

// Load implements etcdview.Handler.
func (z *zoneIndex) Load(rev int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	var fresh []*Entry
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		if e := z.parse(kv); e != nil {
			fresh = append(fresh, e)
		}
	}
	z.mu.Lock()
	z.reset()
	for _, e := range fresh {
		z.add(e)
	}
	z.mu.Unlock()
	z.advance(rev)
	return nil
}

// Apply implements etcdview.Handler.
func (z *zoneIndex) Apply(rev int64, events []*clientv3.Event) {
	z.mu.Lock()
	for _, ev := range events {
		z.remove(string(ev.Kv.Key))
		if ev.Type == clientv3.EventTypePut {
			if e := z.parse(ev.Kv); e != nil {
				z.add(e)
			}
		}
	}
	z.mu.Unlock()
	z.advance(rev)
}

func (z *zoneIndex) add(e *Entry) {
	z.byKey[e.Key] = e
	m := z.byName[e.Name]
	if m == nil {
		m = map[string]*Entry{}
		z.byName[e.Name] = m
		z.sorted = nil
	}
	m[e.Key] = e
	if ip := e.Record.IP(); ip.IsValid() {
		names := z.byIP[ip]
		if names == nil {
			names = map[string]int{}
			z.byIP[ip] = names
		}
		names[e.Name]++
	}
	if z.groupF != nil {
		if g := z.groupF(e.Name, e.Record); g != "" {
			gm := z.groups[g]
			if gm == nil {
				gm = map[string]*Entry{}
				z.groups[g] = gm
			}
			gm[e.Key] = e
		}
	}
}

func (z *zoneIndex) remove(key string) {
	e, ok := z.byKey[key]
	if !ok {
		return
	}
	delete(z.byKey, key)
	if m := z.byName[e.Name]; m != nil {
		delete(m, key)
		if len(m) == 0 {
			delete(z.byName, e.Name)
			z.sorted = nil
		}
	}
	if ip := e.Record.IP(); ip.IsValid() {
		if names := z.byIP[ip]; names != nil {
			if names[e.Name]--; names[e.Name] <= 0 {
				delete(names, e.Name)
			}
			if len(names) == 0 {
				delete(z.byIP, ip)
			}
		}
	}
	if z.groupF != nil {
		if g := z.groupF(e.Name, e.Record); g != "" {
			if gm := z.groups[g]; gm != nil {
				delete(gm, key)
				if len(gm) == 0 {
					delete(z.groups, g)
				}
			}
		}
	}
}

func sortedEntries(m map[string]*Entry) []Entry {
	out := make([]Entry, 0, len(m))
	for _, e := range m {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func (z *zoneIndex) snapshot(name string) ([]Entry, int64) {
	z.mu.RLock()
	defer z.mu.RUnlock()
	// The revision is read under the same lock as the records, so that a
	// guard built from it covers exactly what was read.
	return sortedEntries(z.byName[name]), z.current()
}

// namesOf returns the names with an A or AAAA record of ip.
func (z *zoneIndex) namesOf(ip netip.Addr) []string {
	z.mu.RLock()
	defer z.mu.RUnlock()
	out := make([]string, 0, len(z.byIP[ip]))
	for n := range z.byIP[ip] {
		out = append(out, n)
	}
	return out
}

func (z *zoneIndex) group(g string) []Entry {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return sortedEntries(z.groups[g])
}

func (z *zoneIndex) groupKeys() []string {
	z.mu.RLock()
	defer z.mu.RUnlock()
	out := make([]string, 0, len(z.groups))
	for g := range z.groups {
		out = append(out, g)
	}
	return out
}

// names returns up to limit names after the name after, in key order.
func (z *zoneIndex) names(after string, limit int) []string {
	z.mu.Lock()
	if z.sorted == nil {
		// Names are listed in key order: by labels from the right, so a
		// zone's names come out grouped under their parents, and a page
		// boundary is stable however the names change meanwhile.
		z.sorted = make([]pathName, 0, len(z.byName))
		for n := range z.byName {
			z.sorted = append(z.sorted, pathName{record.NamePath("", n), n})
		}
		sort.Slice(z.sorted, func(i, j int) bool { return z.sorted[i].path < z.sorted[j].path })
	}
	sorted := z.sorted
	z.mu.Unlock()
	i := 0
	if after != "" {
		ap := record.NamePath("", after)
		i = sort.Search(len(sorted), func(i int) bool { return sorted[i].path > ap })
	}
	end := min(len(sorted), i+limit)
	out := make([]string, 0, end-i)
	for _, pn := range sorted[i:end] {
		out = append(out, pn.name)
	}
	return out
}

// PolicyEntry is one stored policy with its provenance.
type PolicyEntry struct {
	Key     string
	Name    string
	Policy  policy.Policy
	Source  string
	Cluster string
	User    string
	ModRev  int64
}

// policyIndex mirrors <prefix>/policy/. It is an etcdview.Handler.
type policyIndex struct {
	revTracker
	root   string
	prefix string
	log    *slog.Logger

	mu     sync.RWMutex
	byName map[string]PolicyEntry
}

func newPolicyIndex(root string, log *slog.Logger) *policyIndex {
	return &policyIndex{root: root, prefix: policy.Prefix(root), log: log, byName: map[string]PolicyEntry{}}
}

func (p *policyIndex) parse(kv *mvccpb.KeyValue) (PolicyEntry, bool) {
	key := string(kv.Key)
	name, err := policy.ParseKey(p.root, key)
	if err != nil {
		p.log.Debug("ignoring policy key", "key", key, "err", err)
		return PolicyEntry{}, false
	}
	sp, err := DecodePolicy(kv.Value)
	if err != nil {
		// Kept, so that writers see the name is taken and readers can
		// show it; the DNS server ignores it the same way.
		p.log.Debug("undecodable policy", "key", key, "err", err)
	}
	return PolicyEntry{Key: key, Name: name, Policy: sp.Policy, Source: sp.Source,
		Cluster: sp.Cluster, User: sp.User, ModRev: kv.ModRevision}, true
}

// Load implements etcdview.Handler.
func (p *policyIndex) Load(rev int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	fresh := map[string]PolicyEntry{}
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		if e, ok := p.parse(kv); ok {
			fresh[e.Name] = e
		}
	}
	p.mu.Lock()
	p.byName = fresh
	p.mu.Unlock()
	p.advance(rev)
	return nil
}

// Apply implements etcdview.Handler.
func (p *policyIndex) Apply(rev int64, events []*clientv3.Event) {
	p.mu.Lock()
	for _, ev := range events {
		name, err := policy.ParseKey(p.root, string(ev.Kv.Key))
		if err != nil {
			continue
		}
		if ev.Type == clientv3.EventTypeDelete {
			// Only drop the entry if it came from this very key: several
			// spellings (trailing slash, case) map to one name.
			if e, ok := p.byName[name]; ok && e.Key == string(ev.Kv.Key) {
				delete(p.byName, name)
			}
			continue
		}
		if e, ok := p.parse(ev.Kv); ok {
			p.byName[e.Name] = e
		}
	}
	p.mu.Unlock()
	p.advance(rev)
}

func (p *policyIndex) get(name string) (PolicyEntry, bool) {
	e, ok, _ := p.snapshot(name)
	return e, ok
}

func (p *policyIndex) snapshot(name string) (PolicyEntry, bool, int64) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	e, ok := p.byName[strings.ToLower(name)]
	return e, ok, p.current()
}

func (p *policyIndex) owned(source, cluster string) []PolicyEntry {
	p.mu.RLock()
	defer p.mu.RUnlock()
	var out []PolicyEntry
	for _, e := range p.byName {
		if e.Source == source && e.Cluster == cluster {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// healthIndex mirrors ip-monitor-path. It is an etcdview.Handler.
type healthIndex struct {
	revTracker
	path string
	log  *slog.Logger

	mu   sync.RWMutex
	byIP map[netip.Addr]health.Status
}

func newHealthIndex(path string, log *slog.Logger) *healthIndex {
	return &healthIndex{path: path, log: log, byIP: map[netip.Addr]health.Status{}}
}

func (h *healthIndex) parse(kv *mvccpb.KeyValue) (netip.Addr, health.Status, bool) {
	ip, err := health.ParseKey(h.path, string(kv.Key))
	if err != nil {
		return ip, health.Status{}, false
	}
	st, err := health.Decode(kv.Value)
	if err != nil {
		h.log.Debug("undecodable health status", "key", string(kv.Key), "err", err)
		return ip, health.Status{}, false
	}
	return ip, st, true
}

// Load implements etcdview.Handler.
func (h *healthIndex) Load(rev int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	fresh := map[netip.Addr]health.Status{}
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		if ip, st, ok := h.parse(kv); ok {
			fresh[ip] = st
		}
	}
	h.mu.Lock()
	h.byIP = fresh
	h.mu.Unlock()
	h.advance(rev)
	return nil
}

// Apply implements etcdview.Handler.
func (h *healthIndex) Apply(rev int64, events []*clientv3.Event) {
	h.mu.Lock()
	for _, ev := range events {
		ip, err := health.ParseKey(h.path, string(ev.Kv.Key))
		if err != nil {
			continue
		}
		if ev.Type == clientv3.EventTypeDelete {
			delete(h.byIP, ip)
			continue
		}
		if _, st, ok := h.parse(ev.Kv); ok {
			h.byIP[ip] = st
		} else {
			delete(h.byIP, ip)
		}
	}
	h.mu.Unlock()
	h.advance(rev)
}

func (h *healthIndex) get(ip netip.Addr) (health.Status, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	st, ok := h.byIP[ip.Unmap()]
	return st, ok
}
