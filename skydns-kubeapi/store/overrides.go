package store

import (
	"log/slog"
	"net/netip"
	"sort"

	"go.etcd.io/etcd/api/v3/mvccpb"

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

// overrideIndex mirrors override-path, by IP. It is an etcdview.Handler.
type overrideIndex struct {
	keyedIndex[netip.Addr, OverrideEntry]
	path string
}

func newOverrideIndex(path string, log *slog.Logger) *overrideIndex {
	x := &overrideIndex{path: path}
	x.init("override", log, x.parseKey, x.parseValue, func(e OverrideEntry) string { return e.Key })
	return x
}

func (x *overrideIndex) parseKey(key string) (netip.Addr, error) {
	return monitor.ParseOverrideKey(x.path, key)
}

func (x *overrideIndex) parseValue(ip netip.Addr, kv *mvccpb.KeyValue) (OverrideEntry, bool) {
	key := string(kv.Key)
	e := OverrideEntry{Key: key, IP: ip, Raw: kv.Value, ModRev: kv.ModRevision}
	e.Override, e.Err = health.DecodeOverride(kv.Value)
	if e.Err != nil {
		x.log.Debug("undecodable override", "key", key, "err", e.Err)
	}
	return e, true
}

func (x *overrideIndex) snapshot(ip netip.Addr) (OverrideEntry, bool, int64) {
	return x.keyedIndex.snapshot(ip.Unmap())
}

func (x *overrideIndex) all() []OverrideEntry {
	out := x.filter(nil)
	sort.Slice(out, func(i, j int) bool { return out[i].IP.Less(out[j].IP) })
	return out
}
