// Package stats is the DNS server's HTTP side (the original's statsServer):
// Prometheus /metrics, /healthz, /readyz, and the token-protected stats API
// operators know, /skydns/stats and /skydns/stats/top/{N}, with
// /skydns/explain beside them.
package stats

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/skydns/skydns/skydns/server"
	"github.com/skydns/skydns/skydns/zone"
)

// Options configure the handler.
type Options struct {
	Gatherer prometheus.Gatherer
	Store    *zone.Store
	Metrics  *server.Metrics
	// Handler answers /skydns/explain; nil: 404.
	Handler *server.Handler
	// Token guards the stats API; empty refuses it (403).
	Token string
	Start time.Time
	// Ready, when set, must also hold for /readyz: the daemon's own
	// start-up work after the first load.
	Ready func() bool
}

// Handler returns the HTTP routes.
func Handler(o Options) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		st := o.Store.Status()
		ready := st.Loaded && (o.Ready == nil || o.Ready())
		body := map[string]any{"ready": ready, "stale": st.Stale, "revision": st.Seen}
		if !st.LastSync.IsZero() {
			body["last_sync"] = st.LastSync.UTC().Format(time.RFC3339Nano)
		}
		code := http.StatusOK
		if !ready {
			code = http.StatusServiceUnavailable
		}
		writeJSON(w, code, body)
	})
	mux.Handle("GET /skydns/stats", o.auth(http.HandlerFunc(o.summary)))
	mux.Handle("GET /skydns/stats/top/{n}", o.auth(http.HandlerFunc(o.top)))
	if o.Handler != nil {
		mux.Handle("GET /skydns/explain", o.auth(http.HandlerFunc(o.explain)))
	}
	return mux
}

// explain is why the server answers a name as it does: see docs/explain.md.
func (o Options) explain(w http.ResponseWriter, r *http.Request) {
	var from netip.Addr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		from = ap.Addr()
	}
	q := r.URL.Query()
	req, err := server.ParseExplainRequest(q.Get("name"), q.Get("type"), q.Get("client"), from)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	e, err := o.Handler.Explain(ctx, req)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, e)
}

func (o Options) auth(next http.Handler) http.Handler {
	// Digests have one length whatever the token's, so the comparison
	// tells a guesser nothing about the token's length either.
	want := sha256.Sum256([]byte(o.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.Token == "" {
			writeError(w, http.StatusForbidden, "the stats API is off: set statsServerAuthToken in [Stats]")
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			got = r.URL.Query().Get("token") // old clients put it in the URL
		}
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="skydns"`)
			writeError(w, http.StatusUnauthorized, "missing or wrong token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (o Options) summary(w http.ResponseWriter, r *http.Request) {
	total, other, tracked := o.Metrics.Top.Totals()
	names := 0
	zones := []string{}
	for _, z := range o.Store.Zones() {
		names += z.Len()
		zones = append(zones, z.Origin)
	}
	ips, down := o.Store.HealthCount()
	st := o.Store.Status()
	writeJSON(w, http.StatusOK, map[string]any{
		"requests":            total,
		"names_tracked":       tracked,
		"requests_other":      other,
		"zones":               zones,
		"names":               names,
		"health_ips":          ips,
		"health_down":         down,
		"etcd_revision":       st.Seen,
		"etcd_stale":          st.Stale,
		"uptime_seconds":      int64(time.Since(o.Start).Seconds()),
		"etcd_reloads":        st.Reloads,
		"etcd_watch_restarts": st.Restarts,
	})
}

func (o Options) top(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 || n > 10000 {
		writeError(w, http.StatusBadRequest, "N must be a number from 1 to 10000")
		return
	}
	writeJSON(w, http.StatusOK, o.Metrics.Top.Top(n))
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
