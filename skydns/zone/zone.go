// Package zone holds the DNS server's in-memory view of etcd: the records of
// the served zones, the health of every IP, and the per-name policies. The
// query path reads only from here; etcd views keep it current.
package zone

import (
	"iter"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"unsafe"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/record"
)

// Zone is one served zone's names.
type Zone struct {
	Origin string // fully qualified, lower case
	store  *Store
	path   string // etcd path of the origin

	mu    sync.RWMutex
	names map[string]*Node
	// ents counts, for every name between a record's owner and the origin,
	// how many owners lie below it: such a name exists (an empty
	// non-terminal) and is answered NODATA, not NXDOMAIN.
	ents map[string]int32
	ptr  ptrIndex
	rev  int64
}

// Lookup returns the node of name (lower case, fully qualified) and
// whether the name exists at all (it may exist without records).
func (z *Zone) Lookup(name string) (*Node, bool) {
	z.mu.RLock()
	n := z.names[name]
	exists := n != nil || z.ents[name] > 0 || name == z.Origin
	z.mu.RUnlock()
	return n, exists
}

// Revision is the etcd revision the zone's records are at; it moves with
// every change to them, and serves as the SOA serial.
func (z *Zone) Revision() int64 {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return z.rev
}

// Len is the number of names with records.
func (z *Zone) Len() int {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return len(z.names)
}

// owns says whether this zone, not a more specific configured one, serves name.
func (z *Zone) owns(name string) bool { return z.store.ZoneOf(name) == z }

// recordsHandler feeds a Zone from an etcd view of its path.
type recordsHandler struct {
	z   *Zone
	log *slog.Logger
}

func (h recordsHandler) inPath(key string) bool {
	p := h.z.path
	return strings.HasPrefix(key, p) && (len(key) == len(p) || key[len(p)] == '/')
}

// parse reads a stored key and value into the path of the owner name
// (a slice of key, see record.Rule.KeyPaths), how many of its ancestors
// the record also serves, and either an address or another record; ok is
// false for keys that are not records.
func (h recordsHandler) parse(key, value []byte, quiet bool) (path string, up int, a *Addr, e *Entry, ok bool) {
	// Only looked at, never kept beyond the key's own lifetime: the key
	// bytes belong to an etcd response that outlives this load.
	k := unsafe.String(unsafe.SliceData(key), len(key))
	if !h.inPath(k) {
		return "", 0, nil, nil, false
	}
	var r record.Record
	if fa, fast := record.DecodeAddr(value); fast {
		// Address records, nearly all of a large zone, skip encoding/json.
		typ := record.TypeA
		if !fa.IP.Is4() {
			typ = record.TypeAAAA
		}
		r = record.Record{Type: typ, TargetStrip: fa.TargetStrip}
		na := NewAddr(fa.IP)
		na.TTL, na.Weight, na.Priority, na.Port = fa.TTL, fa.Weight, fa.Priority, fa.Port
		a = &na
	} else {
		var err error
		r, err = record.Decode(value)
		if err != nil {
			if !quiet {
				h.log.Warn("record ignored: bad value", "key", string(key), "err", err)
			}
			return "", 0, nil, nil, false
		}
		if ip := r.IP(); ip.IsValid() {
			na := newAddr(ip, r)
			a = &na
		} else {
			e = &Entry{Rec: r}
		}
	}
	path, _, up, err := h.z.store.rule.KeyPaths(k, r)
	if err != nil {
		if !quiet {
			h.log.Warn("record ignored: bad key", "key", string(key), "err", err)
		}
		return "", 0, nil, nil, false
	}
	kh := keyHash(key)
	if a != nil {
		a.key = kh
	} else {
		e.key = kh
	}
	return path, up, a, e, true
}

// name returns the owner name of a path, or "" when the name is invalid
// or belongs to another (more specific) zone.
func (h recordsHandler) name(path string, quiet bool) string {
	name, err := record.NameFromPath(path)
	if err != nil {
		if !quiet {
			h.log.Warn("records ignored: bad name", "path", path, "err", err)
		}
		return ""
	}
	if !h.z.owns(name) {
		return ""
	}
	return name
}

func (h recordsHandler) Load(rev int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	b := newBuilder(h)
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		if path, up, a, e, ok := h.parse(kv.Key, kv.Value, false); ok {
			b.add(path, up, a, e)
		}
	}
	names, ents, ptr := b.finish()
	h.z.mu.Lock()
	h.z.names, h.z.ents, h.z.ptr, h.z.rev = names, ents, ptr, rev
	h.z.mu.Unlock()
	h.log.Info("zone loaded", "zone", h.z.Origin, "names", len(names), "revision", rev)
	return nil
}

func (h recordsHandler) Apply(rev int64, events []*clientv3.Event) {
	z := h.z
	z.mu.Lock()
	for _, ev := range events {
		// The previous value says which names the key served: a key's
		// meaning can depend on its value (see record.ParseKey), and a
		// key can serve its parent name too (record.Rule).
		if ev.PrevKv != nil {
			if path, up, _, _, ok := h.parse(ev.PrevKv.Key, ev.PrevKv.Value, true); ok {
				for ; up >= 0; up, path = up-1, record.ParentPath(path) {
					if name := h.name(path, true); name != "" {
						z.remove(name, keyHash(ev.Kv.Key))
					}
				}
			}
		}
		if ev.Type == clientv3.EventTypePut {
			if path, up, a, e, ok := h.parse(ev.Kv.Key, ev.Kv.Value, false); ok {
				for ; up >= 0; up, path = up-1, record.ParentPath(path) {
					if name := h.name(path, false); name != "" {
						z.put(name, keyHash(ev.Kv.Key), a, e)
					}
				}
			}
		}
	}
	z.rev = rev
	z.mu.Unlock()
}

// put and remove run under z.mu.
func (z *Zone) put(name string, key uint64, a *Addr, e *Entry) {
	n := z.names[name]
	if n == nil {
		n = &Node{Name: name}
		z.forAncestors(name, func(a string) { z.ents[a]++ })
	}
	m := n.with(key, a, e)
	z.names[name] = m
	z.reindex(n, m)
}

func (z *Zone) remove(name string, key uint64) {
	n := z.names[name]
	if n == nil {
		return
	}
	m := n.without(key, false, false)
	z.reindex(n, m)
	if !m.empty() {
		z.names[name] = m
		return
	}
	delete(z.names, name)
	z.forAncestors(name, func(a string) {
		if z.ents[a]--; z.ents[a] <= 0 {
			delete(z.ents, a)
		}
	})
}

// reindex updates the PTR index for a node that changed from old to new.
func (z *Zone) reindex(old, new *Node) {
	for _, a := range old.Addrs {
		if !new.hasIP(a.ip) {
			z.ptr.remove(a.ip, old.Name)
		}
	}
	for _, a := range new.Addrs {
		if !old.hasIP(a.ip) {
			z.ptr.add(a.ip, new.Name)
		}
	}
}

// NamesOf returns the names in the zone that hold ip.
func (z *Zone) NamesOf(ip netip.Addr) []string {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return z.ptr.names(ip.Unmap().As16())
}

// forAncestors calls f for each name strictly between name and the origin.
func (z *Zone) forAncestors(name string, f func(string)) {
	for {
		i := strings.IndexByte(name, '.')
		if i < 0 || i == len(name)-1 {
			return
		}
		name = name[i+1:]
		if len(name) <= len(z.Origin) {
			return
		}
		f(name)
	}
}
