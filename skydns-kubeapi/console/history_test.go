package console_test

import (
	"context"
	"testing"
	"time"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/events"
	"github.com/skydns/skydns/skydns-kubeapi/console"
)

// The timeline is the events kept in etcd, newest first, filtered as
// GET /skydns/events filters them, each line saying what changed and why.
func TestHistoryTimeline(t *testing.T) {
	cli := etcdtest.Start(t).Client()
	ctx := context.Background()
	t0 := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	for _, e := range []events.Event{
		{Time: t0, Kind: events.KindStatus, IPs: []string{"192.0.2.1"}, Names: []string{"web.skydns.local."},
			From: "UP", To: "DOWN", Votes: "2/2 down", Reason: "tcp/80: connection refused",
			Agents: []events.Agent{{Name: "scan-a", Vote: "DOWN"}, {Name: "scan-b"}}},
		{Time: t0.Add(time.Minute), Kind: events.KindAPI, IPs: []string{"192.0.2.1"}, User: "alice",
			Method: "PUT", Path: "/skydns/overrides/192.0.2.1", Changes: []events.Change{{Key: "/skydns/monitor/override/192.0.2.1"}}},
		{Time: t0.Add(2 * time.Minute), Kind: events.KindStatus, IPs: []string{"192.0.2.2"}, From: "", To: "UP"},
	} {
		v, err := events.Encode(e)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cli.Put(ctx, events.Key("/skydns", events.NewID(e.Time)), string(v)); err != nil {
			t.Fatal(err)
		}
	}
	h := console.History{Etcd: cli, Prefix: "/skydns"}
	got, err := h.Events(ctx, console.EventQuery{IP: "192.0.2.1", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	want := []console.Event{
		{Time: t0.Add(time.Minute), Kind: events.KindAPI, IP: "192.0.2.1", User: "alice", Detail: "PUT /skydns/overrides/192.0.2.1 (1 keys changed)"},
		{Time: t0, Kind: events.KindStatus, IP: "192.0.2.1", Name: "web.skydns.local.", From: "UP", To: "DOWN",
			Detail: "2/2 down tcp/80: connection refused scan-a=DOWN,scan-b=-"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if !got[i].Time.Equal(want[i].Time) {
			t.Errorf("event %d at %v, want %v", i, got[i].Time, want[i].Time)
		}
		got[i].Time = want[i].Time
		if got[i] != want[i] {
			t.Errorf("event %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}
