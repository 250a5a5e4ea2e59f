package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/skydns/skydns/skydns-kubeapi/store"
)

// metrics are the API's Prometheus metrics.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	rejected *prometheus.CounterVec
	// authRefused counts requests refused for their token, reads too.
	authRefused *prometheus.CounterVec
}

// rejectReasons names the classes of refused writes, by status code.
var rejectReasons = map[int]string{
	http.StatusBadRequest:            "invalid",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not_found",
	http.StatusConflict:              "conflict",
	http.StatusRequestEntityTooLarge: "too_large",
	http.StatusServiceUnavailable:    "unavailable",
}

// rejectReason is the reason label of a write refused with status.
func rejectReason(status int) string {
	if r, ok := rejectReasons[status]; ok {
		return r
	}
	return "error"
}

func newMetrics(reg prometheus.Registerer) *metrics {
	opts := func(name, help string) prometheus.Opts {
		return prometheus.Opts{Namespace: "skydns", Subsystem: "kubeapi", Name: name, Help: help}
	}
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts(opts("api_requests_total",
			"HTTP requests to the API listener, by route pattern, method and status code.")),
			[]string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "skydns", Subsystem: "kubeapi", Name: "api_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts(opts("api_writes_rejected_total",
			"Write requests (POST, PUT, DELETE) refused, by reason: unauthorized (401), forbidden (403: writes disabled, "+
				"outside api-domains, another writer's), invalid (400), not_found (404), conflict (409), too_large (413), "+
				"unavailable (503: etcd), error (500).")),
			[]string{"reason"}),
		authRefused: prometheus.NewCounterVec(prometheus.CounterOpts(opts("api_auth_refused_total",
			"Requests refused for their token, by status code and reason: 401 missing (no token), malformed (not \"Bearer <token>\"), "+
				"unknown (no such token); 403 role (the token's role is too low for the route), disabled (no token configured: writes off).")),
			[]string{"code", "reason"}),
	}
	for _, c := range []struct{ code, reason string }{{"401", "missing"}, {"401", "malformed"}, {"401", "unknown"}, {"403", "role"}, {"403", "disabled"}} {
		m.authRefused.WithLabelValues(c.code, c.reason)
	}
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r)
	}
	m.rejected.WithLabelValues("error")
	reg.MustRegister(m.requests, m.duration, m.rejected, m.authRefused)
	return m
}

// routeOther is the route label of a request that matched no pattern
// the API registered (a redirect the mux made, for instance).
const routeOther = "other"

// routeOf is the route label of a mux pattern: the pattern without its
// method, which has a label of its own.
func routeOf(pattern string) string {
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return path
	}
	return pattern
}

// methodOf bounds the method label to the methods HTTP defines.
func methodOf(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// instrument counts and times each request by the route pattern the mux
// matched, never by the raw path, so the labels stay few whatever clients
// ask for.
func (a *API) instrument(routes map[string]bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		// The mux sets Pattern on the request it was handed, which is r:
		// the handlers in between pass it on as it is.
		route := routeOf(r.Pattern)
		if !routes[route] {
			route = routeOther
		}
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		a.m.requests.WithLabelValues(route, methodOf(r.Method), strconv.Itoa(status)).Inc()
		a.m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// Ready answers /readyz from st: 503 until the records have loaded, then
// 200, saying so when etcd has not confirmed them lately.
func Ready(st *store.Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		switch {
		case !st.IsReady():
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready: records not loaded from etcd yet")
		case st.Stale():
			// Reads still work from memory; writes may not. Ready, but say so.
			fmt.Fprintln(w, "ready (stale: etcd is not answering; serving the last known records)")
		default:
			fmt.Fprintln(w, "ready")
		}
	}
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// MetricsHandler serves /metrics from g, and /healthz and /readyz as the
// API does: the listener of an instance that runs the sync without the
// API (metrics-addr).
func MetricsHandler(g prometheus.Gatherer, st *store.Store) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", Ready(st))
	return mux
}
