// Package api is the SkyDNS REST API for records: GET, POST, PUT and DELETE
// on /skydns/api/{name}, the listing on /skydns/api/, the per-name policy
// on /skydns/api/{name}/policy, the operators' per-IP health overrides
// on /skydns/overrides/{ip}, and the sites of the topology on
// /skydns/sites/{site}. docs/api.md is its reference.
//
// Reads come from the store's in-memory mirror and keep working while etcd
// is away. Every write is one etcd transaction guarded by the revisions of
// the records it was planned from, so a request applies whole or not at
// all, and a request that would not fit in one transaction is refused.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/skydns/skydns/internal/events"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

// Config is what the API needs from skydns-api.conf.
type Config struct {
	// Domains are the zones the API may write (api-domains). A name
	// without a zone is taken relative to the first.
	Domains []string
	// KubeDomain is kube-domain when the Kubernetes sync runs, else "".
	// Names below svc.<KubeDomain> are the sync's and are not writable.
	KubeDomain string
	// Token is skydns-auth, an admin token; empty with no TokensFile
	// refuses every write.
	Token string
	// TokensFile is api-tokens-file: named tokens with roles, read by New
	// and by ReloadTokens.
	TokensFile string
	// OpenReads serves GET without a token.
	OpenReads bool
	// Events gets an event for every write that changed something; nil:
	// no history. Its owner runs it.
	Events *events.Writer
	// MaxBody is the largest request body, in bytes.
	MaxBody int64
	// MaxTxnOps is the most operations one etcd transaction may hold.
	MaxTxnOps int
	// Cluster is cluster-name, stored with every record written.
	Cluster string
	// RequestTimeout bounds each etcd request.
	RequestTimeout time.Duration
	// Registry gets the API's metrics, and GET /metrics serves it with
	// everything else registered there; nil: a registry of the API's own.
	Registry *prometheus.Registry
	Logger   *slog.Logger
	// UI, when set, is served at /ui/ (the console): it is given the API's
	// own routes, which it calls in process with the visitor's token, and
	// the API's token check (Authorize).
	UI func(api http.Handler, authorize func(r *http.Request, write bool) error) http.Handler
}

// API serves the REST API over a store.
type API struct {
	cfg        Config
	store      *store.Store
	domains    []string // normalized api-domains
	kubeDomain string   // normalized, "" when the sync is off
	reserved   string   // svc.<kube-domain>, "" when the sync is off
	tokenSum   [sha256.Size]byte
	tokens     atomic.Pointer[[]namedToken] // api-tokens-file
	log        *slog.Logger
	locks      *nameLocks
	reg        *prometheus.Registry
	m          *metrics
}

// New checks cfg and returns an API.
func New(cfg Config, st *store.Store) (*API, error) {
	if len(cfg.Domains) == 0 {
		return nil, errors.New("api: no api-domains")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxTxnOps <= 0 {
		cfg.MaxTxnOps = store.DefaultMaxTxnOps
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 5 * time.Second
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	a := &API{cfg: cfg, store: st, log: cfg.Logger, locks: newNameLocks(), reg: cfg.Registry}
	a.m = newMetrics(cfg.Registry)
	for _, d := range cfg.Domains {
		n, err := record.NormalizeName(d)
		if err != nil {
			return nil, fmt.Errorf("api: api-domains: %w", err)
		}
		if !st.Covers(n) {
			return nil, fmt.Errorf("api: zone %s is not mirrored by the store", n)
		}
		a.domains = append(a.domains, n)
	}
	if cfg.KubeDomain != "" {
		n, err := record.NormalizeName(cfg.KubeDomain)
		if err != nil {
			return nil, fmt.Errorf("api: kube-domain: %w", err)
		}
		a.kubeDomain = n
		a.reserved = "svc." + n
	}
	a.tokenSum = sha256.Sum256([]byte(cfg.Token))
	if err := a.ReloadTokens(); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	return a, nil
}

// Handler returns the HTTP handler of every route.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	// routes are the route labels of the metrics: the registered patterns.
	routes := map[string]bool{}
	handle := func(pattern string, h http.HandlerFunc) {
		mux.HandleFunc(pattern, h)
		routes[routeOf(pattern)] = true
	}
	// The role each route needs: the route classes of docs/api.md.
	read, operate, write := func(h handler) http.HandlerFunc { return a.guard(h, RoleRead) },
		func(h handler) http.HandlerFunc { return a.guard(h, RoleOperate) },
		func(h handler) http.HandlerFunc { return a.guard(h, RoleWrite) }
	handle("GET /skydns/api/{$}", read(a.getList))
	handle("GET /skydns/api", read(a.getList))
	handle("GET /skydns/api/{name}", read(a.getName))
	handle("POST /skydns/api/{name}", write(a.post))
	handle("PUT /skydns/api/{name}", write(a.put))
	handle("DELETE /skydns/api/{name}", write(a.del))
	handle("GET /skydns/api/{name}/policy", read(a.getPolicy))
	handle("PUT /skydns/api/{name}/policy", write(a.putPolicy))
	handle("DELETE /skydns/api/{name}/policy", write(a.deletePolicy))
	handle("GET /skydns/overrides/{$}", read(a.getOverrides))
	handle("GET /skydns/overrides", read(a.getOverrides))
	handle("GET /skydns/overrides/{ip}", read(a.getOverride))
	handle("PUT /skydns/overrides/{ip}", operate(a.putOverride))
	handle("DELETE /skydns/overrides/{ip}", operate(a.deleteOverride))
	handle("GET "+apitypes.EventsPath, read(a.getEvents))
	handle("GET /skydns/sites/{$}", read(a.getSites))
	handle("GET /skydns/sites", read(a.getSites))
	handle("GET /skydns/sites/{site}", read(a.getSite))
	handle("PUT /skydns/sites/{site}", write(a.putSite))
	handle("DELETE /skydns/sites/{site}", write(a.deleteSite))
	// Without a method the patterns below catch every other method of the
	// same paths, so that a 405 has a JSON body like every other error.
	notAllowed := func(allow string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, errorf(http.StatusMethodNotAllowed, "method %s is not allowed here; allowed: %s", r.Method, allow))
		}
	}
	handle("/skydns/api/{$}", notAllowed("GET"))
	handle("/skydns/api/{name}", notAllowed("GET, POST, PUT, DELETE"))
	handle("/skydns/api/{name}/policy", notAllowed("GET, PUT, DELETE"))
	handle("/skydns/overrides/{$}", notAllowed("GET"))
	handle("/skydns/overrides", notAllowed("GET"))
	handle("/skydns/overrides/{ip}", notAllowed("GET, PUT, DELETE"))
	handle("/skydns/sites/{$}", notAllowed("GET"))
	handle("/skydns/sites", notAllowed("GET"))
	handle("/skydns/sites/{site}", notAllowed("GET, PUT, DELETE"))
	handle(apitypes.EventsPath, notAllowed("GET"))
	if a.cfg.UI != nil {
		ui := a.cfg.UI(mux, a.Authorize)
		handle("/ui/", ui.ServeHTTP)
		handle("GET /ui", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusMovedPermanently) })
	}
	// Like /healthz and /readyz, /metrics needs no token.
	handle("GET /healthz", healthz)
	handle("GET /readyz", Ready(a.store))
	handle("GET /metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}).ServeHTTP)
	handle("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errorf(http.StatusNotFound, "no such route %s; the API is under %s (records, policies), %s (overrides), %s (sites) and %s (history)",
			r.URL.Path, apitypes.PathPrefix, apitypes.OverridesPrefix, apitypes.SitesPrefix, apitypes.EventsPath))
	})
	// instrument is outermost, so that it counts the 500 of a panic too.
	return a.instrument(routes, a.recoverer(a.logRequests(mux)))
}

// Serve runs an HTTP(S) server for the API on ln until ctx ends, then shuts
// it down, letting requests in flight finish for up to grace.
func (a *API) Serve(ctx context.Context, ln net.Listener, tlsCert, tlsKey string, grace time.Duration) error {
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	if tlsCert != "" {
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	errc := make(chan error, 1)
	go func() {
		if tlsCert != "" {
			errc <- srv.ServeTLS(ln, tlsCert, tlsKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("api: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	<-errc
	return nil
}

// httpError is an error answer: a status code and a message for the client.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) *httpError {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

func writeError(w http.ResponseWriter, e *httpError) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(apitypes.Error{Status: e.status, Error: e.msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		writeError(w, errorf(http.StatusInternalServerError, "encoding the answer: %v", err))
		return
	}
	w.Write(append(b, '\n'))
}

func writeOK(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, apitypes.OK)
}

// Authorize is the API's check of a request's token, for a read (write
// false) or a write: nil when it may. The console asks it, so that the
// console and the API cannot disagree; the console's writes are drains
// and undrains, which need the operate role.
func (a *API) Authorize(r *http.Request, write bool) error {
	need := RoleRead
	if write {
		need = RoleOperate
	}
	if _, _, err := a.authorize(r, need); err != nil {
		return err
	}
	return nil
}

type handler func(w http.ResponseWriter, r *http.Request) *httpError

// guard runs h for a request whose token has at least the role need, and
// keeps who made it in the request's context for the event of a write.
func (a *API) guard(h handler, need Role) http.HandlerFunc {
	write := need > RoleRead
	return func(w http.ResponseWriter, r *http.Request) {
		id, reason, err := a.authorize(r, need)
		if err != nil {
			if err.status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="skydns"`)
			}
			a.m.authRefused.WithLabelValues(strconv.Itoa(err.status), reason).Inc()
			// Never the token: the name of a known one, and why.
			a.log.Warn("api request refused", "method", r.Method, "path", r.URL.Path, "status", err.status,
				"reason", reason, "token", id.name, "remote", r.RemoteAddr)
			a.rejected(write, err)
			writeError(w, err)
			return
		}
		if write {
			act := &actor{token: id.name, user: id.name, remote: r.RemoteAddr, method: r.Method, path: r.URL.Path}
			r = r.WithContext(context.WithValue(r.Context(), actorKey{}, act))
		}
		if err := h(w, r); err != nil {
			a.rejected(write, err)
			writeError(w, err)
		}
	}
}

// rejected counts a write refused with err.
func (a *API) rejected(write bool, err *httpError) {
	if write {
		a.m.rejected.WithLabelValues(rejectReason(err.status)).Inc()
	}
}

// statusWriter remembers the status code for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// logRequests logs each request's method, path, status and duration. The
// query string is left out on purpose: old clients put the token there.
func (a *API) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		level := slog.LevelInfo
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			level = slog.LevelDebug
		}
		a.log.Log(r.Context(), level, "api request", "method", r.Method, "path", r.URL.Path,
			"status", sw.status, "duration", time.Since(start).Round(time.Microsecond).String(),
			"remote", r.RemoteAddr)
	})
}

// recoverer turns a panic in a handler into a logged 500, instead of a
// dropped connection and a stack trace on stderr.
func (a *API) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.Error("panic in API handler", "panic", v, "method", r.Method, "path", r.URL.Path,
					"stack", string(debug.Stack()))
				writeError(w, errorf(http.StatusInternalServerError, "internal error; see the server log"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
