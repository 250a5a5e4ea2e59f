package store

import (
	"iter"
	"log/slog"
	"net/netip"
	"sort"
	"sync"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
)

// OverrideEntry is one key under the override path: an operator's
// override of an IP's health.
type OverrideEntry struct {
	Key      string
	IP       netip.Addr
	Override health.Override // decoded; zero when Err is set
	// Err says why the value cannot be read. The schedule ignores such a
	// key (the IP follows its checks); it is kept here so that the API can
	// show it and replace or delete it.
	Err    error
	Raw    []byte
	ModRev int64
}

// overrideIndex mirrors override-path. It is an etcdview.Handler.
type overrideIndex struct {
	revTracker
	path string
	log  *slog.Logger

	mu   sync.RWMutex
	byIP map[netip.Addr]OverrideEntry
}

func newOverrideIndex(path string, log *slog.Logger) *overrideIndex {
	return &overrideIndex{path: path, log: log, byIP: map[netip.Addr]OverrideEntry{}}
}

func (x *overrideIndex) parse(kv *mvccpb.KeyValue) (OverrideEntry, bool) {
	key := string(kv.Key)
	ip, err := monitor.ParseOverrideKey(x.path, key)
	if err != nil {
		x.log.Debug("ignoring override key", "key", key, "err", err)
		return OverrideEntry{}, false
	}
	e := OverrideEntry{Key: key, IP: ip, Raw: kv.Value, ModRev: kv.ModRevision}
	e.Override, e.Err = health.DecodeOverride(kv.Value)
	if e.Err != nil {
		x.log.Debug("undecodable override", "key", key, "err", e.Err)
	}
	return e, true
}

// Load implements etcdview.Handler.
func (x *overrideIndex) Load(rev int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	fresh := map[netip.Addr]OverrideEntry{}
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		if e, ok := x.parse(kv); ok {
			fresh[e.IP] = e
		}
	}
	x.mu.Lock()
	x.byIP = fresh
	x.mu.Unlock()
	x.advance(rev)
	return nil
}

// Apply implements etcdview.Handler.
func (x *overrideIndex) Apply(rev int64, events []*clientv3.Event) {
	x.mu.Lock()
	for _, ev := range events {
		key := string(ev.Kv.Key)
		ip, err := monitor.ParseOverrideKey(x.path, key)
		if err != nil {
			continue
		}
		if ev.Type == clientv3.EventTypeDelete {
			// Only the key that holds the entry removes it: several
			// spellings (trailing slash, IPv4-mapped) map to one IP.
			if e, ok := x.byIP[ip]; ok && e.Key == key {
				delete(x.byIP, ip)
			}
			continue
		}
		if e, ok := x.parse(ev.Kv); ok {
			x.byIP[ip] = e
		}
	}
	x.mu.Unlock()
	x.advance(rev)
}

func (x *overrideIndex) snapshot(ip netip.Addr) (OverrideEntry, bool, int64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.byIP[ip.Unmap()]
	return e, ok, x.current()
}

func (x *overrideIndex) all() []OverrideEntry {
	x.mu.RLock()
	out := make([]OverrideEntry, 0, len(x.byIP))
	for _, e := range x.byIP {
		out = append(out, e)
	}
	x.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].IP.Less(out[j].IP) })
	return out
}
