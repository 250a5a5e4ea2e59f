package api

import (
	"context"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches url (without a token) and returns every sample as
// "name{label="value",...}" -> value; a histogram gives its _count.
func scrape(t testing.TB, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+`"`+l.GetValue()+`"`)
			}
			sort.Strings(ls)
			key := name
			if len(ls) > 0 {
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[strings.Replace(key, name, name+"_count", 1)] = float64(m.GetHistogram().GetSampleCount())
			case dto.MetricType_UNTYPED:
				out[key] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

// delta is what moved between two scrapes, among the series whose names
// start with prefix.
func delta(before, after map[string]float64, prefix string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if strings.HasPrefix(k, prefix) && v != before[k] {
			out[k] = v - before[k]
		}
	}
	return out
}

// The API counts requests by route pattern, method and code, times them
// by route, and counts refused writes by reason; /metrics needs no token.
// The counts move by exactly the requests made.
func TestMetrics(t *testing.T) {
	c := newCluster(t)
	reg := prometheus.NewRegistry()
	s := c.start(func(cfg *Config) { cfg.Registry = reg })
	s.store.RegisterMetrics(reg)
	s.ok("POST", "/skydns/api/cctv2", `{"type":"A","ips":["192.0.2.1"]}`)

	before := scrape(t, s.url+"/metrics")
	for _, r := range []struct {
		method, path, body, token string
		status                    int
	}{
		{"POST", "/skydns/api/web", `{"type":"A","ips":["192.0.2.2"]}`, testToken, 200},
		{"POST", "/skydns/api/web2", `{"type":"A","ips":["192.0.2.2"]}`, "wrong-token", 401},
		{"POST", "/skydns/api/www.example.com.", `{"type":"A","ips":["192.0.2.2"]}`, testToken, 403},
		{"POST", "/skydns/api/web3", `{"type":"A","ips":[`, testToken, 400},
		{"DELETE", "/skydns/api/nothing", ``, testToken, 404},
		{"PUT", "/skydns/api/cctv2/policy", `{"mode":"sometimes"}`, testToken, 400},
		{"GET", "/skydns/api/web", ``, testToken, 200},
		{"GET", "/skydns/api/cctv2", ``, testToken, 200},
		{"GET", "/skydns/api/nothing", ``, testToken, 404},
		{"GET", "/skydns/api/cctv2/policy", ``, testToken, 404},
		{"GET", "/skydns/api/", ``, testToken, 200},
		{"PATCH", "/skydns/api/web", `{}`, testToken, 405},
		{"BREW", "/skydns/api/web", ``, testToken, 405},
		{"GET", "/no/such/route", ``, testToken, 404},
		{"GET", "/healthz", ``, "", 200},
		{"GET", "/readyz", ``, "", 200},
	} {
		if code, body := s.do(r.method, r.path, r.body, r.token); code != r.status {
			t.Fatalf("%s %s: %d %s, want %d", r.method, r.path, code, body, r.status)
		}
	}
	after := scrape(t, s.url+"/metrics")

	const req, dur, rej = "skydns_kubeapi_api_requests_total", "skydns_kubeapi_api_request_duration_seconds_count", "skydns_kubeapi_api_writes_rejected_total"
	want := map[string]float64{
		req + `{code="200",method="POST",route="/skydns/api/{name}"}`:             1,
		req + `{code="401",method="POST",route="/skydns/api/{name}"}`:             1,
		req + `{code="403",method="POST",route="/skydns/api/{name}"}`:             1,
		req + `{code="400",method="POST",route="/skydns/api/{name}"}`:             1,
		req + `{code="404",method="DELETE",route="/skydns/api/{name}"}`:           1,
		req + `{code="400",method="PUT",route="/skydns/api/{name}/policy"}`:       1,
		req + `{code="200",method="GET",route="/skydns/api/{name}"}`:              2,
		req + `{code="404",method="GET",route="/skydns/api/{name}"}`:              1,
		req + `{code="404",method="GET",route="/skydns/api/{name}/policy"}`:       1,
		req + `{code="200",method="GET",route="/skydns/api/{$}"}`:                 1,
		req + `{code="405",method="PATCH",route="/skydns/api/{name}"}`:            1,
		req + `{code="405",method="other",route="/skydns/api/{name}"}`:            1,
		req + `{code="404",method="GET",route="/"}`:                               1,
		req + `{code="200",method="GET",route="/healthz"}`:                        1,
		req + `{code="200",method="GET",route="/readyz"}`:                         1,
		req + `{code="200",method="GET",route="/metrics"}`:                        1, // the first scrape
		dur + `{route="/skydns/api/{name}"}`:                                      10,
		dur + `{route="/skydns/api/{name}/policy"}`:                               2,
		dur + `{route="/skydns/api/{$}"}`:                                         1,
		dur + `{route="/"}`:                                                       1,
		dur + `{route="/healthz"}`:                                                1,
		dur + `{route="/readyz"}`:                                                 1,
		dur + `{route="/metrics"}`:                                                1,
		rej + `{reason="unauthorized"}`:                                           1,
		"skydns_kubeapi_api_auth_refused_total" + `{code="401",reason="unknown"}`: 1,
		rej + `{reason="forbidden"}`:                                              1,
		rej + `{reason="invalid"}`:                                                2,
		rej + `{reason="not_found"}`:                                              1,
	}
	got := delta(before, after, "skydns_kubeapi_api_")
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s moved by %v, want %v", k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s moved by %v, want 0", k, v)
		}
	}
	// Labels carry patterns, never what the client sent.
	for k := range after {
		for _, raw := range []string{"web", "nothing", "cctv2", "no/such", "BREW"} {
			if strings.Contains(k, raw) {
				t.Errorf("raw request data in a label: %s", k)
			}
		}
	}
	// Every reason is there from the start, at 0 if nothing was refused.
	for _, r := range []string{"conflict", "too_large", "unavailable", "error"} {
		if v, ok := after[rej+`{reason="`+r+`"}`]; !ok || v != 0 {
			t.Errorf("reason %s: %v %v", r, v, ok)
		}
	}
	// The store's view of etcd.
	for k, v := range map[string]float64{"skydns_kubeapi_etcd_ready": 1, "skydns_kubeapi_etcd_stale": 0} {
		if after[k] != v {
			t.Errorf("%s = %v, want %v", k, after[k], v)
		}
	}
	if age, ok := after["skydns_kubeapi_etcd_last_sync_age_seconds"]; !ok || age < 0 || age > 30 {
		t.Errorf("last sync age %v %v", age, ok)
	}
}

// An instance without the API serves /metrics, /healthz and /readyz on
// its own listener (metrics-addr).
func TestMetricsListener(t *testing.T) {
	c := newCluster(t)
	s := c.start(nil)
	reg := prometheus.NewRegistry()
	s.store.RegisterMetrics(reg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: MetricsHandler(reg, s.store), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	url := "http://" + ln.Addr().String()

	if got := scrape(t, url+"/metrics"); got["skydns_kubeapi_etcd_ready"] != 1 {
		t.Errorf("etcd_ready %v in %v", got["skydns_kubeapi_etcd_ready"], got)
	}
	for path, want := range map[string]string{"/healthz": "ok\n", "/readyz": "ready\n"} {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != want {
			t.Errorf("%s: %d %q, want 200 %q", path, resp.StatusCode, b, want)
		}
	}
	if resp, err := http.Get(url + "/skydns/api/"); err != nil || resp.StatusCode != 404 {
		t.Errorf("the API is not on this listener: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}
