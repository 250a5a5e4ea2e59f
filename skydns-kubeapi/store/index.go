package store

import (
	"iter"
	"log/slog"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
)

// Entry is one stored record.
type Entry struct {
	Key  string // the etcd key, exactly as stored
	Name string // the owner name of its key (record.ParseKey)
	// Names are all the names it serves (record.Rule): Name, then its
	// parent when the record is stored at Name's own path.
	Names  []string
	Record record.Record // decoded and normalized
	ModRev int64
}

// zoneIndex mirrors the records of one zone. It is an etcdview.Handler.
type zoneIndex struct {
	revTracker
	prefix string // records root
	rule   record.Rule
	zone   string
	path   string // record.NamePath(prefix, zone)
	groupF func(string, record.Record) string
	log    *slog.Logger

	mu sync.RWMutex
	zoneMaps
	sorted  []pathName // names in key order; nil after a change of the names
	changes uint64     // counts changes of the set of names
}

// zoneMaps are the indexes of a zone's records. Load builds a fresh set
// outside the lock and swaps it in.
type zoneMaps struct {
	byKey  map[string]*Entry
	byName map[string]nameEntries
	groups map[string]map[string]*Entry
	byIP   map[netip.Addr]map[string]int // address -> names with records of it -> how many
}

// nameEntries are the records of one name, with the name's path, worked
// out once when the name first appears.
type nameEntries struct {
	path    string   // record.NamePath("", name), the sort key of listings
	entries []*Entry // in key order; a name holds a few
}

// pathName is a name with its path, the sort key of listings.
type pathName struct{ path, name string }

func newZoneIndex(rule record.Rule, zone string, group func(string, record.Record) string, log *slog.Logger) *zoneIndex {
	prefix := rule.Prefix()
	z := &zoneIndex{prefix: prefix, rule: rule, zone: zone, path: record.NamePath(prefix, zone), groupF: group, log: log}
	z.zoneMaps = newZoneMaps(0, 0)
	return z
}

// newZoneMaps makes empty indexes sized for records entries of names names.
func newZoneMaps(records, names int) zoneMaps {
	return zoneMaps{
		byKey:  make(map[string]*Entry, records),
		byName: make(map[string]nameEntries, names),
		groups: map[string]map[string]*Entry{},
		byIP:   map[netip.Addr]map[string]int{},
	}
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
	names, _, err := z.rule.Owners(key, r)
	if err != nil || !record.IsSubdomain(names[0], z.zone) {
		z.log.Debug("ignoring key that names no record of the zone", "key", key, "err", err)
		return nil
	}
	return &Entry{Key: key, Name: names[0], Names: names, Record: r, ModRev: kv.ModRevision}
}

// Load implements etcdview.Handler. The indexes and the sorted names are
// built outside the lock, which is held only to swap them in.
func (z *zoneIndex) Load(rev int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	var fresh []*Entry
	names, last := 0, ""
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		if e := z.parse(kv); e != nil {
			fresh = append(fresh, e)
			// Keys come in order, so a name's records mostly come
			// together: this counts names closely enough to size a map.
			if e.Name != last {
				names, last = names+1, e.Name
			}
		}
	}
	m := newZoneMaps(len(fresh), names)
	for _, e := range fresh {
		m.add(e, z.groupF)
	}
	sorted := sortNames(m.byName)
	z.mu.Lock()
	z.zoneMaps = m
	z.sorted = sorted
	z.changes++
	z.mu.Unlock()
	z.advance(rev)
	return nil
}

// Apply implements etcdview.Handler.
func (z *zoneIndex) Apply(rev int64, events []*clientv3.Event) {
	z.mu.Lock()
	for _, ev := range events {
		gone := z.remove(string(ev.Kv.Key), z.groupF)
		var added []string
		if ev.Type == clientv3.EventTypePut {
			if e := z.parse(ev.Kv); e != nil {
				added = z.add(e, z.groupF)
			}
		}
		// A name whose only record was replaced keeps its place.
		if !slices.Equal(gone, added) {
			z.sorted = nil
			z.changes++
		}
	}
	z.mu.Unlock()
	z.advance(rev)
}

func byKey(a *Entry, key string) int { return strings.Compare(a.Key, key) }

// add indexes e under each of its names and returns those that are new.
func (m *zoneMaps) add(e *Entry, groupF func(string, record.Record) string) (newNames []string) {
	m.byKey[e.Key] = e
	for _, name := range e.Names {
		ne, ok := m.byName[name]
		if !ok {
			ne.path = record.NamePath("", name)
			newNames = append(newNames, name)
		}
		if i, found := slices.BinarySearchFunc(ne.entries, e.Key, byKey); found {
			ne.entries[i] = e
		} else {
			ne.entries = slices.Insert(ne.entries, i, e)
		}
		m.byName[name] = ne
	}
	if ip := e.Record.IP(); ip.IsValid() {
		names := m.byIP[ip]
		if names == nil {
			names = map[string]int{}
			m.byIP[ip] = names
		}
		for _, name := range e.Names {
			names[name]++
		}
	}
	if groupF != nil {
		if g := groupF(e.Name, e.Record); g != "" {
			gm := m.groups[g]
			if gm == nil {
				gm = map[string]*Entry{}
				m.groups[g] = gm
			}
			gm[e.Key] = e
		}
	}
	return newNames
}

// remove drops the entry of key, if any, and returns the names that went
// with it.
func (m *zoneMaps) remove(key string, groupF func(string, record.Record) string) (goneNames []string) {
	e, ok := m.byKey[key]
	if !ok {
		return nil
	}
	delete(m.byKey, key)
	for _, name := range e.Names {
		ne, ok := m.byName[name]
		if !ok {
			continue
		}
		if i := slices.Index(ne.entries, e); i >= 0 {
			ne.entries = slices.Delete(ne.entries, i, i+1)
		}
		if len(ne.entries) == 0 {
			delete(m.byName, name)
			goneNames = append(goneNames, name)
		} else {
			m.byName[name] = ne
		}
	}
	if ip := e.Record.IP(); ip.IsValid() {
		if names := m.byIP[ip]; names != nil {
			for _, name := range e.Names {
				if names[name]--; names[name] <= 0 {
					delete(names, name)
				}
			}
			if len(names) == 0 {
				delete(m.byIP, ip)
			}
		}
	}
	if groupF != nil {
		if g := groupF(e.Name, e.Record); g != "" {
			if gm := m.groups[g]; gm != nil {
				delete(gm, key)
				if len(gm) == 0 {
					delete(m.groups, g)
				}
			}
		}
	}
	return goneNames
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
	es := z.byName[name].entries
	out := make([]Entry, len(es))
	for i, e := range es {
		out[i] = *e
	}
	// The revision is read under the same lock as the records, so that a
	// guard built from it covers exactly what was read.
	return out, z.current()
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

// sortNames lists the names of byName in key order.
func sortNames(byName map[string]nameEntries) []pathName {
	list := listNames(byName)
	sortPathNames(list)
	return list
}

func listNames(byName map[string]nameEntries) []pathName {
	out := make([]pathName, 0, len(byName))
	for n, ne := range byName {
		out = append(out, pathName{ne.path, n})
	}
	return out
}

// sortPathNames puts names in key order: by labels from the right, so a
// zone's names come out grouped under their parents, and a page boundary
// is stable however the names change meanwhile.
func sortPathNames(list []pathName) {
	slices.SortFunc(list, func(a, b pathName) int { return strings.Compare(a.path, b.path) })
}

// sortedNames returns the names in key order. After a change it copies the
// names under the read lock and sorts them unlocked, so that neither
// readers nor the watch wait on the sort; the list is kept only if no name
// has come or gone meanwhile, and is served either way, being exact as of
// when it was copied.
func (z *zoneIndex) sortedNames() []pathName {
	z.mu.RLock()
	if sorted := z.sorted; sorted != nil {
		z.mu.RUnlock()
		return sorted
	}
	changes := z.changes
	list := listNames(z.byName)
	z.mu.RUnlock()
	sortPathNames(list)
	z.mu.Lock()
	if z.changes == changes {
		z.sorted = list
	}
	z.mu.Unlock()
	return list
}

// names returns up to limit names after the name after, in key order.
func (z *zoneIndex) names(after string, limit int) []string {
	sorted := z.sortedNames()
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

// policyIndex mirrors <prefix>/policy/, by lowercased name. It is an
// etcdview.Handler.
type policyIndex struct {
	keyedIndex[string, PolicyEntry]
	root   string
	prefix string
}

func newPolicyIndex(root string, log *slog.Logger) *policyIndex {
	p := &policyIndex{root: root, prefix: policy.Prefix(root)}
	p.init("policy", log, p.parseKey, p.parseValue, func(e PolicyEntry) string { return e.Key })
	return p
}

func (p *policyIndex) parseKey(key string) (string, error) { return policy.ParseKey(p.root, key) }

func (p *policyIndex) parseValue(name string, kv *mvccpb.KeyValue) (PolicyEntry, bool) {
	key := string(kv.Key)
	sp, err := DecodePolicy(kv.Value)
	if err != nil {
		// Kept, so that writers see the name is taken and readers can
		// show it; the DNS server ignores it the same way.
		p.log.Debug("undecodable policy", "key", key, "err", err)
	}
	return PolicyEntry{Key: key, Name: name, Policy: sp.Policy, Source: sp.Source,
		Cluster: sp.Cluster, User: sp.User, ModRev: kv.ModRevision}, true
}

func (p *policyIndex) get(name string) (PolicyEntry, bool) {
	e, ok, _ := p.snapshot(name)
	return e, ok
}

func (p *policyIndex) snapshot(name string) (PolicyEntry, bool, int64) {
	return p.keyedIndex.snapshot(strings.ToLower(name))
}

func (p *policyIndex) owned(source, cluster string) []PolicyEntry {
	out := p.filter(func(e PolicyEntry) bool { return e.Source == source && e.Cluster == cluster })
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// healthEntry is the status of an IP with the key it came from.
type healthEntry struct {
	key    string
	status health.Status
}

// healthIndex mirrors ip-monitor-path, by IP. It is an etcdview.Handler.
type healthIndex struct {
	keyedIndex[netip.Addr, healthEntry]
	path string
}

func newHealthIndex(path string, log *slog.Logger) *healthIndex {
	h := &healthIndex{path: path}
	h.init("health", log, h.parseKey, h.parseValue, func(e healthEntry) string { return e.key })
	return h
}

func (h *healthIndex) parseKey(key string) (netip.Addr, error) { return health.ParseKey(h.path, key) }

func (h *healthIndex) parseValue(_ netip.Addr, kv *mvccpb.KeyValue) (healthEntry, bool) {
	st, err := health.Decode(kv.Value)
	if err != nil {
		h.log.Debug("undecodable health status", "key", string(kv.Key), "err", err)
		return healthEntry{}, false
	}
	return healthEntry{key: string(kv.Key), status: st}, true
}

func (h *healthIndex) get(ip netip.Addr) (health.Status, bool) {
	e, ok, _ := h.snapshot(ip.Unmap())
	return e.status, ok
}

// verdictEntry is one per-check verdict and the key it came from.
type verdictEntry struct {
	key string
	v   monitor.Verdict
}

// verdictIndex mirrors the per-check verdicts, beside the status directory
// (monitor.Paths.VerdictDir).
type verdictIndex struct {
	keyedIndex[monitor.Target, verdictEntry]
	paths monitor.Paths
	path  string
}

func newVerdictIndex(statusPath string, log *slog.Logger) *verdictIndex {
	v := &verdictIndex{paths: monitor.Paths{Status: statusPath}}
	v.path = v.paths.VerdictDir()
	v.init("verdict", log, v.parseKey, v.parseValue, func(e verdictEntry) string { return e.key })
	return v
}

func (v *verdictIndex) parseKey(key string) (monitor.Target, error) {
	ip, id, err := v.paths.ParseVerdictKey(key)
	return monitor.Target{IP: ip, Check: id}, err
}

func (v *verdictIndex) parseValue(_ monitor.Target, kv *mvccpb.KeyValue) (verdictEntry, bool) {
	d, err := monitor.DecodeVerdict(kv.Value)
	if err != nil {
		v.log.Debug("undecodable verdict", "key", string(kv.Key), "err", err)
		return verdictEntry{}, false
	}
	return verdictEntry{key: string(kv.Key), v: d}, true
}
