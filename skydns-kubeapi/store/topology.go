package store

import (
	"log/slog"
	"net/netip"
	"sort"
	"sync/atomic"

	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/skydns/skydns/internal/topology"
)

// SiteEntry is one key under <prefix>/topology/: a site of the GSLB.
type SiteEntry struct {
	Key  string
	Name string
	Site topology.Site // decoded; zero when Err is set
	// Err says why the value cannot be read. The DNS server skips such a
	// site; it is kept here so that the API can show it and replace or
	// delete it.
	Err    error
	Raw    []byte
	ModRev int64
}

// siteIndex mirrors <prefix>/topology/, by site name, and keeps the
// compiled table of the readable sites for placing an IP. It is an
// etcdview.Handler.
type siteIndex struct {
	keyedIndex[string, SiteEntry]
	prefix   string // the records root
	path     string // <prefix>/topology/
	compiled atomic.Pointer[topology.Topology]
}

func newSiteIndex(prefix string, log *slog.Logger) *siteIndex {
	x := &siteIndex{prefix: prefix, path: topology.Prefix(prefix)}
	x.init("topology", log, x.parseKey, x.parseValue, func(e SiteEntry) string { return e.Key })
	x.changed = x.compile
	x.compile()
	return x
}

func (x *siteIndex) parseKey(key string) (string, error) { return topology.ParseKey(x.prefix, key) }

func (x *siteIndex) parseValue(name string, kv *mvccpb.KeyValue) (SiteEntry, bool) {
	e := SiteEntry{Key: string(kv.Key), Name: name, Raw: kv.Value, ModRev: kv.ModRevision}
	e.Site, e.Err = topology.Decode(name, kv.Value)
	if e.Err != nil {
		x.log.Debug("undecodable site", "key", e.Key, "err", e.Err)
	}
	return e, true
}

// compile builds the table of the readable sites.
func (x *siteIndex) compile() {
	sites := map[string]topology.Site{}
	for _, e := range x.filter(func(e SiteEntry) bool { return e.Err == nil }) {
		sites[e.Name] = e.Site
	}
	t, _ := topology.Compile(sites) // the API refuses what it would report
	x.compiled.Store(t)
}

func (x *siteIndex) all() []SiteEntry {
	out := x.filter(nil)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Sites returns every stored site, by name, readable or not.
func (s *Store) Sites() []SiteEntry { return s.sites.all() }

// SitesSnapshot is Sites with the revision of the topology mirror.
func (s *Store) SitesSnapshot() ([]SiteEntry, int64) {
	// The revision is read first: entries can only be newer than it,
	// which makes a guard built on it stricter, never weaker.
	rev := s.sites.current()
	return s.sites.all(), rev
}

// Site returns the stored site called name.
func (s *Store) Site(name string) (SiteEntry, bool) {
	e, ok, _ := s.sites.snapshot(name)
	return e, ok
}

// SiteKey is the key the site called name is written under.
func (s *Store) SiteKey(name string) string { return topology.Key(s.prefix, name) }

// SitePath holds every site key.
func (s *Store) SitePath() string { return s.sites.path }

// SiteOf is the site an address with a record's site field is in: the
// field when that site exists, else the longest network match over the
// sites; "" for none.
func (s *Store) SiteOf(ip netip.Addr, field string) string {
	t := s.sites.compiled.Load()
	var h uint16
	if field != "" {
		h = topology.Hash(field)
	}
	if i := t.SiteOf(ip, h); i >= 0 {
		return t.Name(i)
	}
	return ""
}
