package api

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skydns/skydns/internal/events"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
)

// history runs an events writer over its own etcd client, through a proxy
// the test can cut.
func (c *cluster) history(t *testing.T, timeout time.Duration) (*events.Writer, *prometheus.Registry, func()) {
	t.Helper()
	proxy := c.etcd.Proxy()
	reg := prometheus.NewRegistry()
	w := events.NewWriter(proxy.Client(t), events.WriterConfig{Prefix: prefix, Retention: time.Hour,
		RequestTimeout: timeout, Registry: reg})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w, reg, proxy.Cut
}

func (s *server) events(query string, auth string) []events.Event {
	s.t.Helper()
	code, body := s.do("GET", "/skydns/events?"+query, "", auth)
	if code != 200 {
		s.t.Fatalf("GET /skydns/events?%s: %d %s", query, code, body)
	}
	var l apitypes.EventList
	if err := json.Unmarshal([]byte(body), &l); err != nil {
		s.t.Fatal(err)
	}
	return l.Events
}

// Every write through the API that changes something is an event: who
// (the named token's name, else the request's user), from where, and each
// key with its value before and after. GET /skydns/events lists them
// newest first, by ip and by name.
func TestWritesBecomeEvents(t *testing.T) {
	c := newCluster(t)
	w, reg, _ := c.history(t, 5*time.Second)
	file := tokensFile(t, tokenLine("operator", "operate"))
	s := c.start(func(cfg *Config) { cfg.Events, cfg.TokensFile = w, file })

	s.ok("POST", "/skydns/api/web?user=carol", `{"type":"A","ips":["192.0.2.1","192.0.2.2"]}`)
	s.ok("POST", "/skydns/api/db", `{"type":"A","ips":["192.0.2.9"]}`)
	// The operator claims to be someone else: its token's name wins.
	if code, body := s.do("PUT", "/skydns/overrides/192.0.2.1", `{"status":"DOWN","reason":"disk","user":"mallory"}`, roleSecrets["operator"]); code != 200 {
		t.Fatalf("drain: %d %s", code, body)
	}
	s.ok("DELETE", "/skydns/api/web?user=dave", `{"type":"A","ips":["192.0.2.2"]}`)
	// A write that changes nothing is no event.
	s.ok("POST", "/skydns/api/db", `{"type":"A","ips":["192.0.2.9"]}`)
	mt.Eventually(t, 10*time.Second, "4 events written", func() bool {
		v, _ := mt.Metric(reg, "skydns_events_written_total", nil)
		return v == 4
	})

	all := s.events("", testToken)
	if len(all) != 4 {
		t.Fatalf("%d events, want 4: %+v", len(all), all)
	}
	del, drain, db, post := all[0], all[1], all[2], all[3]
	for _, tc := range []struct {
		name       string
		e          events.Event
		method     string
		user       string
		ips, names string
		changes    int
	}{
		{"POST web", post, "POST", "carol", "192.0.2.1 192.0.2.2", "web.skydns.local", 2},
		{"POST db", db, "POST", "", "192.0.2.9", "db.skydns.local", 1},
		{"drain", drain, "PUT", "operator", "192.0.2.1", "", 1},
		{"DELETE one IP", del, "DELETE", "dave", "192.0.2.2", "web.skydns.local", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := tc.e
			if e.Kind != events.KindAPI || e.Method != tc.method || e.User != tc.user || !strings.HasPrefix(e.Remote, "127.0.0.1:") ||
				strings.Join(e.IPs, " ") != tc.ips || strings.Join(e.Names, " ") != tc.names || len(e.Changes) != tc.changes {
				t.Errorf("event %+v", e)
			}
		})
	}
	if c := drain.Changes[0]; c.Before != nil || !strings.Contains(string(compact(c.After)), `"status":"DOWN"`) ||
		!strings.Contains(string(compact(c.After)), `"user":"operator"`) {
		t.Errorf("drain change %s: before %s after %s", c.Key, c.Before, c.After)
	}
	if c := del.Changes[0]; !strings.Contains(string(compact(c.Before)), `"host":"192.0.2.2"`) || c.After != nil {
		t.Errorf("delete change %s: before %s after %s", c.Key, c.Before, c.After)
	}

	for _, tc := range []struct{ query, want string }{
		{"ip=192.0.2.1", "PUT POST"},
		{"name=web", "DELETE POST"},
		{"name=web.skydns.local.", "DELETE POST"},
		{"ip=192.0.2.9&name=db", "POST"},
		{"limit=1", "DELETE"},
		{"since=" + url.QueryEscape(drain.Time.Format(time.RFC3339Nano)), "DELETE PUT"},
		{"since=1h", "DELETE PUT POST POST"},
	} {
		var got []string
		for _, e := range s.events(tc.query, testToken) {
			got = append(got, e.Method)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("?%s: %q, want %q", tc.query, got, tc.want)
		}
	}
	for _, q := range []string{"ip=nope", "limit=0", "limit=100000", "since=yesterday"} {
		if code, body := s.do("GET", "/skydns/events?"+q, "", testToken); code != 400 {
			t.Errorf("?%s: %d %s, want 400", q, code, body)
		}
	}
}

// The events' etcd gone, writes answer as fast as ever, and the events
// they would have made are counted as lost.
func TestWritesDoNotWaitForEvents(t *testing.T) {
	c := newCluster(t)
	// An events write gives up after 3s: 20 writes that waited for their
	// events would take a minute.
	w, reg, cut := c.history(t, 3*time.Second)
	s := c.start(func(cfg *Config) { cfg.Events = w })
	cut()
	start := time.Now()
	const writes = 20
	for i := range writes {
		s.ok("POST", "/skydns/api/web", `{"type":"A","ips":["192.0.2.`+itoa(i+1)+`"]}`)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("%d writes took %v with the events' etcd cut off", writes, d)
	}
	if v, _ := mt.Metric(reg, "skydns_events_written_total", nil); v != 0 {
		t.Errorf("%v events written with etcd cut off", v)
	}
	mt.Eventually(t, 60*time.Second, "every lost event counted", func() bool {
		q, _ := mt.Metric(reg, "skydns_events_dropped_total", map[string]string{"reason": "queue"})
		e, _ := mt.Metric(reg, "skydns_events_dropped_total", map[string]string{"reason": "etcd"})
		return q+e == writes
	})
}

func itoa(i int) string { return strconv.Itoa(i) }
