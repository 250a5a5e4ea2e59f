package store

import (
	"iter"
	"log/slog"
	"sync"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// keyedIndex mirrors a part of the tree where every key names one K (a
// policy's name, an IP) and several spellings of a key may name the same
// K. It is an etcdview.Handler: Load builds a fresh map and swaps it in,
// Apply keeps the entry of the key written last, and a delete, or a put
// whose value cannot be kept, removes the entry only if it came from that
// very key.
type keyedIndex[K comparable, E any] struct {
	revTracker
	log  *slog.Logger
	what string // for log messages

	// parseKey says which K a key names; an error means the key is not
	// one of the index's.
	parseKey func(key string) (K, error)
	// parseValue makes the entry of a key-value whose key names k; false
	// if the value is not to be kept.
	parseValue func(k K, kv *mvccpb.KeyValue) (E, bool)
	// keyOf is the etcd key an entry came from.
	keyOf func(E) string
	// changed, if set, runs after each Load and Apply, before the
	// revision advances: whoever waits for a revision sees what it
	// derives from the entries too.
	changed func()

	mu sync.RWMutex
	m  map[K]E
}

func (x *keyedIndex[K, E]) init(what string, log *slog.Logger, parseKey func(string) (K, error),
	parseValue func(K, *mvccpb.KeyValue) (E, bool), keyOf func(E) string) {
	x.what, x.log, x.parseKey, x.parseValue, x.keyOf = what, log, parseKey, parseValue, keyOf
	x.m = map[K]E{}
}

// parse is parseKey then parseValue, for one key-value.
func (x *keyedIndex[K, E]) parse(kv *mvccpb.KeyValue) (K, E, bool, bool) {
	var e E
	k, err := x.parseKey(string(kv.Key))
	if err != nil {
		x.log.Debug("ignoring "+x.what+" key", "key", string(kv.Key), "err", err)
		return k, e, false, false
	}
	e, ok := x.parseValue(k, kv)
	return k, e, true, ok
}

// Load implements etcdview.Handler.
func (x *keyedIndex[K, E]) Load(rev int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	fresh := map[K]E{}
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		if k, e, _, ok := x.parse(kv); ok {
			fresh[k] = e
		}
	}
	x.mu.Lock()
	x.m = fresh
	x.mu.Unlock()
	if x.changed != nil {
		x.changed()
	}
	x.advance(rev)
	return nil
}

// Apply implements etcdview.Handler.
func (x *keyedIndex[K, E]) Apply(rev int64, events []*clientv3.Event) {
	x.mu.Lock()
	for _, ev := range events {
		key := string(ev.Kv.Key)
		k, err := x.parseKey(key)
		if err != nil {
			continue
		}
		if ev.Type == clientv3.EventTypePut {
			if e, ok := x.parseValue(k, ev.Kv); ok {
				x.m[k] = e
				continue
			}
		}
		// Only the key that holds the entry removes it: several
		// spellings (trailing slash, case, IPv4-mapped) map to one K.
		if e, ok := x.m[k]; ok && x.keyOf(e) == key {
			delete(x.m, k)
		}
	}
	x.mu.Unlock()
	if x.changed != nil {
		x.changed()
	}
	x.advance(rev)
}

func (x *keyedIndex[K, E]) snapshot(k K) (E, bool, int64) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	e, ok := x.m[k]
	// The revision is read under the same lock as the entry.
	return e, ok, x.current()
}

// filter returns the entries for which keep holds (all if keep is nil),
// in no order.
func (x *keyedIndex[K, E]) filter(keep func(E) bool) []E {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if keep == nil {
		out := make([]E, 0, len(x.m))
		for _, e := range x.m {
			out = append(out, e)
		}
		return out
	}
	var out []E
	for _, e := range x.m {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}
