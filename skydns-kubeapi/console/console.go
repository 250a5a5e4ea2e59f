// Package console is the operators' web console of skydns-kubeapi, served
// at /ui/ on the API's address (docs/console.md): the names with each IP's
// health, site and override; the agents and the schedule leader; the
// overrides with drain and undrain; the recent events; and the DNS
// server's explanation of an answer.
//
// The console holds no data and no rules of its own. Every read and every
// write goes through the API's own JSON handler, in process, with the
// visitor's token, so the API decides what a visitor may do and the console
// cannot disagree with it. Pages are server-rendered (html/template) and
// read without JavaScript; one small embedded script refreshes the open
// page every second so that a status change shows without a reload.
package console

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Prefix is where the console is served.
const Prefix = "/ui/"

// Cookie names: the visitor's token, and the per-session CSRF token that
// every form posts back.
const (
	tokenCookie = "skydns_token"
	csrfCookie  = "skydns_csrf"
)

// DefaultLockKey is the schedule's leader lock (lock-path of
// skydns-schedule.conf, by default).
const DefaultLockKey = "/skydns/monitor/lock"

// PageSize is the number of names on one page of the names view.
const PageSize = 50

// maxScan bounds the names a search looks through for one page, so that a
// search that matches little cannot hold a request for long.
const maxScan = 200_000

// Event is one entry of the events timeline.
type Event struct {
	Time   time.Time
	Kind   string // "status" or "api"
	IP     string
	Name   string
	From   string
	To     string
	User   string
	Detail string
}

// EventQuery selects events: newest first, at most Limit.
type EventQuery struct {
	IP, Name string
	Limit    int
}

// EventSource gives the recent events; the events history (issue 13,
// section 2) plugs in here.
type EventSource interface {
	Events(ctx context.Context, q EventQuery) ([]Event, error)
}

// Options is what the console needs.
type Options struct {
	// API is the API's JSON handler; the console sends it every read and
	// write, in process, with the visitor's token.
	API http.Handler
	// Authorize is the API's token check: nil when the request (carrying
	// the visitor's token as a bearer token) may read (write false) or
	// write. It is the one place that decides, and the place roles plug in.
	Authorize func(r *http.Request, write bool) error
	// Names lists names in the store's order after the name after:
	// the store's Names.
	Names func(after string, limit int) (names []string, next string)
	// Etcd and Paths show the agents, their jobs and the schedule leader
	// (LockKey); nil Etcd: the agents page says it is not available.
	Etcd    *clientv3.Client
	Paths   monitor.Paths
	LockKey string
	// Events feeds the timeline; nil: the events page says it is not
	// available yet.
	Events EventSource
	// ExplainURL is the DNS server's stats listener (http://host:port) and
	// ExplainToken its token; "": the explain page says how to enable it.
	ExplainURL   string
	ExplainToken string
	// Client asks the DNS server; nil: a client with a 5 s timeout.
	Client *http.Client
}

// Console serves the pages.
type Console struct {
	o     Options
	pages map[string]*template.Template
	mux   *http.ServeMux
}

// New returns the console.
func New(o Options) (*Console, error) {
	if o.API == nil || o.Authorize == nil || o.Names == nil {
		return nil, errors.New("console: API, Authorize and Names are required")
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 5 * time.Second}
	}
	c := &Console{o: o, pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	funcs := template.FuncMap{"at": at, "when": when, "pathEscape": url.PathEscape, "drainArgs": newDrainArgs}
	for _, p := range []string{"names", "name", "agents", "overrides", "events", "explain", "login", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+p+".html")
		if err != nil {
			return nil, fmt.Errorf("console: %w", err)
		}
		c.pages[p] = t
	}
	assets, _ := fs.Sub(assetFS, "assets")
	c.mux.Handle("GET /ui/assets/", http.StripPrefix("/ui/assets/", http.FileServerFS(assets)))
	c.mux.HandleFunc("GET /ui/{$}", c.reader(c.names))
	c.mux.HandleFunc("GET /ui/name/{name}", c.reader(c.name))
	c.mux.HandleFunc("GET /ui/agents", c.reader(c.agents))
	c.mux.HandleFunc("GET /ui/overrides", c.reader(c.overrides))
	c.mux.HandleFunc("GET /ui/events", c.reader(c.events))
	c.mux.HandleFunc("GET /ui/explain", c.reader(c.explain))
	c.mux.HandleFunc("GET /ui/login", c.loginForm)
	c.mux.HandleFunc("POST /ui/login", c.login)
	c.mux.HandleFunc("POST /ui/logout", c.logout)
	c.mux.HandleFunc("POST /ui/drain", c.writer(c.drain))
	c.mux.HandleFunc("POST /ui/undrain", c.writer(c.undrain))
	c.mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusNotFound, "no such page")
	})
	return c, nil
}

// ServeHTTP serves the console's routes.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Everything the pages load is the console's own: no CDN, no inline
	// script, and no framing by another site.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, "/ui/assets/") {
		h.Set("Cache-Control", "no-store")
	}
	c.mux.ServeHTTP(w, r)
}

// page is what every template gets.
type page struct {
	Title    string
	Nav      string
	CSRF     string
	Writer   bool // the visitor's token may write
	LoggedIn bool // the visitor gave a token
	Live     bool // the script refreshes the page
	Data     any
}

// session is a request's visitor: the token from the cookie, and the CSRF
// token of the session.
type session struct {
	token string
	csrf  string
}

// sessionOf reads the cookies, and sets a CSRF cookie when there is none.
func (c *Console) sessionOf(w http.ResponseWriter, r *http.Request) session {
	var s session
	if ck, err := r.Cookie(tokenCookie); err == nil {
		s.token = ck.Value
	}
	if ck, err := r.Cookie(csrfCookie); err == nil && len(ck.Value) >= 20 {
		s.csrf = ck.Value
	} else {
		b := make([]byte, 24)
		rand.Read(b)
		s.csrf = base64.RawURLEncoding.EncodeToString(b)
		setCookie(w, csrfCookie, s.csrf, 0)
	}
	return s
}

// setCookie sets a console cookie: Secure (browsers keep Secure cookies of
// http://127.0.0.1 and localhost too), HttpOnly (no script reads it) and
// SameSite=Strict (no other site's page sends it). maxAge < 0 removes it.
func setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: Prefix, MaxAge: maxAge,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// as is r as the API sees it from the visitor: a bearer token if one was
// given, no cookies.
func (s session) as(r *http.Request, method, target string, body io.Reader) *http.Request {
	req := httptest.NewRequest(method, target, body).WithContext(r.Context())
	req.RemoteAddr = r.RemoteAddr
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

// may is the one check of what the visitor may do.
func (c *Console) may(r *http.Request, s session, write bool) error {
	return c.o.Authorize(s.as(r, http.MethodGet, "/ui/", nil), write)
}

// call sends the API a request as the visitor and decodes a JSON answer
// into out (nil: the answer is not read). It returns the API's status and,
// for an error, its message.
func (c *Console) call(r *http.Request, s session, method, target string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	rec := httptest.NewRecorder()
	c.o.API.ServeHTTP(rec, s.as(r, method, target, rd))
	if rec.Code >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(rec.Body.String())
		}
		return rec.Code, errors.New(e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			return http.StatusBadGateway, fmt.Errorf("reading the API's answer: %w", err)
		}
	}
	return rec.Code, nil
}

type view func(w http.ResponseWriter, r *http.Request, s session) (name string, p page, status int, err error)

// reader serves a page that reads: a visitor who may not read gets the
// token form.
func (c *Console) reader(v view) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := c.sessionOf(w, r)
		if err := c.may(r, s, false); err != nil {
			c.render(w, r, s, http.StatusUnauthorized, "login", page{Title: "Token", Data: loginData{
				Next: r.URL.RequestURI(), Error: tokenProblem(s, err)}})
			return
		}
		name, p, status, err := v(w, r, s)
		if err != nil {
			c.fail(w, r, status, err.Error())
			return
		}
		c.render(w, r, s, http.StatusOK, name, p)
	}
}

func tokenProblem(s session, err error) string {
	if s.token == "" {
		return "Reading needs the API token."
	}
	return "The token was refused: " + err.Error()
}

// render writes a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, s session, status int, name string, p page) {
	p.CSRF = s.csrf
	p.LoggedIn = s.token != ""
	p.Writer = c.may(r, s, true) == nil
	var buf bytes.Buffer
	if err := c.pages[name].Execute(&buf, p); err != nil {
		http.Error(w, "rendering the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if status == 0 {
		status = http.StatusInternalServerError
	}
	c.render(w, r, c.sessionOf(w, r), status, "error", page{Title: http.StatusText(status), Data: msg})
}

// sameOrigin is the first half of the CSRF check: a browser sends Origin
// with every POST (and Sec-Fetch-Site), and both must say the form came
// from this console's own host.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = r.Header.Get("Referer")
	}
	u, err := url.Parse(origin)
	return err == nil && origin != "" && u.Host == r.Host
}

// checkPost is the CSRF check of a form: same origin, and the session's
// CSRF token posted back.
func checkPost(r *http.Request, s session) error {
	if !sameOrigin(r) {
		return errors.New("the form was not sent from this console (Origin or Sec-Fetch-Site say another site)")
	}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 {
		return errors.New("the form's CSRF token does not match this session's; reload the page and try again")
	}
	return nil
}

// writer serves a form that writes, then sends the visitor back.
func (c *Console) writer(f func(r *http.Request, s session) (int, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		s := c.sessionOf(w, r)
		if err := checkPost(r, s); err != nil {
			c.fail(w, r, http.StatusForbidden, err.Error())
			return
		}
		if status, err := f(r, s); err != nil {
			c.fail(w, r, status, err.Error())
			return
		}
		http.Redirect(w, r, back(r), http.StatusSeeOther)
	}
}

// back is where a form sends the visitor after it: a path of the console.
func back(r *http.Request) string {
	b := r.PostFormValue("back")
	if !strings.HasPrefix(b, Prefix) || strings.HasPrefix(b, "//") || strings.ContainsAny(b, "\\\r\n") {
		return Prefix
	}
	return b
}

type loginData struct {
	Next  string
	Error string
}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	s := c.sessionOf(w, r)
	c.render(w, r, s, http.StatusOK, "login", page{Title: "Token", Data: loginData{Next: r.URL.Query().Get("next")}})
}

// login keeps a token that the API accepts in the token cookie.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	s := c.sessionOf(w, r)
	if err := checkPost(r, s); err != nil {
		c.fail(w, r, http.StatusForbidden, err.Error())
		return
	}
	tok := strings.TrimSpace(r.PostFormValue("token"))
	try := session{token: tok, csrf: s.csrf}
	if err := c.may(r, try, false); err != nil || tok == "" {
		if err == nil {
			err = errors.New("empty token")
		}
		c.render(w, r, s, http.StatusUnauthorized, "login", page{Title: "Token",
			Data: loginData{Next: back(r), Error: "The token was refused: " + err.Error()}})
		return
	}
	setCookie(w, tokenCookie, tok, 0)
	http.Redirect(w, r, back(r), http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	s := c.sessionOf(w, r)
	if err := checkPost(r, s); err != nil {
		c.fail(w, r, http.StatusForbidden, err.Error())
		return
	}
	setCookie(w, tokenCookie, "", -1)
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

// at shows a time as UTC; not "3s ago", which would change the page every
// second and make the live refresh swap it for nothing.
func at(t *time.Time) string {
	if t == nil {
		return ""
	}
	return when(*t)
}

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// drainArgs are what the drain or undrain button of an IP needs.
type drainArgs struct {
	IP, CSRF, Back string
	Drained        bool // an override holds it DOWN: the button undrains
}

func newDrainArgs(ip string, h *apitypes.Health, csrf, back string) drainArgs {
	o := h.Override
	return drainArgs{IP: ip, CSRF: csrf, Back: back, Drained: o != nil && o.Status == "DOWN" && !o.Expired}
}
