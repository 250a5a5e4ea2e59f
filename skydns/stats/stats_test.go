package stats

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/skydns/skydns/skydns/explain"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/etcdview"
	"github.com/skydns/skydns/skydns/server"
	"github.com/skydns/skydns/skydns/zone"
)

func TestHTTP(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	if _, err := cli.Put(context.Background(), "/skydns/local/skydns/web/00000001", `{"host":"192.0.2.1"}`); err != nil {
		t.Fatal(err)
	}
	store := zone.New(zone.Options{Prefix: "/skydns", Zones: []string{"skydns.local."}, StatusPath: "/skydns/monitor/status/",
		View: etcdview.Options{ProgressInterval: 100 * time.Millisecond}})
	reg := prometheus.NewRegistry()
	metrics := server.NewMetrics(reg, store)
	srv := httptest.NewServer(Handler(Options{Gatherer: reg, Store: store, Metrics: metrics, Token: "s3cret", Start: time.Now()}))
	defer srv.Close()

	get := func(path string, hdr ...string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz before load = %d, want 503", code)
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait := store.Start(ctx, cli)
	defer func() { cancel(); wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for !store.Loaded() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if code, body := get("/readyz"); code != http.StatusOK || !strings.Contains(body, `"ready": true`) {
		t.Fatalf("/readyz after load = %d %s", code, body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d", code)
	}

	// Queries through a real server feed the metrics and the top list.
	h := server.NewHandler(server.Config{HealthTTLCap: 10, ServeUnchecked: true}, store, metrics)
	l, err := server.Listen("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Shutdown(context.Background())
	for _, name := range []string{"web.skydns.local.", "web.skydns.local.", "WEB.skydns.local.", "nope.skydns.local."} {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		if _, err := dns.Exchange(m, l.Addr()); err != nil {
			t.Fatal(err)
		}
	}

	// A response is counted just after it is sent: poll briefly.
	var body string
	wants := []string{
		`skydns_dns_requests_total{transport="udp",type="A"} 4`,
		`skydns_dns_responses_total{rcode="NOERROR"} 3`,
		`skydns_dns_responses_total{rcode="NXDOMAIN"} 1`,
		`skydns_view_names 1`,
		`skydns_etcd_ready 1`,
		`skydns_etcd_stale 0`,
		`skydns_dns_request_duration_seconds_count{transport="udp"} 4`,
	}
	missing := func() []string {
		var out []string
		for _, want := range wants {
			if !strings.Contains(body, want) {
				out = append(out, want)
			}
		}
		return out
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, body = get("/metrics")
		if len(missing()) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, m := range missing() {
		t.Errorf("/metrics lacks %q", m)
	}

	for _, tc := range []struct {
		path string
		hdr  []string
		code int
	}{
		{"/skydns/stats", nil, http.StatusUnauthorized},
		{"/skydns/stats", []string{"Authorization", "Bearer wrong"}, http.StatusUnauthorized},
		{"/skydns/stats?token=wrong", nil, http.StatusUnauthorized},
		// Near misses: the token's prefix, the token and more, other case,
		// an empty bearer, a long one. Compared as digests, none differs
		// from another but by its answer.
		{"/skydns/stats", []string{"Authorization", "Bearer s3cre"}, http.StatusUnauthorized},
		{"/skydns/stats", []string{"Authorization", "Bearer s3cret!"}, http.StatusUnauthorized},
		{"/skydns/stats", []string{"Authorization", "Bearer S3CRET"}, http.StatusUnauthorized},
		{"/skydns/stats", []string{"Authorization", "Bearer "}, http.StatusUnauthorized},
		{"/skydns/stats", []string{"Authorization", "Bearer  s3cret"}, http.StatusUnauthorized},
		{"/skydns/stats", []string{"Authorization", "Bearer " + strings.Repeat("s3cret", 5000)}, http.StatusUnauthorized},
		{"/skydns/stats?token=s3cret%00", nil, http.StatusUnauthorized},
		{"/skydns/stats", []string{"Authorization", "Bearer s3cret"}, http.StatusOK},
		{"/skydns/stats?token=s3cret", nil, http.StatusOK},
		{"/skydns/stats/top/0?token=s3cret", nil, http.StatusBadRequest},
		{"/skydns/stats/top/x?token=s3cret", nil, http.StatusBadRequest},
	} {
		if code, body := get(tc.path, tc.hdr...); code != tc.code {
			t.Errorf("GET %s %v = %d %s, want %d", tc.path, tc.hdr, code, body, tc.code)
		}
	}
	code, body := get("/skydns/stats/top/1", "Authorization", "Bearer s3cret")
	var top []server.NameCount
	if err := json.Unmarshal([]byte(body), &top); code != 200 || err != nil || len(top) != 1 ||
		top[0] != (server.NameCount{Name: "web.skydns.local.", Count: 3}) {
		t.Fatalf("top/1 = %d %s", code, body)
	}
	_, body = get("/skydns/stats", "Authorization", "Bearer s3cret")
	if !strings.Contains(body, `"requests": 4`) || !strings.Contains(body, `"names": 1`) {
		t.Fatalf("stats = %s", body)
	}

	off := httptest.NewServer(Handler(Options{Gatherer: reg, Store: store, Metrics: metrics}))
	defer off.Close()
	resp, err := http.Get(off.URL + "/skydns/stats")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("stats without a configured token = %d, want 403", resp.StatusCode)
	}
}

// /readyz "revision" is the highest revision heard from etcd, which an
// operator compares with `etcdctl endpoint status`: it follows writes
// anywhere in etcd, also when none touches the served prefixes (the lowest
// view revision stayed at the first load's for ever).
func TestReadyzRevisionFollowsEtcd(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	store := zone.New(zone.Options{Prefix: "/skydns", Zones: []string{"skydns.local."}, StatusPath: "/skydns/monitor/status/",
		View: etcdview.Options{ProgressInterval: 100 * time.Millisecond}})
	reg := prometheus.NewRegistry()
	srv := httptest.NewServer(Handler(Options{Gatherer: reg, Store: store, Metrics: server.NewMetrics(reg, store), Start: time.Now()}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	wait := store.Start(ctx, cli)
	defer func() { cancel(); wait() }()

	readyz := func() int64 {
		t.Helper()
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Revision int64 }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body.Revision
	}
	for _, tc := range []struct {
		what string
		key  string
	}{
		{"a write outside every served prefix", "/elsewhere/k"},
		{"a record", "/skydns/local/skydns/web/00000001"},
		{"a health status", "/skydns/monitor/status/192.0.2.1"},
	} {
		var rev int64
		for i := range 3 {
			r, err := cli.Put(context.Background(), tc.key, fmt.Sprintf(`{"host":"192.0.2.1","status":"UP","n":%d}`, i))
			if err != nil {
				t.Fatal(err)
			}
			rev = r.Header.Revision
		}
		status, err := cli.Status(context.Background(), e.Endpoints()[0])
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for readyz() != status.Header.Revision {
			if time.Now().After(deadline) {
				t.Fatalf("after %s: /readyz revision %d, etcdctl endpoint status says %d (last write %d)", tc.what, readyz(), status.Header.Revision, rev)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestExplainHTTP: /skydns/explain is guarded like /skydns/stats, refuses

// TestExplainHTTP: /skydns/explain is guarded like /skydns/stats, refuses
// bad input with a 400 that says what is wrong, and answers JSON whose
// answer is the DNS server's.
func TestExplainHTTP(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	for key, v := range map[string]string{
		"/skydns/local/skydns/web/00000001":    `{"host":"192.0.2.1"}`,
		"/skydns/local/skydns/web/00000002":    `{"host":"192.0.2.2"}`,
		"/skydns/monitor/status/192.0.2.2":     `{"status":"DOWN","reason":"tcp/80: connection refused"}`,
		"/skydns/policy/web.skydns.local":      `{"mode":"hold-one"}`,
		"/skydns/local/skydns/alias/00000003":  `{"host":"web.skydns.local"}`,
		"/skydns/local/skydns/mail/00000004":   `{"host":"web.skydns.local","mail":true,"priority":10}`,
		"/skydns/local/skydns/v6only/00000005": `{"host":"2001:db8::5"}`,
	} {
		if _, err := cli.Put(context.Background(), key, v); err != nil {
			t.Fatal(err)
		}
	}
	store := zone.New(zone.Options{Prefix: "/skydns", Zones: []string{"skydns.local."}, StatusPath: "/skydns/monitor/status/",
		View: etcdview.Options{ProgressInterval: 100 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	wait := store.Start(ctx, cli)
	defer func() { cancel(); wait() }()
	rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
	defer rcancel()
	if !store.Ready(rctx) {
		t.Fatal("store not ready")
	}
	for deadline := time.Now().Add(10 * time.Second); !store.Loaded(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("store not loaded")
		}
	}
	reg := prometheus.NewRegistry()
	metrics := server.NewMetrics(reg, store)
	h := server.NewHandler(server.Config{HealthTTLCap: 10, ServeUnchecked: true, ClientMaskV4: 32, ClientMaskV6: 128}, store, metrics)
	l, err := server.Listen("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Shutdown(context.Background())
	srv := httptest.NewServer(Handler(Options{Gatherer: reg, Store: store, Metrics: metrics, Handler: h, Token: "s3cret", Start: time.Now()}))
	defer srv.Close()

	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		path, token string
		code        int
		body        string
	}{
		{"/skydns/explain?name=web.skydns.local", "", http.StatusUnauthorized, "token"},
		{"/skydns/explain?name=web.skydns.local", "wrong", http.StatusUnauthorized, "token"},
		{"/skydns/explain", "s3cret", http.StatusBadRequest, "name is missing"},
		{"/skydns/explain?name=a..b", "s3cret", http.StatusBadRequest, "not a domain name"},
		{"/skydns/explain?name=web&type=NOPE", "s3cret", http.StatusBadRequest, "not a DNS query type"},
		{"/skydns/explain?name=web&client=192.0.2.999", "s3cret", http.StatusBadRequest, "not an IP"},
		{"/skydns/explain?name=web.skydns.local&client=127.0.0.1", "s3cret", http.StatusOK, `"step": "selection"`},
	} {
		if code, body := get(tc.path, tc.token); code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("GET %s = %d %s, want %d with %q", tc.path, code, body, tc.code, tc.body)
		}
	}

	// Each name and type, from this test's own address (no client given):
	// the explained answer is what the server answers it.
	for _, q := range []struct {
		name  string
		qtype uint16
	}{
		{"web.skydns.local.", dns.TypeA}, {"alias.skydns.local.", dns.TypeA}, {"mail.skydns.local.", dns.TypeMX},
		{"v6only.skydns.local.", dns.TypeA}, {"v6only.skydns.local.", dns.TypeAAAA}, {"nope.skydns.local.", dns.TypeA},
	} {
		code, body := get("/skydns/explain?name="+q.name+"&type="+dns.TypeToString[q.qtype], "s3cret")
		var ex explain.Explanation
		if err := json.Unmarshal([]byte(body), &ex); code != http.StatusOK || err != nil {
			t.Fatalf("%s: %d %s %v", q.name, code, body, err)
		}
		if ex.Client.Address != "127.0.0.1" {
			t.Errorf("%s: client %+v, want the caller's address", q.name, ex.Client)
		}
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.qtype)
		r, err := dns.Exchange(m, l.Addr())
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, rr := range r.Answer {
			got = append(got, rr.String())
		}
		if dns.RcodeToString[r.Rcode] != ex.Answer.Rcode || strings.Join(got, "\n") != strings.Join(ex.Answer.Answer, "\n") {
			t.Errorf("%s %s: answered %s %v, explained %s %v", q.name, dns.TypeToString[q.qtype], dns.RcodeToString[r.Rcode], got, ex.Answer.Rcode, ex.Answer.Answer)
		}
	}
}
