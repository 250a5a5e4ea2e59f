package zone

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// leafKVs are keys of every layout, in etcd's key order, with leaves whose
// parent's keys are interrupted by others (www, www-2, www/...), as a
// range read returns them.
func leafKVs() []*mvccpb.KeyValue {
	kv := func(k, v string) *mvccpb.KeyValue { return &mvccpb.KeyValue{Key: []byte(k), Value: []byte(v)} }
	kvs := []*mvccpb.KeyValue{
		kv("/skydns/local/skydns/www", `{"host":"198.51.100.1"}`),
		kv("/skydns/local/skydns/www-2/a", `{"host":"198.51.100.2"}`),
		kv("/skydns/local/skydns/www/a", `{"host":"198.51.100.3"}`),
		kv("/skydns/local/skydns/www/a/deep", `{"host":"198.51.100.4"}`),
		kv("/skydns/local/skydns/www/a/0a0b0c0d", `{"host":"198.51.100.5"}`),
		kv("/skydns/local/skydns/www/b/", `{"host":"198.51.100.6","type":"A"}`),
		kv("/skydns/local/skydns/www/c", `{"text":"hello"}`),
		kv("/skydns/local/skydns/www/d", `{"host":"web.example.org"}`),
		kv("/skydns/local/skydns/svc/default/svc-0/x1/", `{"host":"203.0.113.1"}`),
		kv("/skydns/local/skydns/svc/default/svc-0/x2/", `{"host":"203.0.113.2"}`),
		kv("/skydns/local/skydns/svc/default/nginx/0a1b2c3d/", `{"host":"203.0.113.3"}`),
		kv("/skydns/local/skydns/sub/h", `{"host":"203.0.113.4"}`),
		kv("/skydns/local/skydns/x", `{"host":"192.0.2.1"}`),
	}
	for i := 1; i <= 20; i++ {
		kvs = append(kvs, kv(fmt.Sprintf("/skydns/local/skydns/big/%d", i), fmt.Sprintf(`{"host":"192.0.2.%d"}`, 100+i)))
	}
	slices.SortFunc(kvs, func(a, b *mvccpb.KeyValue) int { return bytes.Compare(a.Key, b.Key) })
	return kvs
}

// zoneState is everything a zone answers from, in comparable form.
func zoneState(z *Zone) map[string]string {
	out := map[string]string{}
	for name, n := range z.names {
		var recs []string
		for _, a := range n.Addrs {
			recs = append(recs, fmt.Sprintf("%s/%x/%v", a.IP(), a.key, a.dup))
		}
		for _, e := range n.Other {
			recs = append(recs, fmt.Sprintf("%s %s%s/%x", e.Rec.Type, e.Rec.Host, e.Rec.Text, e.key))
		}
		out[name] = fmt.Sprint(recs)
	}
	for name, c := range z.ents {
		out["ent "+name] = fmt.Sprint(c)
	}
	// PTR lists the names of an address in the order they came.
	for ip := range z.ptr.one {
		out[fmt.Sprintf("ptr %x", ip)] = fmt.Sprint(slices.Sorted(slices.Values(z.ptr.names(ip))))
	}
	return out
}

// A full load and the same keys put one by one through the watch build
// the same zone, with and without descend-zones; deleting them all
// through the watch leaves nothing behind.
func TestLoadAndWatchAgree(t *testing.T) {
	for _, descend := range [][]string{nil, {"skydns.local."}} {
		t.Run(fmt.Sprint(descend), func(t *testing.T) {
			mk := func() *Zone {
				s := New(Options{Prefix: "/skydns", Zones: []string{"skydns.local.", "sub.skydns.local."}, Descend: descend})
				return s.zones[1] // skydns.local., after the longer sub.skydns.local.
			}
			kvs := leafKVs()
			loaded := mk()
			h := recordsHandler{z: loaded, log: loaded.store.log}
			if err := h.Load(1, func(yield func(*mvccpb.KeyValue, error) bool) {
				for _, kv := range kvs {
					if !yield(kv, nil) {
						return
					}
				}
			}); err != nil {
				t.Fatal(err)
			}
			watched := mk()
			hw := recordsHandler{z: watched, log: watched.store.log}
			// Reverse order, and each key first put with another value.
			for i := len(kvs) - 1; i >= 0; i-- {
				first := &mvccpb.KeyValue{Key: kvs[i].Key, Value: []byte(`{"host":"192.0.2.250"}`)}
				hw.Apply(2, []*clientv3.Event{{Type: clientv3.EventTypePut, Kv: first}})
				hw.Apply(3, []*clientv3.Event{{Type: clientv3.EventTypePut, Kv: kvs[i], PrevKv: first}})
			}
			want, got := zoneState(loaded), zoneState(watched)
			if !maps.Equal(want, got) {
				for _, k := range slices.Sorted(maps.Keys(want)) {
					if want[k] != got[k] {
						t.Errorf("%s: load %s, watch %s", k, want[k], got[k])
					}
				}
				for _, k := range slices.Sorted(maps.Keys(got)) {
					if _, ok := want[k]; !ok {
						t.Errorf("%s: only after the watch: %s", k, got[k])
					}
				}
			}
			// www: its own record, the leaves a, b/ and c (TXT), not the
			// CNAME d; descending, a/deep and a's id record too.
			addrs := 3 + 2*len(descend)
			if n := loaded.names["www.skydns.local."]; n == nil || len(n.Addrs) != addrs || len(n.Other) != 1 {
				t.Fatalf("www built as %+v", n)
			}
			for _, kv := range kvs {
				hw.Apply(4, []*clientv3.Event{{Type: clientv3.EventTypeDelete, Kv: &mvccpb.KeyValue{Key: kv.Key}, PrevKv: kv}})
			}
			if st := zoneState(watched); len(st) != 0 {
				t.Errorf("left after deleting every key: %v", st)
			}
		})
	}
}
