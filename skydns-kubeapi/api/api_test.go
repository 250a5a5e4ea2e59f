package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
)

// The original walkthrough, as operators type it.
func TestWalkthrough(t *testing.T) {
	c := newCluster(t)
	s := c.start(nil)
	curl := func(url, body string) string {
		t.Helper()
		req, _ := http.NewRequest("POST", s.url+url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json;charset=UTF-8")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
		}
		return strings.TrimSpace(string(b))
	}
	if got := curl("/skydns/api/cctv2?token=123456789", `{"type":"A","ips":["192.0.2.1","192.0.2.2","192.0.2.3"]}`); got != "OK" {
		t.Fatalf("A: %q", got)
	}
	if got := curl("/skydns/api/cctv2.skydns.local?token=123456789", `{"type":"cname","alias":"tv1"}`); got != "OK" {
		t.Fatalf("CNAME: %q", got)
	}

	// What the DNS server reads: three A records of cctv2 at 8-hex ids,
	// and tv1's CNAME at its own path.
	stored := c.stored("skydns.local.")
	idKey := regexp.MustCompile(`^/skydns/local/skydns/cctv2/[0-9a-f]{8}$`)
	var ips []string
	for k, r := range stored {
		switch {
		case idKey.MatchString(k):
			if r.Type != record.TypeA || r.Source != "api" || r.Cluster != "test" {
				t.Errorf("%s = %+v", k, r)
			}
			ips = append(ips, r.Host)
		case k == "/skydns/local/skydns/tv1":
			if r.Type != record.TypeCNAME || r.Host != "cctv2.skydns.local." || r.Source != "api" {
				t.Errorf("%s = %+v", k, r)
			}
		default:
			t.Errorf("unexpected key %s = %+v", k, r)
		}
	}
	sort.Strings(ips)
	if !slices.Equal(ips, []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"}) {
		t.Errorf("A records %v", ips)
	}
	byName := names(t, stored)
	if len(byName["cctv2.skydns.local."]) != 3 || len(byName["tv1.skydns.local."]) != 1 || len(byName) != 2 {
		t.Errorf("keys read back as %v", byName)
	}

	// GET shows each IP's health, also through the CNAME.
	c.put(statusPath+"192.0.2.1", `{"status":"UP"}`)
	c.put(statusPath+"192.0.2.2", `{"status":"DOWN","reason":"tcp/80: connection refused"}`)
	eventually(t, "health in GET", func() bool {
		v := s.get("tv1.skydns.local")
		if len(v.Records) != 1 || len(v.Records[0].Addresses) != 3 {
			return false
		}
		for _, a := range v.Records[0].Addresses {
			if a.IP == "192.0.2.2" && a.Health.Status == "DOWN" {
				return true
			}
		}
		return false
	})
	v := s.get("tv1")
	want := map[string]string{"192.0.2.1": "UP", "192.0.2.2": "DOWN", "192.0.2.3": "UNKNOWN"}
	for _, a := range v.Records[0].Addresses {
		if want[a.IP] != a.Health.Status || a.Name != "cctv2.skydns.local." {
			t.Errorf("address %+v", a)
		}
	}
	for _, r := range s.get("cctv2").Records {
		if r.Health == nil || r.Health.Status != want[r.Host] {
			t.Errorf("record %+v", r)
		}
	}
}

// Every type, added, shown and stored as the DNS server reads it.
func TestTypes(t *testing.T) {
	c := newCluster(t)
	s := c.start(nil)
	for _, tc := range []struct {
		name, body string
		want       map[string][]string // name -> "TYPE value" of its records
	}{
		{"a4", `{"type":"A","ips":["192.0.2.10","192.0.2.11"],"ttl":30}`,
			map[string][]string{"a4.skydns.local.": {"A 192.0.2.10", "A 192.0.2.11"}}},
		{"a6.skydns.local", `{"type":"AAAA","ips":["2001:DB8:0::1"]}`,
			map[string][]string{"a6.skydns.local.": {"AAAA 2001:db8::1"}}},
		{"_http._tcp.web", `{"type":"SRV","ips":["192.0.2.20","2001:db8::20"],"ports":[8080,8081],"priority":5}`,
			map[string][]string{
				"_http._tcp.web.skydns.local.":                                         {"SRV 192-0-2-20._http._tcp.web.skydns.local.:8080", "SRV 2001-0db8-0000-0000-0000-0000-0000-0020._http._tcp.web.skydns.local.:8081"},
				"192-0-2-20._http._tcp.web.skydns.local.":                              {"A 192.0.2.20"},
				"2001-0db8-0000-0000-0000-0000-0000-0020._http._tcp.web.skydns.local.": {"AAAA 2001:db8::20"},
			}},
		{"_ldap._tcp.example.org", `{"type":"SRV","hosts":["ldap1","ldap.example.com"],"ports":[389]}`,
			map[string][]string{"_ldap._tcp.example.org.": {"SRV ldap.example.com.:389", "SRV ldap1.example.org.:389"}}},
		{"sub", `{"type":"NS","nsHost":"ns1.skydns.local"}`,
			map[string][]string{"sub.skydns.local.": {"NS ns1.skydns.local."}}},
		{"skydns.local", `{"type":"MX","mailHost":"mail","mailPriority":20}`,
			map[string][]string{"skydns.local.": {"MX mail.skydns.local."}}},
		{"txt", `{"type":"TXT","text":"v=spf1 -all"}`,
			map[string][]string{"txt.skydns.local.": {"TXT v=spf1 -all"}}},
		{"cctv2.skydns.local", `{"type":"CNAME","alias":"www"}`,
			map[string][]string{"www.skydns.local.": {"CNAME cctv2.skydns.local."}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.ok("POST", "/skydns/api/"+tc.name, tc.body)
			for name, want := range tc.want {
				var got []string
				for _, r := range s.get(name).Records {
					v := r.Host
					switch r.Type {
					case "TXT":
						v = r.Text
					case "SRV":
						v = fmt.Sprintf("%s:%d", r.Host, r.Port)
					}
					got = append(got, r.Type+" "+v)
					if r.Source != "api" || !strings.HasPrefix(r.Key, record.NamePath(prefix, name)) {
						t.Errorf("%s: %+v", name, r)
					}
				}
				sort.Strings(got)
				if !slices.Equal(got, want) {
					t.Errorf("%s: got %v, want %v", name, got, want)
				}
			}
		})
	}
	// Every stored key reads back as the name it was written for.
	for name, recs := range names(t, c.stored("skydns.local.")) {
		for _, r := range recs {
			if r.Type == record.TypeMX && (r.Priority != 20 || name != "skydns.local.") {
				t.Errorf("MX %s %+v", name, r)
			}
			if r.Type == record.TypeSRV && r.Priority != 5 && strings.Contains(name, "_http") {
				t.Errorf("SRV %s %+v", name, r)
			}
		}
	}
	if v := s.get("a4"); v.Records[0].TTL != 30 {
		t.Errorf("ttl: %+v", v.Records[0])
	}
	// POST is idempotent: the same records again change nothing.
	before, _ := c.cli.Get(context.Background(), "/skydns", clientv3.WithPrefix())
	s.ok("POST", "/skydns/api/a4", `{"type":"A","ips":["192.0.2.10","192.0.2.11"],"ttl":30}`)
	after, _ := c.cli.Get(context.Background(), "/skydns", clientv3.WithPrefix())
	if before.Header.Revision != after.Header.Revision {
		t.Errorf("repeated POST wrote (revision %d -> %d)", before.Header.Revision, after.Header.Revision)
	}
}

// Updates and deletes, including the SRV targets an SRV by IP made.
func TestUpdateAndDelete(t *testing.T) {
	c := newCluster(t)
	s := c.start(nil)
	s.ok("POST", "/skydns/api/cctv2", `{"type":"A","ips":["192.0.2.1","192.0.2.2","192.0.2.3"]}`)
	s.ok("PUT", "/skydns/api/cctv2", `{"type":"A","update":{"192.0.2.1":"192.0.2.9","192.0.2.2":"192.0.2.8"}}`)
	s.ok("DELETE", "/skydns/api/cctv2", `{"ips":["192.0.2.3"]}`)
	if got := hosts(s.get("cctv2")); !slices.Equal(got, []string{"192.0.2.8", "192.0.2.9"}) {
		t.Fatalf("after PUT and DELETE: %v", got)
	}

	s.ok("POST", "/skydns/api/cctv2", `{"type":"cname","alias":"tv1"}`)
	s.ok("PUT", "/skydns/api/cctv2", `{"type":"cname","update":{"tv1":"tv2"}}`)
	if code, _ := s.do("GET", "/skydns/api/tv1", "", testToken); code != 404 {
		t.Errorf("tv1 after move: %d", code)
	}
	if got := hosts(s.get("tv2")); !slices.Equal(got, []string{"cctv2.skydns.local."}) {
		t.Errorf("tv2: %v", got)
	}
	// The original's way to delete an alias: its name, type cname.
	s.ok("DELETE", "/skydns/api/tv2.skydns.local", `{"type":"cname"}`)

	s.ok("POST", "/skydns/api/_sip._udp", `{"type":"SRV","ips":["192.0.2.30","192.0.2.31"],"ports":[5060]}`)
	s.ok("PUT", "/skydns/api/_sip._udp", `{"type":"SRV","update":{"192.0.2.30":"192.0.2.32"}}`)
	s.ok("DELETE", "/skydns/api/_sip._udp", `{"ips":["192.0.2.31"]}`)
	got := map[string][]string{}
	for n, recs := range names(t, c.stored("skydns.local.")) {
		for _, r := range recs {
			got[n] = append(got[n], r.Host)
		}
	}
	want := map[string][]string{
		"cctv2.skydns.local.":                {"192.0.2.8", "192.0.2.9"},
		"_sip._udp.skydns.local.":            {"192-0-2-32._sip._udp.skydns.local."},
		"192-0-2-32._sip._udp.skydns.local.": {"192.0.2.32"},
	}
	for n := range got {
		sort.Strings(got[n])
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stored %v\nwant %v", got, want)
	}

	s.ok("DELETE", "/skydns/api/_sip._udp", "")
	s.ok("DELETE", "/skydns/api/cctv2", "")
	if left := c.stored("skydns.local."); len(left) != 0 {
		t.Errorf("left after deleting everything: %v", left)
	}
	if code, body := s.do("DELETE", "/skydns/api/cctv2", "", testToken); code != 404 {
		t.Errorf("second DELETE: %d %s", code, body)
	}
}

func hosts(v apitypes.Name) []string {
	var out []string
	for _, r := range v.Records {
		out = append(out, r.Host)
	}
	sort.Strings(out)
	return out
}

// Every error answers with its status code and a JSON body saying what is
// wrong.
func TestErrors(t *testing.T) {
	c := newCluster(t)
	s := c.start(func(cfg *Config) { cfg.MaxBody = 8192 })
	s.ok("POST", "/skydns/api/cctv2", `{"type":"A","ips":["192.0.2.1"]}`)
	s.ok("POST", "/skydns/api/cctv2", `{"type":"cname","alias":"tv1"}`)
	// A record of the Kubernetes sync, which the API must not touch.
	c.put("/skydns/local/skydns/shared/0a0b0c0d", `{"type":"A","host":"192.0.2.50","source":"kube","cluster":"test"}`)
	c.put(statusPath+"192.0.2.50", `{"status":"UP"}`)
	eventually(t, "kube record", func() bool { return len(s.store.Records("shared.skydns.local.")) == 1 })

	many := make([]string, 129)
	for i := range many {
		many[i] = fmt.Sprintf(`"198.51.100.%d"`, i+1)
	}
	big := `{"type":"TXT","text":"` + strings.Repeat("x", 9000) + `"}`
	for _, tc := range []struct {
		desc, method, path, body, token string
		status                          int
		msg                             string
	}{
		{"bad JSON", "POST", "/skydns/api/x", `{"type":"A","ips":[`, testToken, 400, "bad JSON"},
		{"wrong JSON type", "POST", "/skydns/api/x", `{"type":"A","ips":"192.0.2.1"}`, testToken, 400, "bad JSON"},
		{"unknown field", "POST", "/skydns/api/x", `{"type":"A","ip":["192.0.2.1"]}`, testToken, 400, `unknown field "ip"`},
		{"two values", "POST", "/skydns/api/x", `{"type":"A","ips":["192.0.2.1"]} {}`, testToken, 400, "more than one"},
		{"empty body", "POST", "/skydns/api/x", ``, testToken, 400, "empty body"},
		{"bad IP", "POST", "/skydns/api/x", `{"type":"A","ips":["192.0.2.300"]}`, testToken, 400, "invalid IP address"},
		{"v6 in A", "POST", "/skydns/api/x", `{"type":"A","ips":["2001:db8::1"]}`, testToken, 400, "use type AAAA"},
		{"zoned IP", "POST", "/skydns/api/x", `{"type":"AAAA","ips":["fe80::1%eth0"]}`, testToken, 400, "zone"},
		{"unspecified IP", "POST", "/skydns/api/x", `{"type":"A","ips":["0.0.0.0"]}`, testToken, 400, "unspecified"},
		{"bad name", "POST", "/skydns/api/bad_name-", `{"type":"A","ips":["192.0.2.1"]}`, testToken, 400, "hyphen"},
		{"name too long", "POST", "/skydns/api/" + strings.Repeat("a", 64), `{"type":"A","ips":["192.0.2.1"]}`, testToken, 400, "longer than 63"},
		{"outside the zones", "POST", "/skydns/api/www.example.com.", `{"type":"A","ips":["192.0.2.1"]}`, testToken, 403, "outside the zones"},
		{"alias outside", "POST", "/skydns/api/cctv2.skydns.local", `{"type":"cname","alias":"tv9.example.com."}`, testToken, 403, "outside the zones"},
		{"kube zone", "POST", "/skydns/api/x.default.svc.kube.local", `{"type":"A","ips":["192.0.2.1"]}`, testToken, 403, "outside the zones"},
		{"unknown type", "POST", "/skydns/api/x", `{"type":"PTR","ips":["192.0.2.1"]}`, testToken, 400, "unknown type"},
		{"no type", "POST", "/skydns/api/x", `{"ips":["192.0.2.1"]}`, testToken, 400, "type is required"},
		{"no ips", "POST", "/skydns/api/x", `{"type":"A"}`, testToken, 400, "ips is required"},
		{"SRV ports", "POST", "/skydns/api/_x._tcp", `{"type":"SRV","ips":["192.0.2.1","192.0.2.2"],"ports":[1,2,3]}`, testToken, 400, "ports"},
		{"bad policy", "POST", "/skydns/api/x", `{"type":"A","ips":["192.0.2.1"],"policy":{"mode":"sometimes"}}`, testToken, 400, "mode"},
		{"bad ttl", "POST", "/skydns/api/x", `{"type":"A","ips":["192.0.2.1"],"ttl":-1}`, testToken, 400, "ttl"},
		{"bad user", "POST", "/skydns/api/x?user=a%20b", `{"type":"A","ips":["192.0.2.1"]}`, testToken, 400, "user"},
		{"A beside CNAME", "POST", "/skydns/api/tv1", `{"type":"A","ips":["192.0.2.1"]}`, testToken, 409, "is a CNAME of cctv2.skydns.local"},
		{"CNAME beside A", "POST", "/skydns/api/other", `{"type":"cname","alias":"cctv2"}`, testToken, 409, "cannot be beside other data"},
		{"CNAME moved", "POST", "/skydns/api/other", `{"type":"cname","alias":"tv1"}`, testToken, 409, "already an alias of cctv2.skydns.local"},
		{"CNAME self", "POST", "/skydns/api/tv5", `{"type":"cname","alias":"tv5"}`, testToken, 400, "alias of itself"},
		{"CNAME apex", "POST", "/skydns/api/cctv2", `{"type":"cname","alias":"skydns.local."}`, testToken, 409, "zone apex"},
		{"body too large", "POST", "/skydns/api/x", big, testToken, 413, "larger than 8192 bytes"},
		{"too many operations", "POST", "/skydns/api/x", `{"type":"A","ips":[` + strings.Join(many, ",") + `]}`, testToken, 413, "129 etcd operations"},
		{"missing token", "POST", "/skydns/api/x", `{"type":"A","ips":["192.0.2.1"]}`, "", 401, "missing token"},
		{"wrong token", "POST", "/skydns/api/x", `{"type":"A","ips":["192.0.2.1"]}`, "12345678", 401, "wrong token"},
		{"read without token", "GET", "/skydns/api/cctv2", ``, "", 401, "missing token"},
		{"kube record delete", "DELETE", "/skydns/api/shared", `{"ips":["192.0.2.50"]}`, testToken, 403, "belongs to kube (cluster test)"},
		{"kube record whole", "DELETE", "/skydns/api/shared", ``, testToken, 403, "belongs to kube"},
		{"kube record update", "PUT", "/skydns/api/shared", `{"type":"A","update":{"192.0.2.50":"192.0.2.51"}}`, testToken, 403, "belongs to kube"},
		{"kube record again", "POST", "/skydns/api/shared", `{"type":"A","ips":["192.0.2.50"]}`, testToken, 409, "published by kube"},
		{"update missing", "PUT", "/skydns/api/cctv2", `{"type":"A","update":{"192.0.2.77":"192.0.2.78"}}`, testToken, 404, "no A record 192.0.2.77"},
		{"update no map", "PUT", "/skydns/api/cctv2", `{"type":"A"}`, testToken, 400, "update is required"},
		{"delete missing ip", "DELETE", "/skydns/api/cctv2", `{"ips":["192.0.2.77"]}`, testToken, 404, "no record with address 192.0.2.77"},
		{"delete nothing", "DELETE", "/skydns/api/nothing", ``, testToken, 404, "has no records"},
		{"get nothing", "GET", "/skydns/api/nothing", ``, testToken, 404, "has no records"},
		{"get outside", "GET", "/skydns/api/www.example.com.", ``, testToken, 404, "not in a zone"},
		{"bad limit", "GET", "/skydns/api/?limit=0", ``, testToken, 400, "limit"},
		{"method", "PATCH", "/skydns/api/cctv2", `{}`, testToken, 405, "not allowed"},
		{"route", "GET", "/other", ``, testToken, 404, "no such route"},
		{"policy missing", "GET", "/skydns/api/cctv2/policy", ``, testToken, 404, "no policy"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			code, body := s.do(tc.method, tc.path, tc.body, tc.token)
			if code != tc.status {
				t.Fatalf("status %d, want %d: %s", code, tc.status, body)
			}
			var e apitypes.Error
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Status != tc.status || !strings.Contains(e.Error, tc.msg) {
				t.Fatalf("body %s: want JSON error containing %q (%v)", body, tc.msg, err)
			}
		})
	}
	// A loop through an existing CNAME is refused.
	s.ok("POST", "/skydns/api/tv1", `{"type":"cname","alias":"tv7"}`)
	if code, body := s.do("POST", "/skydns/api/tv7", `{"type":"cname","alias":"cctv2-x"}`, testToken); code != 200 {
		t.Fatalf("chain: %d %s", code, body)
	}
	if code, body := s.do("PUT", "/skydns/api/cctv2", `{"type":"A","update":{"192.0.2.1":"192.0.2.1"}}`, testToken); code != 200 {
		t.Fatalf("no-op update: %d %s", code, body)
	}
	// tv7 -> tv1 -> cctv2; making cctv2-y an alias of tv7 is fine, making
	// tv1 an alias again of something that leads back to it is not.
	s.ok("DELETE", "/skydns/api/cctv2-x", `{"type":"cname"}`)
	s.ok("DELETE", "/skydns/api/cctv2", `{"ips":["192.0.2.1"]}`)
	if code, body := s.do("POST", "/skydns/api/tv7", `{"type":"cname","alias":"cctv2"}`, testToken); code != 409 || !strings.Contains(body, "loop") {
		t.Fatalf("loop: %d %s", code, body)
	}
	// Nothing of the failed requests reached etcd.
	if recs := names(t, c.stored("skydns.local."))["x.skydns.local."]; len(recs) != 0 {
		t.Errorf("failed requests left %v", recs)
	}
}

// Without a token configured the API serves reads and refuses writes; with
// api-open-reads, reads need no token.
func TestAuthModes(t *testing.T) {
	c := newCluster(t)
	noToken := c.start(func(cfg *Config) { cfg.Token = "" })
	if code, body := noToken.do("POST", "/skydns/api/x", `{"type":"A","ips":["192.0.2.1"]}`, "anything"); code != 403 || !strings.Contains(body, "writes are disabled") {
		t.Errorf("write without configured token: %d %s", code, body)
	}
	if code, _ := noToken.do("GET", "/skydns/api/", "", ""); code != 200 {
		t.Errorf("read without configured token: %d", code)
	}
	open := c.start(func(cfg *Config) { cfg.OpenReads = true })
	if code, _ := open.do("GET", "/skydns/api/", "", ""); code != 200 {
		t.Errorf("open read: %d", code)
	}
	if code, _ := open.do("DELETE", "/skydns/api/x", "", ""); code != 401 {
		t.Errorf("open reads, write without token: %d", code)
	}
	if code, _ := open.do("DELETE", "/skydns/api/x", "", "Bearer"); code != 401 {
		t.Errorf("bad bearer: %d", code)
	}
	// ?token= for old clients.
	if code, _ := open.do("POST", "/skydns/api/x?token="+testToken, `{"type":"A","ips":["192.0.2.1"]}`, ""); code != 200 {
		t.Errorf("?token=: %d", code)
	}
	// When the Kubernetes sync publishes into an API zone, its subtree
	// svc.<kube-domain> is still the sync's alone.
	shared := c.start(func(cfg *Config) { cfg.Domains = []string{"kube.local."} })
	if code, body := shared.do("POST", "/skydns/api/web.default.svc", `{"type":"A","ips":["192.0.2.1"]}`, testToken); code != 403 || !strings.Contains(body, "Kubernetes sync owns") {
		t.Errorf("write below svc.kube.local: %d %s", code, body)
	}
}

// The policy is set, shown and removed through the API; the stored value
// reads back with policy.Decode, as the DNS server reads it.
func TestPolicy(t *testing.T) {
	c := newCluster(t)
	s := c.start(nil)
	s.ok("POST", "/skydns/api/web", `{"type":"A","ips":["192.0.2.1","192.0.2.2"],"policy":{"mode":"hold-one","all-down":"none","check":{"ports":[80,443]}}}`)
	v := s.get("web")
	if v.Policy == nil || v.Policy.Mode != policy.ModeHoldOne || v.Policy.Source != "api" || len(v.Policy.Check.Ports) != 2 {
		t.Fatalf("policy in GET: %+v", v.Policy)
	}
	s.ok("PUT", "/skydns/api/web/policy", `{"mode":"priority","check":{"ports":[8080],"http":{"path":"/healthz"}}}`)
	resp, err := c.cli.Get(context.Background(), policy.Key(prefix, "web.skydns.local."))
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("policy key: %v %v", resp, err)
	}
	p, err := policy.Decode(resp.Kvs[0].Value)
	if err != nil || p.Mode != policy.ModePriority || p.Check.HTTP.Path != "/healthz" {
		t.Fatalf("stored policy %s: %+v %v", resp.Kvs[0].Value, p, err)
	}
	code, body := s.do("GET", "/skydns/api/web/policy", "", testToken)
	if code != 200 || !strings.Contains(body, `"priority"`) {
		t.Errorf("GET policy: %d %s", code, body)
	}
	if code, body := s.do("PUT", "/skydns/api/web/policy", `{"mode":"priority","bogus":1}`, testToken); code != 400 {
		t.Errorf("bad policy field: %d %s", code, body)
	}
	// A policy the sync wrote is not the API's to change.
	c.put(policy.Key(prefix, "kubeish.skydns.local."), `{"mode":"all","source":"kube","cluster":"test"}`)
	eventually(t, "kube policy", func() bool { _, ok := s.store.Policy("kubeish.skydns.local."); return ok })
	if code, _ := s.do("PUT", "/skydns/api/kubeish/policy", `{"mode":"random"}`, testToken); code != 403 {
		t.Errorf("kube policy PUT: %d", code)
	}
	s.ok("DELETE", "/skydns/api/web/policy", "")
	if code, _ := s.do("GET", "/skydns/api/web/policy", "", testToken); code != 404 {
		t.Errorf("deleted policy: %d", code)
	}
	// Deleting a name takes its policy along.
	s.ok("PUT", "/skydns/api/web/policy", `{"mode":"random"}`)
	s.ok("DELETE", "/skydns/api/web", "")
	if resp, _ := c.cli.Get(context.Background(), policy.Key(prefix, "web.skydns.local.")); len(resp.Kvs) != 0 {
		t.Errorf("policy left after deleting the name")
	}
}

// The list pages through every name in key order.
func TestListPages(t *testing.T) {
	c := newCluster(t)
	s := c.start(nil)
	var want []string
	for i := range 25 {
		n := fmt.Sprintf("host%02d", i)
		s.ok("POST", "/skydns/api/"+n, fmt.Sprintf(`{"type":"A","ips":["198.51.100.%d"]}`, i+1))
		want = append(want, n+".skydns.local.")
	}
	s.ok("POST", "/skydns/api/www.example.org", `{"type":"A","ips":["203.0.113.1"]}`)
	want = append(want, "www.example.org.")
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		code, body := s.do("GET", "/skydns/api/?limit=10&after="+after, "", testToken)
		if code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		var l apitypes.List
		if err := json.Unmarshal([]byte(body), &l); err != nil {
			t.Fatal(err)
		}
		for _, n := range l.Names {
			got = append(got, n.Name)
		}
		if l.Next == "" {
			if pages != 2 {
				t.Errorf("%d pages, want 3", pages+1)
			}
			break
		}
		after = l.Next
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed %v\nwant %v", got, want)
	}
}

// Many writers on one name, on two replicas of the API: every write lands,
// none is lost.
func TestConcurrentWriters(t *testing.T) {
	c := newCluster(t)
	replicas := []*server{c.start(nil), c.start(nil)}
	const writers = 24
	var wg sync.WaitGroup
	errs := make(chan string, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := replicas[i%2]
			code, body := s.do("POST", "/skydns/api/busy", fmt.Sprintf(`{"type":"A","ips":["198.51.100.%d"]}`, i+1), testToken)
			if code != 200 {
				errs <- fmt.Sprintf("writer %d: %d %s", i, code, body)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := len(c.stored("skydns.local.")); n != writers {
		t.Errorf("%d records stored, want %d", n, writers)
	}

	// A CNAME and an A record raced onto one name from both replicas:
	// exactly one of them wins, never both.
	for round := range 10 {
		name := fmt.Sprintf("race%d", round)
		var codes [2]int
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			codes[0], _ = replicas[0].do("POST", "/skydns/api/busy", `{"type":"cname","alias":"`+name+`"}`, testToken)
		}()
		go func() {
			defer wg.Done()
			codes[1], _ = replicas[1].do("POST", "/skydns/api/"+name, `{"type":"A","ips":["203.0.113.7"]}`, testToken)
		}()
		wg.Wait()
		if codes[0]+codes[1] != 200+409 {
			t.Errorf("round %d: answers %v, want one 200 and one 409", round, codes)
		}
		recs := names(t, c.stored("skydns.local."))[name+".skydns.local."]
		if len(recs) != 1 {
			t.Errorf("round %d: %s has %v", round, name, recs)
		}
	}
}

// With etcd away the API keeps answering reads from memory and fails
// writes with 503, then recovers.
func TestEtcdAway(t *testing.T) {
	c := newCluster(t)
	proxy := c.etcd.Proxy()
	c.via = proxy.Client(t)
	s := c.start(func(cfg *Config) { cfg.RequestTimeout = 500 * time.Millisecond })
	s.ok("POST", "/skydns/api/cctv2", `{"type":"A","ips":["192.0.2.1"]}`)
	proxy.Cut()
	eventually(t, "stale", func() bool { return s.store.Stale() })
	if v := s.get("cctv2"); len(v.Records) != 1 {
		t.Errorf("GET while etcd is away: %+v", v)
	}
	if code, body := s.do("POST", "/skydns/api/cctv2", `{"type":"A","ips":["192.0.2.2"]}`, testToken); code != 503 {
		t.Errorf("write while etcd is away: %d %s", code, body)
	}
	proxy.Restore()
	eventually(t, "writes again", func() bool {
		code, _ := s.do("POST", "/skydns/api/cctv2", `{"type":"A","ips":["192.0.2.2"]}`, testToken)
		return code == 200
	})
	if got := hosts(s.get("cctv2")); len(got) != 2 {
		t.Errorf("after recovery: %v", got)
	}
}

// Leaves below a name, as CoreDNS users and the original tools store them,
// show as records of the name (record.Rule): -show www has both addresses
// and -list has www.
func TestLeavesShowUnderTheirName(t *testing.T) {
	c := newCluster(t)
	s := c.start(nil)
	c.put("/skydns/local/skydns/www/ttggxuxp", `{"host":"198.51.100.7"}`)
	c.put("/skydns/local/skydns/www/jzlnykyj", `{"host":"198.51.100.8"}`)
	eventually(t, "both leaves", func() bool { return len(s.store.Records("www.skydns.local.")) == 2 })
	var ips []string
	for _, r := range s.get("www.skydns.local").Records {
		ips = append(ips, r.Host)
	}
	if !slices.Equal(ips, []string{"198.51.100.7", "198.51.100.8"}) {
		t.Errorf("GET www: %v", ips)
	}
	code, body := s.do("GET", "/skydns/api/", "", testToken)
	var l apitypes.List
	if err := json.Unmarshal([]byte(body), &l); code != 200 || err != nil {
		t.Fatalf("list: %d %s", code, body)
	}
	var listed []string
	for _, n := range l.Names {
		listed = append(listed, n.Name)
	}
	if want := []string{"www.skydns.local.", "jzlnykyj.www.skydns.local.", "ttggxuxp.www.skydns.local."}; !slices.Equal(listed, want) {
		t.Errorf("listed %v, want %v", listed, want)
	}
}
