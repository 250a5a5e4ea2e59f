package api

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
)

// Secrets of the named tokens of the tests; the file holds their hashes.
var roleSecrets = map[string]string{
	"reader":   "secret-of-the-reader",
	"operator": "secret-of-the-operator",
	"writer":   "secret-of-the-writer",
	"admin":    "secret-of-the-admin",
}

func tokensFile(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func tokenLine(name, role string) string {
	return name + " " + role + " " + apitypes.HashToken(roleSecrets[name])
}

// lockedBuffer is a log the server writes while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Each role against each class of route: read (GET), operate (overrides)
// and write (records, policies); skydns-auth is an admin token. No token
// or an unknown one is 401, a role too low 403; both are counted, and no
// secret reaches the log.
func TestTokenRoles(t *testing.T) {
	c := newCluster(t)
	var logBuf lockedBuffer
	file := tokensFile(t, "# the tests' tokens", tokenLine("reader", "read"), tokenLine("operator", "operate"),
		tokenLine("writer", "write"), tokenLine("admin", "admin"))
	s := c.start(func(cfg *Config) {
		cfg.TokensFile = file
		cfg.Logger = slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	s.ok("POST", "/skydns/api/web", `{"type":"A","ips":["192.0.2.1"]}`)

	type route struct{ method, path, body string }
	classes := []struct {
		class string
		r     route
	}{
		{"read", route{"GET", "/skydns/api/web", ""}},
		{"read", route{"GET", "/skydns/overrides/", ""}},
		{"read", route{"GET", "/skydns/events", ""}},
		{"operate", route{"PUT", "/skydns/overrides/192.0.2.1", `{"status":"DOWN","reason":"maintenance"}`}},
		{"operate", route{"DELETE", "/skydns/overrides/192.0.2.1", ""}},
		{"write", route{"POST", "/skydns/api/web", `{"type":"A","ips":["192.0.2.2"]}`}},
		{"write", route{"PUT", "/skydns/api/web/policy", `{"mode":"random"}`}},
	}
	tokens := []struct{ who, secret string }{
		{"no token", ""},
		{"unknown token", "not-a-token"},
		{"reader", roleSecrets["reader"]},
		{"operator", roleSecrets["operator"]},
		{"writer", roleSecrets["writer"]},
		{"admin", roleSecrets["admin"]},
		{"skydns-auth", testToken},
	}
	// want[who][class] is the status code.
	want := map[string]map[string]int{
		"no token":      {"read": 401, "operate": 401, "write": 401},
		"unknown token": {"read": 401, "operate": 401, "write": 401},
		"reader":        {"read": 200, "operate": 403, "write": 403},
		"operator":      {"read": 200, "operate": 200, "write": 403},
		"writer":        {"read": 200, "operate": 200, "write": 200},
		"admin":         {"read": 200, "operate": 200, "write": 200},
		"skydns-auth":   {"read": 200, "operate": 200, "write": 200},
	}
	refused := map[string]float64{}
	for _, tok := range tokens {
		for _, rc := range classes {
			t.Run(fmt.Sprintf("%s/%s %s", tok.who, rc.r.method, rc.r.path), func(t *testing.T) {
				code, body := s.do(rc.r.method, rc.r.path, rc.r.body, tok.secret)
				if w := want[tok.who][rc.class]; code != w {
					t.Errorf("%d %s, want %d", code, body, w)
				}
				switch code {
				case 401:
					refused["401"]++
					if !strings.Contains(body, "token") {
						t.Errorf("401 says %s; want it to say what is wrong with the token", body)
					}
				case 403:
					refused["403"]++
					if !strings.Contains(body, "has role") || !strings.Contains(body, "needs role "+rc.class) {
						t.Errorf("403 says %s; want the token's role and the one needed", body)
					}
				}
			})
		}
	}
	m := scrape(t, s.url+"/metrics")
	got401 := m[`skydns_kubeapi_api_auth_refused_total{code="401",reason="missing"}`] + m[`skydns_kubeapi_api_auth_refused_total{code="401",reason="unknown"}`]
	if got401 != refused["401"] || m[`skydns_kubeapi_api_auth_refused_total{code="403",reason="role"}`] != refused["403"] {
		t.Errorf("refusals counted: 401 %v, 403 %v; want %v and %v", got401,
			m[`skydns_kubeapi_api_auth_refused_total{code="403",reason="role"}`], refused["401"], refused["403"])
	}
	log := logBuf.String()
	for _, secret := range append([]string{testToken, "not-a-token"}, roleSecrets["reader"], roleSecrets["operator"]) {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds the secret %q", secret)
		}
	}
	if !strings.Contains(log, "api request refused") || !strings.Contains(log, "token=reader") {
		t.Errorf("refusals not logged with the token's name:\n%s", log)
	}
}

// With api-open-reads, reads need no token; writes still do.
func TestOpenReadsWithNamedTokens(t *testing.T) {
	c := newCluster(t)
	s := c.start(func(cfg *Config) {
		cfg.Token, cfg.OpenReads = "", true
		cfg.TokensFile = tokensFile(t, tokenLine("operator", "operate"))
	})
	if code, body := s.do("GET", "/skydns/api/", "", ""); code != 200 {
		t.Errorf("open read: %d %s", code, body)
	}
	if code, body := s.do("POST", "/skydns/api/web", `{"type":"A","ips":["192.0.2.1"]}`, ""); code != 401 {
		t.Errorf("write without a token: %d %s", code, body)
	}
	if code, body := s.do("POST", "/skydns/api/web", `{"type":"A","ips":["192.0.2.1"]}`, roleSecrets["operator"]); code != 403 {
		t.Errorf("record write with an operate token: %d %s", code, body)
	}
}

// Reloading (what SIGHUP does) picks up a changed file; a broken file
// keeps the tokens in use.
func TestTokensReload(t *testing.T) {
	c := newCluster(t)
	file := tokensFile(t, tokenLine("reader", "read"))
	s := c.start(func(cfg *Config) { cfg.TokensFile = file })
	put := `{"status":"DOWN","reason":"maintenance"}`
	if code, _ := s.do("PUT", "/skydns/overrides/192.0.2.1", put, roleSecrets["reader"]); code != 403 {
		t.Fatalf("reader drains: %d, want 403", code)
	}
	if err := os.WriteFile(file, []byte(strings.ReplaceAll(tokenLine("reader", "read"), " read ", " operate ")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.api.ReloadTokens(); err != nil {
		t.Fatal(err)
	}
	if code, body := s.do("PUT", "/skydns/overrides/192.0.2.1", put, roleSecrets["reader"]); code != 200 {
		t.Fatalf("after the reload, the token with role operate drains: %d %s", code, body)
	}
	if err := os.WriteFile(file, []byte("reader godlike 00\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.api.ReloadTokens(); err == nil {
		t.Fatal("a broken file loaded")
	}
	if code, body := s.do("DELETE", "/skydns/overrides/192.0.2.1", "", roleSecrets["reader"]); code != 200 {
		t.Fatalf("after a broken file, the tokens in use stay: %d %s", code, body)
	}
}

func TestParseTokens(t *testing.T) {
	h := apitypes.HashToken("x")
	for _, tc := range []struct {
		name, text, err string
	}{
		{"ok", "# comment\n\nalice admin " + h + " # trailing comment\n", ""},
		{"fields", "alice admin\n", "line 1: want <name> <role> <sha256-hex>"},
		{"role", "alice root " + h, `role "root"`},
		{"hash", "alice admin abc", "is not a SHA-256"},
		{"name", "al/ice admin " + h, `name "al/ice"`},
		{"same name", "alice admin " + h + "\nalice read " + apitypes.HashToken("y"), `name "alice" already on line 1`},
		{"same secret", "alice admin " + h + "\nbob read " + h, "the same secret as line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTokens(tc.text)
			if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("got %v, want %q", err, tc.err)
			}
		})
	}
}
