package store

import (
	"io"
	"log/slog"
	"net/netip"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func put(key, val string) *clientv3.Event {
	return &clientv3.Event{Type: clientv3.EventTypePut, Kv: &mvccpb.KeyValue{Key: []byte(key), Value: []byte(val)}}
}

func del(key string) *clientv3.Event {
	return &clientv3.Event{Type: clientv3.EventTypeDelete, Kv: &mvccpb.KeyValue{Key: []byte(key)}}
}

// A health status is removed only by the key that holds it: deleting
// another spelling of the same IP (trailing slash, IPv4-mapped) leaves it.
func TestHealthDeleteOnlyBySameKey(t *testing.T) {
	h := newHealthIndex("/skydns/monitor/status/", slog.New(slog.NewTextHandler(io.Discard, nil)))
	ip := netip.MustParseAddr("192.0.2.1")
	h.Apply(1, []*clientv3.Event{put("/skydns/monitor/status/192.0.2.1", `{"status":"UP"}`)})
	if st, ok := h.get(ip); !ok || st.Status != "UP" {
		t.Fatalf("after put: %+v %v", st, ok)
	}
	h.Apply(2, []*clientv3.Event{
		del("/skydns/monitor/status/192.0.2.1/"),
		del("/skydns/monitor/status/::ffff:192.0.2.1"),
		put("/skydns/monitor/status/::ffff:192.0.2.1", `not json`),
	})
	if st, ok := h.get(ip); !ok || st.Status != "UP" {
		t.Errorf("another spelling removed the status: %+v %v", st, ok)
	}
	// An unreadable value at the holding key removes it, as before.
	h.Apply(3, []*clientv3.Event{put("/skydns/monitor/status/192.0.2.1", `not json`)})
	if _, ok := h.get(ip); ok {
		t.Error("unreadable status kept")
	}
	h.Apply(4, []*clientv3.Event{
		put("/skydns/monitor/status/192.0.2.1/", `{"status":"DOWN"}`),
		del("/skydns/monitor/status/192.0.2.1/"),
	})
	if _, ok := h.get(ip); ok {
		t.Error("delete of the holding key did not remove the status")
	}
	if h.current() != 4 {
		t.Errorf("revision %d, want 4", h.current())
	}
}

// The same rule for policies (several cases of one name) and overrides.
func TestPolicyAndOverrideDeleteOnlyBySameKey(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := newPolicyIndex("/skydns", log)
	p.Apply(1, []*clientv3.Event{put("/skydns/policy/a.skydns.local", `{"mode":"random","source":"api"}`)})
	p.Apply(2, []*clientv3.Event{del("/skydns/policy/A.skydns.local")})
	if e, ok := p.get("A.Skydns.Local."); !ok || e.Source != "api" {
		t.Errorf("policy removed by another spelling: %+v %v", e, ok)
	}
	p.Apply(3, []*clientv3.Event{del("/skydns/policy/a.skydns.local")})
	if _, ok := p.get("a.skydns.local."); ok {
		t.Error("policy kept after its key was deleted")
	}

	x := newOverrideIndex("/skydns/monitor/override/", log)
	ip := netip.MustParseAddr("192.0.2.1")
	x.Apply(1, []*clientv3.Event{put("/skydns/monitor/override/192.0.2.1", `{"status":"DOWN"}`)})
	x.Apply(2, []*clientv3.Event{del("/skydns/monitor/override/192.0.2.1/")})
	if _, ok, rev := x.snapshot(ip); !ok || rev != 2 {
		t.Errorf("override removed by another spelling (ok %v, rev %d)", ok, rev)
	}
	x.Apply(3, []*clientv3.Event{del("/skydns/monitor/override/192.0.2.1")})
	if len(x.all()) != 0 {
		t.Errorf("override kept after its key was deleted: %v", x.all())
	}
}
