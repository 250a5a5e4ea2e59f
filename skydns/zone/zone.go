// Package zone holds the DNS server's in-memory view of etcd: the records of
// the served zones, the health of every IP, and the per-name policies. The
// query path reads only from here; etcd views keep it current.
package zone

import (
	"iter"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"

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
	// ptr maps each served IP to the names that hold it, for PTR queries.
	ptr map[netip.Addr][]string
	rev int64
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

// parse reads a stored key and value into the owner name and record; ok is
// false for keys that are not this zone's records (or not records at all).
func (h recordsHandler) parse(key, value []byte, quiet bool) (name string, r record.Record, ok bool) {
	k := string(key)
	if !h.inPath(k) {
		return "", r, false
	}
	r, err := record.Decode(value)
	if err != nil {
		if !quiet {
			h.log.Warn("record ignored: bad value", "key", k, "err", err)
		}
		return "", r, false
	}
	name, _, err = record.ParseKey(h.z.store.prefix, k, r)
	if err != nil {
		if !quiet {
			h.log.Warn("record ignored: bad key", "key", k, "err", err)
		}
		return "", r, false
	}
	if !h.z.owns(name) {
		return "", r, false
	}
	return name, r, true
}

func (h recordsHandler) Load(rev int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	names := make(map[string]*Node)
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		name, r, ok := h.parse(kv.Key, kv.Value, false)
		if !ok {
			continue
		}
		n := names[name]
		if n == nil {
			n = &Node{Name: name}
			names[name] = n
		}
		key := keyHash(kv.Key)
		// Built in place: these nodes are not published yet.
		if ip := r.IP(); ip.IsValid() {
			n.Addrs = append(n.Addrs, newAddr(ip, r, key))
		} else {
			n.Other = append(n.Other, Entry{Rec: r, key: key})
		}
	}
	ents := make(map[string]int32)
	ptr := make(map[netip.Addr][]string)
	for name, n := range names {
		sortAddrs(n)
		sortOther(n.Other)
		n.Addrs = clipAddrs(n.Addrs)
		h.z.forAncestors(name, func(a string) { ents[a]++ })
		for _, a := range n.Addrs {
			ptr[a.IP] = appendName(ptr[a.IP], name)
		}
	}
	h.z.mu.Lock()
	h.z.names, h.z.ents, h.z.ptr, h.z.rev = names, ents, ptr, rev
	h.z.mu.Unlock()
	h.z.store.changed()
	h.log.Info("zone loaded", "zone", h.z.Origin, "names", len(names), "revision", rev)
	return nil
}

func (h recordsHandler) Apply(rev int64, events []*clientv3.Event) {
	z := h.z
	z.mu.Lock()
	for _, ev := range events {
		// The previous value says which name the key served: a key's
		// meaning can depend on its value (see record.ParseKey).
		if ev.PrevKv != nil {
			if name, _, ok := h.parse(ev.PrevKv.Key, ev.PrevKv.Value, true); ok {
				z.remove(name, keyHash(ev.Kv.Key))
			}
		}
		if ev.Type == clientv3.EventTypePut {
			if name, r, ok := h.parse(ev.Kv.Key, ev.Kv.Value, false); ok {
				z.put(name, keyHash(ev.Kv.Key), r)
			}
		}
	}
	z.rev = rev
	z.mu.Unlock()
	z.store.changed()
}

// put and remove run under z.mu.
func (z *Zone) put(name string, key uint64, r record.Record) {
	n := z.names[name]
	if n == nil {
		n = &Node{Name: name}
		z.forAncestors(name, func(a string) { z.ents[a]++ })
	}
	m := n.with(key, r)
	z.names[name] = m
	z.reindex(n, m)
}

func (z *Zone) remove(name string, key uint64) {
	n := z.names[name]
	if n == nil {
		return
	}
	m := n.without(key)
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
		if !new.hasIP(a.IP) {
			z.ptr[a.IP] = removeName(z.ptr[a.IP], old.Name)
			if len(z.ptr[a.IP]) == 0 {
				delete(z.ptr, a.IP)
			}
		}
	}
	for _, a := range new.Addrs {
		if !old.hasIP(a.IP) {
			z.ptr[a.IP] = appendName(z.ptr[a.IP], new.Name)
		}
	}
}

// NamesOf returns the names in the zone that hold ip.
func (z *Zone) NamesOf(ip netip.Addr) []string {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return slices.Clone(z.ptr[ip])
}

func appendName(names []string, name string) []string {
	if slices.Contains(names, name) {
		return names
	}
	return append(names, name)
}

func removeName(names []string, name string) []string {
	return slices.DeleteFunc(names, func(n string) bool { return n == name })
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

// clipAddrs drops the spare capacity that appending left behind: across a
// million nodes it would be a large share of the memory.
func clipAddrs(a []Addr) []Addr {
	if len(a) == 0 {
		return nil
	}
	if cap(a) == len(a) {
		return a
	}
	return append(make([]Addr, 0, len(a)), a...)
}
