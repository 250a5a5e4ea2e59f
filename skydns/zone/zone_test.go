package zone

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/etcdview"
	"github.com/skydns/skydns/internal/health"
)

func start(t *testing.T) (*Store, *clientv3.Client) {
	t.Helper()
	e := etcdtest.Start(t)
	cli := e.Client()
	s := New(Options{Prefix: "/skydns", Zones: []string{"skydns.local", "sub.skydns.local."}, StatusPath: "/skydns/monitor/status/",
		View: etcdview.Options{ProgressInterval: 100 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	wait := s.Start(ctx, cli)
	t.Cleanup(func() { cancel(); wait() })
	waitUntil(t, "loaded", s.Loaded)
	return s, cli
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func put(t *testing.T, cli *clientv3.Client, k, v string) {
	t.Helper()
	if _, err := cli.Put(context.Background(), k, v); err != nil {
		t.Fatal(err)
	}
}

func del(t *testing.T, cli *clientv3.Client, k string) {
	t.Helper()
	if _, err := cli.Delete(context.Background(), k); err != nil {
		t.Fatal(err)
	}
}

func ipsAt(s *Store, name string) []string {
	z := s.ZoneOf(name)
	if z == nil {
		return nil
	}
	n, _ := z.Lookup(name)
	if n == nil {
		return nil
	}
	var out []string
	for _, a := range n.Addrs {
		out = append(out, a.IP().String())
	}
	return out
}

func has(s *Store, name string, ips ...string) func() bool {
	return func() bool { return slices.Equal(ipsAt(s, name), ips) }
}

func exists(s *Store, name string) bool {
	_, ok := s.ZoneOf(name).Lookup(name)
	return ok
}

func TestEmptyNonTerminalsFollowChanges(t *testing.T) {
	s, cli := start(t)
	put(t, cli, "/skydns/local/skydns/svc/default/nginx/0a1b2c3d/", `{"host":"198.51.100.10"}`)
	put(t, cli, "/skydns/local/skydns/svc/default/redis/0a1b2c3e/", `{"host":"198.51.100.11"}`)
	waitUntil(t, "both", has(s, "redis.default.svc.skydns.local.", "198.51.100.11"))
	for _, n := range []string{"default.svc.skydns.local.", "svc.skydns.local.", "skydns.local."} {
		if !exists(s, n) {
			t.Errorf("%s should exist (empty non-terminal)", n)
		}
	}
	if exists(s, "other.skydns.local.") {
		t.Error("other.skydns.local. should not exist")
	}
	del(t, cli, "/skydns/local/skydns/svc/default/nginx/0a1b2c3d/")
	waitUntil(t, "nginx gone", has(s, "nginx.default.svc.skydns.local."))
	if !exists(s, "default.svc.skydns.local.") {
		t.Error("default.svc still has redis below it")
	}
	del(t, cli, "/skydns/local/skydns/svc/default/redis/0a1b2c3e/")
	waitUntil(t, "ENTs gone", func() bool { return !exists(s, "default.svc.skydns.local.") && !exists(s, "svc.skydns.local.") })
}

// A key's meaning can depend on its value: the previous value decides what
// a change or a delete removes.
func TestKeyMeaningChangesWithValue(t *testing.T) {
	s, cli := start(t)
	// Without targetstrip and with a trailing slash and a CNAME, the leaf is
	// a label: a CNAME of cafe.web.skydns.local.
	put(t, cli, "/skydns/local/skydns/web/cafe/", `{"type":"CNAME","host":"x.example.org"}`)
	waitUntil(t, "cname", func() bool { return exists(s, "cafe.web.skydns.local.") })
	// Now an A record: the leaf is an id, the record belongs to web.
	put(t, cli, "/skydns/local/skydns/web/cafe/", `{"host":"192.0.2.5"}`)
	waitUntil(t, "moved to web", has(s, "web.skydns.local.", "192.0.2.5"))
	if exists(s, "cafe.web.skydns.local.") {
		t.Fatal("the old meaning of the key was not removed")
	}
	del(t, cli, "/skydns/local/skydns/web/cafe/")
	waitUntil(t, "deleted", func() bool { return !exists(s, "web.skydns.local.") })
}

func TestBadValuesAndNestedZones(t *testing.T) {
	s, cli := start(t)
	put(t, cli, "/skydns/local/skydns/a/00000001", `{"host":"192.0.2.1"}`)
	put(t, cli, "/skydns/local/skydns/a/00000002", `not json`)
	put(t, cli, "/skydns/local/skydns/a/00000003", `{"type":"A","host":"not-an-ip"}`)
	put(t, cli, "/skydns/local/skydns/sub/b/00000001", `{"host":"192.0.2.2"}`)
	put(t, cli, "/skydns/local/skydnsx/c/00000001", `{"host":"192.0.2.3"}`)
	put(t, cli, "/skydns/local/skydns/last/00000001", `{"host":"192.0.2.4"}`)
	// Each zone has its own view: wait for the last key of each.
	waitUntil(t, "nested", has(s, "b.sub.skydns.local.", "192.0.2.2"))
	waitUntil(t, "parent", has(s, "last.skydns.local.", "192.0.2.4"))
	if got := ipsAt(s, "a.skydns.local."); !slices.Equal(got, []string{"192.0.2.1"}) {
		t.Fatalf("a = %v: bad values must be skipped, good ones kept", got)
	}
	if z := s.ZoneOf("b.sub.skydns.local."); z.Origin != "sub.skydns.local." {
		t.Fatalf("b.sub is served by %s", z.Origin)
	}
	if s.zones[1].Len() != 2 {
		t.Fatalf("the parent zone holds %d names, want a and last (b belongs to sub)", s.zones[1].Len())
	}
	if s.ZoneOf("c.skydnsx.local.") != nil {
		t.Fatal("a sibling zone's key leaked in")
	}
	if got := s.NamesOf(netip.MustParseAddr("192.0.2.2")); !slices.Equal(got, []string{"b.sub.skydns.local."}) {
		t.Fatalf("PTR index: %v", got)
	}
}

func TestHealthAndPolicy(t *testing.T) {
	s, cli := start(t)
	ip := netip.MustParseAddr("192.0.2.1")
	put(t, cli, "/skydns/monitor/status/192.0.2.1", `{"status":"DOWN","since":"2026-01-01T00:00:00Z"}`)
	waitUntil(t, "down", func() bool { return s.State(ip) == health.Down })
	put(t, cli, "/skydns/monitor/status/192.0.2.1", `{"status":"bogus"}`)
	waitUntil(t, "bad value: unknown", func() bool { return s.State(ip) == health.Unknown })
	put(t, cli, "/skydns/monitor/status/192.0.2.1", `{"status":"UP"}`)
	waitUntil(t, "up", func() bool { return s.State(ip) == health.Up })
	del(t, cli, "/skydns/monitor/status/192.0.2.1")
	waitUntil(t, "gone: unknown", func() bool { return s.State(ip) == health.Unknown })

	put(t, cli, "/skydns/policy/web.skydns.local", `{"mode":"hold-one"}`)
	waitUntil(t, "policy", func() bool { p := s.Policy("web.skydns.local."); return p != nil && p.Mode == "hold-one" })
	put(t, cli, "/skydns/policy/web.skydns.local", `{"mode":"bogus"}`)
	waitUntil(t, "bad policy dropped", func() bool { return s.Policy("web.skydns.local.") == nil })
}

// Deleting a status or policy key is routine (the schedule drops the
// status of an IP no record uses): it must not log a bad value, and the
// health counts follow every change without a scan.
func TestDeletesAreQuietAndCountsFollow(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	var logs syncBuffer
	s := New(Options{Prefix: "/skydns", Zones: []string{"skydns.local"}, StatusPath: "/skydns/monitor/status/",
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), View: etcdview.Options{ProgressInterval: 100 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	wait := s.Start(ctx, cli)
	t.Cleanup(func() { cancel(); wait() })
	put(t, cli, "/skydns/monitor/status/192.0.2.1", `{"status":"DOWN"}`)
	waitUntil(t, "loaded", s.Loaded)
	put(t, cli, "/skydns/monitor/status/192.0.2.2", `{"status":"UP"}`)
	put(t, cli, "/skydns/monitor/status/192.0.2.3", `{"status":"DOWN"}`)
	put(t, cli, "/skydns/policy/web.skydns.local", `{"mode":"hold-one"}`)
	waitUntil(t, "three statuses, two down", func() bool { n, d := s.HealthCount(); return n == 3 && d == 2 })
	put(t, cli, "/skydns/monitor/status/192.0.2.3", `{"status":"UP"}`)
	waitUntil(t, "one down", func() bool { n, d := s.HealthCount(); return n == 3 && d == 1 })
	del(t, cli, "/skydns/monitor/status/192.0.2.1")
	del(t, cli, "/skydns/policy/web.skydns.local")
	waitUntil(t, "deleted", func() bool {
		n, d := s.HealthCount()
		return n == 2 && d == 0 && s.Policy("web.skydns.local.") == nil
	})
	if strings.Contains(logs.String(), "bad value") {
		t.Fatalf("a delete was logged as a bad value:\n%s", logs.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// Addresses that start with a letter are addresses, in the bulk load and
// in the watch alike (issue 15, item 1: the loader dropped fd00::1 as
// "record ignored"); a zoned one is never served.
func TestIPv6HostsStartingWithALetter(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	hosts := map[string]string{ // key leaf -> host; the name is <leaf>.skydns.local.
		"ula":    "fd00::1",
		"upper":  "FD00::2",
		"abcd":   "abcd::1",
		"link":   "fe80::1",
		"unspec": "::",
		"loop":   "::1",
		"nat64":  "64:ff9b::192.0.2.1",
		"mapped": "::ffff:192.0.2.7",
		"doc":    "2001:db8::1",
	}
	want := func(h string) string { return netip.MustParseAddr(h).Unmap().String() }
	// Before the store starts: the bulk load's DecodeAddr path.
	for leaf, h := range hosts {
		put(t, cli, "/skydns/local/skydns/"+leaf+"/0000000a", `{"host":"`+h+`"}`)
	}
	put(t, cli, "/skydns/local/skydns/zoned/0000000a", `{"host":"fe80::1%eth0"}`)
	s := New(Options{Prefix: "/skydns", Zones: []string{"skydns.local."}, StatusPath: "/skydns/monitor/status/",
		View: etcdview.Options{ProgressInterval: 100 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	wait := s.Start(ctx, cli)
	t.Cleanup(func() { cancel(); wait() })
	waitUntil(t, "loaded", s.Loaded)
	for leaf, h := range hosts {
		if got := ipsAt(s, leaf+".skydns.local."); !slices.Equal(got, []string{want(h)}) {
			t.Errorf("bulk load: %s (%s) serves %v, want %s", leaf, h, got, want(h))
		}
	}
	if got := ipsAt(s, "zoned.skydns.local."); len(got) != 0 {
		t.Errorf("a zoned address is served: %v", got)
	}
	// Through the watch, typed as another tool might write it.
	for leaf, h := range hosts {
		put(t, cli, "/skydns/local/skydns/w"+leaf+"/0000000b", `{"type":"aaaa","host":"`+h+`"}`)
		if h == "::ffff:192.0.2.7" {
			continue // a mapped address is IPv4: not an AAAA record
		}
		waitUntil(t, "watched "+h, has(s, "w"+leaf+".skydns.local.", want(h)))
	}
}
