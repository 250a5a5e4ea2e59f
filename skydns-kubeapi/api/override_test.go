package api

import (
	"context"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
)

const overridePath = "/skydns/monitor/override/"

// putOverride sends a PUT that must succeed and returns its answer.
func (s *server) putOverride(ip, body string) apitypes.IPOverride {
	s.t.Helper()
	code, got := s.do("PUT", "/skydns/overrides/"+ip, body, testToken)
	if code != 200 {
		s.t.Fatalf("PUT override %s %s: %d %s", ip, body, code, got)
	}
	var v apitypes.IPOverride
	if err := json.Unmarshal([]byte(got), &v); err != nil {
		s.t.Fatalf("PUT override %s: %v in %s", ip, err, got)
	}
	return v
}

// storedOverride reads the override key of ip from etcd.
func (c *cluster) storedOverride(ip string) (health.Override, bool) {
	c.t.Helper()
	resp, err := c.cli.Get(context.Background(), overridePath+ip)
	if err != nil {
		c.t.Fatal(err)
	}
	if len(resp.Kvs) == 0 {
		return health.Override{}, false
	}
	o, err := health.DecodeOverride(resp.Kvs[0].Value)
	if err != nil {
		c.t.Fatalf("stored override %s: %v", resp.Kvs[0].Value, err)
	}
	return o, true
}

// An override is set, shown (alone, in the list, and on the addresses of
// GET of a name), changed and removed; what is stored reads back with
// health.DecodeOverride, as the schedule reads it.
func TestOverrides(t *testing.T) {
	c := newCluster(t)
	s := c.start(nil)
	s.ok("POST", "/skydns/api/web", `{"type":"A","ips":["192.0.2.1","192.0.2.2"]}`)
	s.ok("POST", "/skydns/api/web", `{"type":"cname","alias":"www"}`)

	before := time.Now().Add(-time.Second)
	v := s.putOverride("192.0.2.1", `{"status":"down","reason":"kernel upgrade","user":"alice"}`)
	if v.IP != "192.0.2.1" || v.Status != "DOWN" || v.Reason != "kernel upgrade" || v.User != "alice" || v.Since == nil ||
		v.Since.Before(before) || len(v.Names) != 1 || v.Names[0] != "web.skydns.local." || v.Warning != "" || v.Expired {
		t.Fatalf("PUT answer %+v", v)
	}
	o, ok := c.storedOverride("192.0.2.1")
	if !ok || o.Status != "DOWN" || o.Reason != "kernel upgrade" || o.User != "alice" || !o.Since.Equal(*v.Since) || !o.Until.IsZero() {
		t.Fatalf("stored %+v %v", o, ok)
	}

	// GET of a name shows the override on the address it hits, also
	// through a CNAME; the status is the schedule's, not the API's.
	c.put(statusPath+"192.0.2.1", `{"status":"DOWN","reason":"override: kernel upgrade (by alice)","override":true,"checked":"UP"}`)
	eventually(t, "status", func() bool { st, ok := s.store.Health(mustIP("192.0.2.1")); return ok && st.Override })
	for _, r := range s.get("web").Records {
		switch r.Host {
		case "192.0.2.1":
			if h := r.Health; h == nil || h.Override == nil || h.Override.Status != "DOWN" || h.Override.User != "alice" ||
				h.Status != "DOWN" || !strings.HasPrefix(h.Reason, "override:") {
				t.Errorf("drained address: %+v", h)
			}
		case "192.0.2.2":
			if r.Health == nil || r.Health.Override != nil {
				t.Errorf("other address: %+v", r.Health)
			}
		}
	}
	if a := s.get("www").Records[0].Addresses; len(a) != 2 || a[0].Health.Override == nil || a[1].Health.Override != nil {
		t.Errorf("through the CNAME: %+v", a)
	}

	// Set again with the same word: it keeps its since; with until.
	until := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	v = s.putOverride("192.0.2.1", `{"status":"DOWN","reason":"kernel upgrade, take 2","until":"`+until.Format(time.RFC3339)+`"}`)
	if o2, _ := c.storedOverride("192.0.2.1"); !o2.Since.Equal(o.Since) || !o2.Until.Equal(until) || o2.Reason != "kernel upgrade, take 2" || o2.User != "" {
		t.Errorf("changed override stored as %+v; want since %v kept, until %v", o2, o.Since, until)
	}
	if v.Until == nil || !v.Until.Equal(until) {
		t.Errorf("PUT answer until %v", v.Until)
	}

	// An address no record of the API's zones has: stored, with a warning.
	if v := s.putOverride("198.51.100.7?user=bob", `{"status":"UP"}`); !strings.Contains(v.Warning, "no record") || len(v.Names) != 0 || v.User != "bob" {
		t.Errorf("unused address: %+v", v)
	}
	// Addresses are stored under their canonical text.
	s.putOverride("2001:DB8:0::1", `{"status":"DOWN"}`)
	if _, ok := c.storedOverride("2001:db8::1"); !ok {
		t.Error("IPv6 override not at its canonical key")
	}
	s.putOverride("::ffff:192.0.2.2", `{"status":"UP","reason":"checks are wrong"}`)
	if o, ok := c.storedOverride("192.0.2.2"); !ok || o.Status != "UP" {
		t.Error("IPv4-mapped override not at the IPv4 key")
	}
	// Written by hand: one expired, one unreadable. Both are listed.
	c.put(overridePath+"203.0.113.5", `{"status":"DOWN","until":"2020-01-01T00:00:00Z"}`)
	c.put(overridePath+"203.0.113.6", `{"status":"DOWN","until":"soon"}`)
	eventually(t, "hand-written overrides", func() bool { return len(s.store.Overrides()) == 6 })

	code, body := s.do("GET", "/skydns/overrides", "", testToken)
	var list apitypes.OverrideList
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil {
		t.Fatalf("list: %d %s", code, body)
	}
	var got []string
	for _, e := range list.Overrides {
		got = append(got, e.IP+" "+e.Status)
		switch e.IP {
		case "203.0.113.5":
			if !e.Expired {
				t.Errorf("expired override not marked: %+v", e)
			}
		case "203.0.113.6":
			if !strings.Contains(e.Error, "cannot be read") {
				t.Errorf("unreadable override: %+v", e)
			}
		case "192.0.2.1":
			if e.Health.Status != "DOWN" || e.Health.Override != nil {
				t.Errorf("list entry health %+v", e.Health)
			}
		}
	}
	want := "192.0.2.1 DOWN,192.0.2.2 UP,198.51.100.7 UP,203.0.113.5 DOWN,203.0.113.6 ,2001:db8::1 DOWN"
	if strings.Join(got, ",") != want {
		t.Errorf("list %v\nwant %s", got, want)
	}
	if code, body := s.do("GET", "/skydns/overrides/", "", testToken); code != 200 || !strings.Contains(body, `"overrides"`) {
		t.Errorf("list with slash: %d %s", code, body)
	}
	if code, body := s.do("GET", "/skydns/overrides/2001:db8:0:0::1", "", testToken); code != 200 || !strings.Contains(body, `"ip": "2001:db8::1"`) {
		t.Errorf("GET one: %d %s", code, body)
	}

	s.ok("DELETE", "/skydns/overrides/192.0.2.1", "")
	if _, ok := c.storedOverride("192.0.2.1"); ok {
		t.Error("override left after DELETE")
	}
	if code, _ := s.do("GET", "/skydns/overrides/192.0.2.1", "", testToken); code != 404 {
		t.Errorf("GET deleted: %d", code)
	}
	// The unreadable one can be replaced and deleted.
	s.ok("DELETE", "/skydns/overrides/203.0.113.6", "")
}

func TestOverrideErrors(t *testing.T) {
	c := newCluster(t)
	s := c.start(nil)
	noWrites := c.start(func(cfg *Config) { cfg.Token = "" })
	s.putOverride("192.0.2.1", `{"status":"DOWN"}`)
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		desc, method, path, body, token string
		status                          int
		msg                             string
		srv                             *server
	}{
		{"not an IP", "PUT", "/skydns/overrides/web", `{"status":"DOWN"}`, testToken, 400, "invalid IP address", nil},
		{"bad IP", "PUT", "/skydns/overrides/192.0.2.300", `{"status":"DOWN"}`, testToken, 400, "invalid IP address", nil},
		{"zoned IP", "PUT", "/skydns/overrides/fe80::1%25eth0", `{"status":"DOWN"}`, testToken, 400, "zone", nil},
		{"unspecified", "PUT", "/skydns/overrides/0.0.0.0", `{"status":"DOWN"}`, testToken, 400, "unspecified", nil},
		{"multicast", "PUT", "/skydns/overrides/224.0.0.1", `{"status":"DOWN"}`, testToken, 400, "multicast", nil},
		{"no status", "PUT", "/skydns/overrides/192.0.2.1", `{"reason":"x"}`, testToken, 400, "status is required", nil},
		{"bad status", "PUT", "/skydns/overrides/192.0.2.1", `{"status":"DRAIN"}`, testToken, 400, `status "DRAIN"`, nil},
		{"unknown field", "PUT", "/skydns/overrides/192.0.2.1", `{"status":"DOWN","for":"2h"}`, testToken, 400, `unknown field "for"`, nil},
		{"empty body", "PUT", "/skydns/overrides/192.0.2.1", ``, testToken, 400, "empty body", nil},
		{"bad until", "PUT", "/skydns/overrides/192.0.2.1", `{"status":"DOWN","until":"tomorrow"}`, testToken, 400, "bad JSON", nil},
		{"past until", "PUT", "/skydns/overrides/192.0.2.1", `{"status":"DOWN","until":"` + past + `"}`, testToken, 400, "not in the future", nil},
		{"long reason", "PUT", "/skydns/overrides/192.0.2.1", `{"status":"DOWN","reason":"` + strings.Repeat("x", 257) + `"}`, testToken, 400, "longer than 256", nil},
		{"control in reason", "PUT", "/skydns/overrides/192.0.2.1", `{"status":"DOWN","reason":"a\nb"}`, testToken, 400, "control characters", nil},
		{"bad user", "PUT", "/skydns/overrides/192.0.2.1", `{"status":"DOWN","user":"a b"}`, testToken, 400, "user", nil},
		{"missing token", "PUT", "/skydns/overrides/192.0.2.1", `{"status":"DOWN"}`, "", 401, "missing token", nil},
		{"wrong token", "DELETE", "/skydns/overrides/192.0.2.1", ``, "12345678", 401, "wrong token", nil},
		{"read without token", "GET", "/skydns/overrides", ``, "", 401, "missing token", nil},
		{"writes disabled", "PUT", "/skydns/overrides/192.0.2.1", `{"status":"DOWN"}`, "x", 403, "writes are disabled", noWrites},
		{"get none", "GET", "/skydns/overrides/192.0.2.9", ``, testToken, 404, "192.0.2.9 has no override", nil},
		{"delete none", "DELETE", "/skydns/overrides/192.0.2.9", ``, testToken, 404, "has no override", nil},
		{"method", "POST", "/skydns/overrides/192.0.2.1", `{"status":"DOWN"}`, testToken, 405, "not allowed", nil},
		{"list method", "DELETE", "/skydns/overrides/", ``, testToken, 405, "not allowed", nil},
		{"deeper path", "GET", "/skydns/overrides/192.0.2.1/x", ``, testToken, 404, "no such route", nil},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			srv := tc.srv
			if srv == nil {
				srv = s
			}
			code, body := srv.do(tc.method, tc.path, tc.body, tc.token)
			if code != tc.status {
				t.Fatalf("status %d, want %d: %s", code, tc.status, body)
			}
			var e apitypes.Error
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Status != tc.status || !strings.Contains(e.Error, tc.msg) {
				t.Fatalf("body %s: want JSON error containing %q (%v)", body, tc.msg, err)
			}
		})
	}
	// Nothing of the failed requests reached etcd.
	if o, ok := c.storedOverride("192.0.2.1"); !ok || o.Reason != "" || !o.Until.IsZero() {
		t.Errorf("failed requests changed the override: %+v", o)
	}
	if _, ok := c.storedOverride("0.0.0.0"); ok {
		t.Error("a refused override was stored")
	}
	// Open reads: the list without a token.
	open := c.start(func(cfg *Config) { cfg.OpenReads = true })
	if code, body := open.do("GET", "/skydns/overrides", "", ""); code != 200 || !strings.Contains(body, "192.0.2.1") {
		t.Errorf("open read: %d %s", code, body)
	}
}

func mustIP(s string) netip.Addr { return netip.MustParseAddr(s) }
