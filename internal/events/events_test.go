package events_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/events"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
)

const prefix = "/skydns"

func startWriter(t *testing.T, cli *clientv3.Client, cfg events.WriterConfig) (*events.Writer, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg.Prefix, cfg.Registry = prefix, reg
	w := events.NewWriter(cli, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w, reg
}

func list(t *testing.T, cli *clientv3.Client, q events.Query) []events.Event {
	t.Helper()
	out, err := events.List(context.Background(), cli, prefix, q)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func written(reg prometheus.Gatherer) float64 {
	v, _ := mt.Metric(reg, "skydns_events_written_total", nil)
	return v
}

// The listing is newest first, filters by ip and by name (case and final
// dot aside), starts at since and stops at limit.
func TestListOrderAndFilters(t *testing.T) {
	cli := etcdtest.Start(t).Client()
	w, reg := startWriter(t, cli, events.WriterConfig{})
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	all := []events.Event{
		{Kind: events.KindStatus, IPs: []string{"192.0.2.1"}, Names: []string{"web.skydns.local"}, From: "UP", To: "DOWN"},
		{Kind: events.KindAPI, IPs: []string{"192.0.2.2"}, Names: []string{"web.skydns.local"}, User: "alice"},
		{Kind: events.KindStatus, IPs: []string{"192.0.2.1"}, Names: []string{"web.skydns.local"}, From: "DOWN", To: "UP"},
		{Kind: events.KindAPI, Names: []string{"db.skydns.local"}, User: "bob"},
	}
	for i, e := range all {
		e.Time = base.Add(time.Duration(i) * time.Minute)
		w.Add(e)
	}
	mt.Eventually(t, 10*time.Second, "4 events written", func() bool { return written(reg) == 4 })

	times := func(es []events.Event) string {
		var s []string
		for _, e := range es {
			s = append(s, e.Time.Format("15:04"))
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		name string
		q    events.Query
		want string
	}{
		{"all, newest first", events.Query{}, "03:07 03:06 03:05 03:04"},
		{"by ip", events.Query{IP: "192.0.2.1"}, "03:06 03:04"},
		{"by name", events.Query{Name: "WEB.skydns.local."}, "03:06 03:05 03:04"},
		{"by ip and name", events.Query{IP: "192.0.2.2", Name: "web.skydns.local"}, "03:05"},
		{"since", events.Query{Since: base.Add(2 * time.Minute)}, "03:07 03:06"},
		{"limit", events.Query{Limit: 1}, "03:07"},
		{"nothing", events.Query{IP: "198.51.100.1"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := list(t, cli, tc.q)
			if s := times(got); s != tc.want {
				t.Errorf("got %q, want %q", s, tc.want)
			}
			for _, e := range got {
				if tm, err := events.TimeOf(e.ID); err != nil || !tm.Equal(e.Time) {
					t.Errorf("id %q: time %v, %v; event at %v", e.ID, tm, err, e.Time)
				}
			}
		})
	}
}

// Events are kept under a lease of at least the retention, shared by the
// events of one lease period rather than one lease per event.
func TestRetentionLeaseShared(t *testing.T) {
	cli := etcdtest.Start(t).Client()
	w, reg := startWriter(t, cli, events.WriterConfig{Retention: time.Hour})
	for i := range 5 {
		w.Add(events.Event{Kind: events.KindAPI, User: fmt.Sprint(i)})
	}
	mt.Eventually(t, 10*time.Second, "5 events written", func() bool { return written(reg) == 5 })
	resp, err := cli.Get(context.Background(), events.Dir(prefix), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	leases := map[clientv3.LeaseID]bool{}
	for _, kv := range resp.Kvs {
		leases[clientv3.LeaseID(kv.Lease)] = true
	}
	if len(leases) != 1 || leases[0] {
		t.Fatalf("5 events under leases %v, want one shared lease", leases)
	}
	for id := range leases {
		ttl, err := cli.TimeToLive(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if g := time.Duration(ttl.GrantedTTL) * time.Second; g < time.Hour || g > time.Hour+time.Hour/24+time.Second {
			t.Errorf("lease granted for %v, want retention (1h) plus at most a period (1h/24)", g)
		}
	}
}

// Beyond events-max the writer deletes the oldest.
func TestMaxPrunesOldest(t *testing.T) {
	cli := etcdtest.Start(t).Client()
	w, reg := startWriter(t, cli, events.WriterConfig{Max: 5})
	base := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	for i := range 12 {
		w.Add(events.Event{Kind: events.KindAPI, Time: base.Add(time.Duration(i) * time.Second), User: fmt.Sprint(i)})
	}
	mt.Eventually(t, 10*time.Second, "12 events written", func() bool { return written(reg) == 12 })
	// The prune follows each batch; the last batch may have been pruned by
	// the time the counter shows it, or just after.
	var got []events.Event
	mt.Eventually(t, 10*time.Second, "at most 5 kept", func() bool {
		got = list(t, cli, events.Query{})
		return len(got) <= 5
	})
	if len(got) == 0 || got[0].User != "11" {
		t.Errorf("kept %+v, want the newest ending with user 11", got)
	}
}

// A full queue drops events and counts them; Add never blocks.
func TestFullQueueDropsAndCounts(t *testing.T) {
	e := etcdtest.Start(t)
	proxy := e.Proxy()
	cli := proxy.Client(t)
	proxy.Cut() // the writer's etcd is gone: nothing leaves the queue quickly
	// A request to etcd gives up after 3s: Adds that waited for etcd would
	// take that long for every batch of 4 beyond the first.
	w, reg := startWriter(t, cli, events.WriterConfig{Queue: 4, RequestTimeout: 3 * time.Second})
	start := time.Now()
	for range 100 {
		w.Add(events.Event{Kind: events.KindAPI})
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("100 Adds took %v with etcd cut off; Add must not wait", d)
	}
	dropped := func() float64 {
		q, _ := mt.Metric(reg, "skydns_events_dropped_total", map[string]string{"reason": "queue"})
		d, _ := mt.Metric(reg, "skydns_events_dropped_total", map[string]string{"reason": "etcd"})
		return q + d
	}
	if q, _ := mt.Metric(reg, "skydns_events_dropped_total", map[string]string{"reason": "queue"}); q < 100-4-maxBatchInFlight {
		t.Errorf("dropped for a full queue: %v of 100, want at least %d", q, 100-4-maxBatchInFlight)
	}
	// Those the writer took are lost to etcd, and counted too.
	mt.Eventually(t, 60*time.Second, "every event counted as dropped", func() bool { return dropped() == 100 })
	// Once etcd is back, events are stored again (the first few may still
	// be lost while the client reconnects: best effort).
	proxy.Restore()
	mt.Eventually(t, 60*time.Second, "writing again once etcd is back", func() bool {
		w.Add(events.Event{Kind: events.KindAPI, User: "after"})
		return written(reg) >= 1
	})
}

// maxBatchInFlight: events the writer may have taken off the queue before
// it found etcd gone (one batch).
const maxBatchInFlight = 64

func TestNilWriterAdds(t *testing.T) {
	var w *events.Writer
	w.Add(events.Event{Kind: events.KindAPI}) // no history configured: nothing, no panic
}
