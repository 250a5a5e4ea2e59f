package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/skydns/skydns/internal/etcdtest"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
)

// visitor is a browser without JavaScript: it keeps the console's cookies
// by hand (they are Secure, which Go's cookie jar keeps only for https).
type visitor struct {
	t       *testing.T
	base    string
	cookies map[string]string
}

func (v *visitor) do(method, path string, form url.Values, origin string) (int, string) {
	v.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, v.base+path, body)
	if err != nil {
		v.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	for k, val := range v.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: val})
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.MaxAge < 0 {
			delete(v.cookies, ck.Name)
		} else {
			v.cookies[ck.Name] = ck.Value
		}
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// The rules of the console, without a browser: reads follow api-open-reads,
// the token is checked by the API's own check, and a write needs the
// token, the same origin and the session's CSRF token.
func TestConsoleRules(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	const ip = "192.0.2.10"
	if _, err := cli.Put(context.Background(), mt.Prefix+"/local/skydns/web/00000001", `{"host":"`+ip+`"}`); err != nil {
		t.Fatal(err)
	}
	closed, _ := startAPI(t, cli, false, "")
	open, _ := startAPI(t, cli, true, "")

	newVisitor := func(base string) *visitor { return &visitor{t: t, base: base, cookies: map[string]string{}} }
	login := func(v *visitor, token string) int {
		_, page := v.do("GET", "/ui/login", nil, "")
		m := csrfField.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no csrf field in the login page:\n%s", page)
		}
		code, _ := v.do("POST", "/ui/login", url.Values{"token": {token}, "csrf": {m[1]}, "back": {"/ui/"}}, v.base)
		return code
	}
	overrides := func() int { return mt.Count(t, cli, "/skydns/monitor/override/") }

	t.Run("reads", func(t *testing.T) {
		for _, c := range []struct {
			what  string
			base  string
			token string
			want  int
			shows string
		}{
			{"closed reads ask for the token", closed, "", http.StatusUnauthorized, "Reading needs the API token"},
			{"open reads need none", open, "", http.StatusOK, "web.skydns.local."},
			{"a wrong token is refused", closed, "wrong", http.StatusUnauthorized, "wrong token"},
			{"the token is kept once given", closed, apiToken, http.StatusOK, "web.skydns.local."},
		} {
			v := newVisitor(c.base)
			if c.token != "" {
				login(v, c.token)
				if c.token != apiToken {
					v.cookies["skydns_token"] = c.token // as a stale cookie would
				}
			}
			code, page := v.do("GET", "/ui/", nil, "")
			if code != c.want || !strings.Contains(page, c.shows) {
				t.Errorf("%s: %d, want %d showing %q:\n%s", c.what, code, c.want, c.shows, page)
			}
		}
	})

	t.Run("writes", func(t *testing.T) {
		for _, c := range []struct {
			what   string
			token  string
			origin string // "" : the console's own
			csrf   string // "" : the session's
			want   int
		}{
			{"another site's form is refused", apiToken, "http://evil.example", "", http.StatusForbidden},
			{"a form without the session's CSRF token is refused", apiToken, "", "forged", http.StatusForbidden},
			{"without a token the API refuses", "", "", "", http.StatusUnauthorized},
			{"the token holder drains", apiToken, "", "", http.StatusSeeOther},
		} {
			v := newVisitor(open)
			if c.token != "" {
				if code := login(v, c.token); code != http.StatusSeeOther {
					t.Fatalf("%s: login answered %d", c.what, code)
				}
			}
			_, page := v.do("GET", "/ui/name/web.skydns.local.", nil, "")
			_ = page
			csrf := c.csrf
			if csrf == "" {
				csrf = v.cookies["skydns_csrf"]
			}
			origin := c.origin
			if origin == "" {
				origin = v.base
			}
			before := overrides()
			code, _ := v.do("POST", "/ui/drain", url.Values{"ip": {ip}, "csrf": {csrf}, "back": {"/ui/overrides"}}, origin)
			after := overrides()
			if code != c.want {
				t.Errorf("%s: %d, want %d", c.what, code, c.want)
			}
			if wrote := after > before; wrote != (c.want == http.StatusSeeOther) {
				t.Errorf("%s: overrides %d -> %d", c.what, before, after)
			}
		}
	})

	t.Run("sections not configured say so", func(t *testing.T) {
		v := newVisitor(open)
		for path, want := range map[string]string{
			"/ui/explain": "explain-addr",
			"/ui/events":  "not available in this version",
		} {
			if code, page := v.do("GET", path, nil, ""); code != http.StatusOK || !strings.Contains(page, want) {
				t.Errorf("GET %s: %d, want 200 mentioning %q:\n%s", path, code, want, page)
			}
		}
	})
}

// The names page is a page of the store's sorted names: 50 a page with a
// link to the next, and a search that keeps paging.
func TestConsoleNamesPages(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	const n = 120
	for i := range n {
		if _, err := cli.Put(context.Background(), fmt.Sprintf("%s/local/skydns/n%03d/%08x", mt.Prefix, i, i),
			fmt.Sprintf(`{"host":"198.51.100.%d"}`, i%250+1)); err != nil {
			t.Fatal(err)
		}
	}
	base, st := startAPI(t, cli, true, "")
	mt.Eventually(t, 30*time.Second, "all names loaded", func() bool {
		names, _ := st.Names("", n+1)
		return len(names) == n
	})
	v := &visitor{t: t, base: base, cookies: map[string]string{}}
	link := regexp.MustCompile(`href="/ui/name/([^"]+)"`)
	next := regexp.MustCompile(`rel="next" href="([^"]+)"`)
	seen := map[string]bool{}
	path := "/ui/"
	for pages := 0; path != ""; pages++ {
		if pages > 5 {
			t.Fatal("more than 5 pages of 120 names")
		}
		_, page := v.do("GET", path, nil, "")
		got := link.FindAllStringSubmatch(page, -1)
		if len(got) > 50 {
			t.Errorf("%s: %d names, want at most 50", path, len(got))
		}
		for _, m := range got {
			if seen[m[1]] {
				t.Errorf("%s shows %s again", path, m[1])
			}
			seen[m[1]] = true
		}
		path = ""
		if m := next.FindStringSubmatch(page); m != nil {
			path = strings.ReplaceAll(m[1], "&amp;", "&")
		}
	}
	if len(seen) != n {
		t.Errorf("the pages showed %d names, want %d", len(seen), n)
	}
	_, page := v.do("GET", "/ui/?q=n11", nil, "")
	if got := link.FindAllStringSubmatch(page, -1); len(got) != 10 {
		t.Errorf("search n11: %d names, want 10 (n110-n119)", len(got))
	}
}
