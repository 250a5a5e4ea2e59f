package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/etcdview"
	"github.com/skydns/skydns/skydns/explain"
	"github.com/skydns/skydns/skydns/server"
	"github.com/skydns/skydns/skydns/stats"
	"github.com/skydns/skydns/skydns/zone"
)

// startDNS runs a real DNS server on etcd e with its stats listener and
// returns the listener's address.
func startDNS(t *testing.T, e *etcdtest.Etcd, statsToken string) string {
	t.Helper()
	store := zone.New(zone.Options{Prefix: "/skydns", Zones: []string{"skydns.local."}, StatusPath: "/skydns/monitor/status/",
		View: etcdview.Options{ProgressInterval: 100 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	wait := store.Start(ctx, e.Client())
	t.Cleanup(func() { cancel(); wait() })
	rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
	defer rcancel()
	if !store.Ready(rctx) {
		t.Fatal("store not ready")
	}
	reg := prometheus.NewRegistry()
	metrics := server.NewMetrics(reg, store)
	h := server.NewHandler(server.Config{HealthTTLCap: 10, ServeUnchecked: true, ClientMaskV4: 32, ClientMaskV6: 128}, store, metrics)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: stats.Handler(stats.Options{Gatherer: reg, Store: store, Metrics: metrics, Handler: h, Token: statsToken, Start: time.Now()}),
		ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestExplain(t *testing.T) {
	e := etcdtest.Start(t)
	ctx := context.Background()
	for k, v := range map[string]string{
		"/skydns/local/skydns/web/00000001": `{"host":"192.0.2.1"}`,
		"/skydns/local/skydns/web/00000002": `{"host":"192.0.2.2"}`,
		"/skydns/monitor/status/192.0.2.2":  `{"status":"DOWN","reason":"tcp/80: connection refused","votes":"2/2 down"}`,
		"/skydns/policy/web.skydns.local":   `{"mode":"hold-one"}`,
	} {
		if _, err := e.Client().Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	addr := startDNS(t, e, "st4ts")
	env := map[string]string{"SKYDNS_STATS_ADDR": addr, "SKYDNS_STATS_TOKEN": "st4ts"}

	code, out, errOut := cli(env, "-explain", "web.skydns.local", "-client", "192.0.2.77")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	// Columns are aligned with spaces: compare with runs of them as one.
	flat := regexp.MustCompile(` +`).ReplaceAllString(out, " ")
	for _, want := range []string{
		"web.skydns.local. A asked by 192.0.2.77",
		"client site: none (no sites are defined)",
		"policy /skydns/policy/web.skydns.local (set):",
		"mode hold-one [policy]",
		"all-down all [server default]",
		"192.0.2.1 UNKNOWN /skydns/local/skydns/web/00000001\n",
		`192.0.2.2 DOWN (not served) /skydns/local/skydns/web/00000002 reason "tcp/80: connection refused", votes 2/2 down`,
		"health 1 192.0.2.1 UP addresses",
		"selection 1 192.0.2.1 mode hold-one",
		"answer: NOERROR",
		"web.skydns.local.\t10\tIN\tA\t192.0.2.1",
	} {
		if !strings.Contains(flat, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	code, out, errOut = cli(env, "-explain", "web.skydns.local", "-type", "AAAA", "-client", "198.51.100.0/24", "-json")
	var ex explain.Explanation
	if err := json.Unmarshal([]byte(out), &ex); code != exitOK || err != nil {
		t.Fatalf("-json: exit %d, %v: %s %s", code, err, out, errOut)
	}
	if ex.Query.Type != "AAAA" || ex.Client.ECS != "198.51.100.0/24" || ex.Answer.Rcode != dns.RcodeToString[dns.RcodeSuccess] || len(ex.Answer.Answer) != 0 {
		t.Errorf("-json: %+v", ex)
	}

	for _, tc := range []struct {
		env  map[string]string
		args []string
		code int
		msg  string
	}{
		{map[string]string{"SKYDNS_STATS_ADDR": addr}, []string{"-explain", "web"}, exitError, "set -stats-token or SKYDNS_STATS_TOKEN"},
		{env, []string{"-explain", "web", "-type", "BOGUS"}, exitError, `type "BOGUS" is not a DNS query type`},
		{env, []string{"-explain", "web", "-client", "nonsense"}, exitError, `client "nonsense" is not an IP`},
		{env, []string{"-client", "192.0.2.1", "-list"}, exitUsage, "-client goes with -explain"},
		{map[string]string{"SKYDNS_STATS_ADDR": "127.0.0.1:1", "SKYDNS_STATS_TOKEN": "x"}, []string{"-explain", "web"}, exitError, "cannot reach the DNS server's stats listener"},
	} {
		code, _, errOut := cli(tc.env, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.msg) {
			t.Errorf("%v: exit %d %q, want %d with %q", tc.args, code, errOut, tc.code, tc.msg)
		}
	}
}
