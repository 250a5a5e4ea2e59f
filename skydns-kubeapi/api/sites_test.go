package api

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
)

const topologyPath = "/skydns/topology/"

// putSite sends a PUT that must succeed and returns its answer.
func (s *server) putSite(name, body string) apitypes.Site {
	s.t.Helper()
	code, got := s.do("PUT", "/skydns/sites/"+name, body, testToken)
	if code != 200 {
		s.t.Fatalf("PUT site %s %s: %d %s", name, body, code, got)
	}
	var v apitypes.Site
	if err := json.Unmarshal([]byte(got), &v); err != nil {
		s.t.Fatalf("PUT site %s: %v in %s", name, err, got)
	}
	return v
}

// storedSites returns every topology key's value.
func (c *cluster) storedSites() map[string]string {
	c.t.Helper()
	resp, err := c.cli.Get(context.Background(), topologyPath, clientv3.WithPrefix())
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string]string{}
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), topologyPath)] = string(kv.Value)
	}
	return out
}

// A site is created, shown alone and in the list, changed and deleted; what
// is stored is the contract's value, normalized.
func TestSites(t *testing.T) {
	c := newCluster(t)
	s := c.start(nil)
	s.putSite("gz", `{"networks":["203.0.113.0/24"]}`)
	v := s.putSite("sh", `{"networks":["198.51.100.7/25","2001:DB8:1::/48"],"fallback":["gz"]}`)
	if v.Name != "sh" || v.Key != topologyPath+"sh" || strings.Join(v.Networks, " ") != "198.51.100.0/25 2001:db8:1::/48" ||
		strings.Join(v.Fallback, " ") != "gz" || v.Error != "" {
		t.Fatalf("PUT answer %+v", v)
	}
	if got := c.storedSites()["sh"]; got != `{"networks":["198.51.100.0/25","2001:db8:1::/48"],"fallback":["gz"]}` {
		t.Errorf("stored %s", got)
	}
	code, body := s.do("GET", "/skydns/sites/", "", testToken)
	var list apitypes.SiteList
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list.Sites) != 2 ||
		list.Sites[0].Name != "gz" || strings.Join(list.Sites[0].FallbackOf, " ") != "sh" || list.Sites[1].Name != "sh" {
		t.Fatalf("list: %d %s", code, body)
	}
	if code, body := s.do("GET", "/skydns/sites/nowhere", "", testToken); code != 404 {
		t.Errorf("GET of a missing site: %d %s", code, body)
	}

	// Records: the site field is kept on addresses; GET shows it and the
	// site each address is in (the field, else the longest prefix).
	s.ok("POST", "/skydns/api/web", `{"type":"A","ips":["198.51.100.1","203.0.113.1","192.0.2.1"]}`)
	s.ok("POST", "/skydns/api/web", `{"type":"A","ips":["192.0.2.9"],"site":"gz"}`)
	s.ok("POST", "/skydns/api/web", `{"type":"A","ips":["192.0.2.10"],"site":"later"}`)
	in := map[string]string{}
	for _, r := range s.get("web").Records {
		in[r.Host] = r.Site + "/" + r.InSite
	}
	want := map[string]string{"198.51.100.1": "/sh", "203.0.113.1": "/gz", "192.0.2.1": "/", "192.0.2.9": "gz/gz", "192.0.2.10": "later/"}
	if fmt.Sprint(in) != fmt.Sprint(want) {
		t.Errorf("sites of the addresses: %v, want %v", in, want)
	}
	for _, r := range c.stored("skydns.local.") {
		if (r.Host == "192.0.2.9") != (r.Site == "gz") || r.Host == "192.0.2.10" && r.Site != "later" {
			t.Errorf("stored record %+v", r)
		}
	}
	// PUT sets the field on the new address, or keeps the old one's; a
	// POST of an address with another site moves it.
	s.ok("PUT", "/skydns/api/web", `{"type":"A","update":{"192.0.2.1":"192.0.2.3"},"site":"sh"}`)
	s.ok("POST", "/skydns/api/web", `{"type":"A","ips":["192.0.2.9"],"site":"sh"}`)
	s.ok("PUT", "/skydns/api/web", `{"type":"A","update":{"192.0.2.3":"192.0.2.4"}}`) // keeps sh
	in = map[string]string{}
	for _, r := range s.get("web").Records {
		in[r.Host] = r.Site + "/" + r.InSite
	}
	if in["192.0.2.4"] != "sh/sh" || in["192.0.2.9"] != "sh/sh" || len(in) != 5 {
		t.Errorf("after PUT and POST with a site: %v", in)
	}

	// A site defined later places the address at once.
	s.putSite("later", `{}`)
	eventually(t, "site of 192.0.2.10", func() bool { return s.store.SiteOf(mustIP("192.0.2.10"), "later") == "later" })

	// Replacing a site moves its addresses; the same value writes nothing.
	s.putSite("gz", `{"networks":["203.0.113.0/25"]}`)
	resp, _ := c.cli.Get(context.Background(), topologyPath+"gz")
	rev := resp.Kvs[0].ModRevision
	s.putSite("gz", `{"networks":["203.0.113.0/25"]}`)
	if resp, _ := c.cli.Get(context.Background(), topologyPath+"gz"); resp.Kvs[0].ModRevision != rev {
		t.Error("the same value was written again")
	}

	// Delete: refused while another site falls back to it.
	if code, body := s.do("DELETE", "/skydns/sites/gz", "", testToken); code != 409 || !strings.Contains(body, "fallback of sh") {
		t.Errorf("DELETE of a fallback: %d %s", code, body)
	}
	s.putSite("sh", `{"networks":["198.51.100.0/25"]}`)
	s.ok("DELETE", "/skydns/sites/gz", "")
	if _, ok := c.storedSites()["gz"]; ok {
		t.Error("gz still stored")
	}
	if code, _ := s.do("DELETE", "/skydns/sites/gz", "", testToken); code != 404 {
		t.Errorf("second DELETE: %d", code)
	}

	// A value written by hand that cannot be read is listed with why, and
	// can be replaced.
	c.put(topologyPath+"bad", `{"networks":["nope"]}`)
	eventually(t, "bad site", func() bool { _, ok := s.store.Site("bad"); return ok })
	code, body = s.do("GET", "/skydns/sites/bad", "", testToken)
	if code != 200 || !strings.Contains(body, "cannot be read") {
		t.Errorf("unreadable site: %d %s", code, body)
	}
	s.putSite("bad", `{"networks":["192.0.2.128/25"]}`)
}

// Hostile or inconsistent input answers 400 (409 for a delete another site
// depends on) with a message that names the problem, and writes nothing.
func TestSitesRefused(t *testing.T) {
	c := newCluster(t)
	s := c.start(nil)
	s.putSite("sh", `{"networks":["198.51.100.0/24"]}`)
	s.putSite("gz", `{"networks":["203.0.113.0/24"],"fallback":["sh"]}`)
	before := c.storedSites()
	for _, tc := range []struct {
		method, site, body, token string
		code                      int
		msg                       string
	}{
		{"PUT", "bj", `{"networks":["198.51.100.0/33"]}`, testToken, 400, "not a CIDR"},
		{"PUT", "bj", `{"networks":["192.0.2.1"]}`, testToken, 400, "not a CIDR"},
		{"PUT", "bj", `{"networks":["::ffff:192.0.2.0/120"]}`, testToken, 400, "IPv4-mapped"},
		{"PUT", "bj", `{"fallback":["nowhere"]}`, testToken, 400, `nowhere\": no such site`},
		{"PUT", "bj", `{"fallback":["bj"]}`, testToken, 400, "the site itself"},
		{"PUT", "bj", `{"fallback":["sh","sh"]}`, testToken, 400, "given twice"},
		{"PUT", "bj", `{"fallback":["Not a label"]}`, testToken, 400, "not a site name"},
		{"PUT", "bj", `{"networks":["198.51.100.0/24"]}`, testToken, 400, "network 198.51.100.0/24 is already in site sh"},
		{"PUT", "bj", `{"networks":["198.51.100.9/24"]}`, testToken, 400, "already in site sh"}, // the same prefix, spelt otherwise
		{"PUT", "bj", `{"networks":[]} {}`, testToken, 400, "more than one JSON value"},
		{"PUT", "bj", `{"nets":["192.0.2.0/24"]}`, testToken, 400, "unknown field"},
		{"PUT", "bj", ``, testToken, 400, "empty body"},
		{"PUT", "BJ", `{}`, testToken, 400, "lower-case DNS label"},
		{"PUT", "-bj", `{}`, testToken, 400, "lower-case DNS label"},
		{"PUT", strings.Repeat("a", 64), `{}`, testToken, 400, "lower-case DNS label"},
		{"PUT", "b%2Fj", `{}`, testToken, 400, "lower-case DNS label"},
		{"PUT", "bj", `{}`, "", 401, "missing token"},
		{"PUT", "bj", `{}`, "wrong", 401, "wrong token"},
		{"DELETE", "sh", ``, testToken, 409, "fallback of gz"},
		{"DELETE", "sh", ``, "", 401, "missing token"},
		{"POST", "sh", `{}`, testToken, 405, "not allowed"},
		// The site field of a record must be a label too.
	} {
		t.Run(tc.method+" "+tc.site+" "+tc.body, func(t *testing.T) {
			code, body := s.do(tc.method, "/skydns/sites/"+tc.site, tc.body, tc.token)
			if code != tc.code || !strings.Contains(body, tc.msg) {
				t.Errorf("%d %s; want %d with %q", code, body, tc.code, tc.msg)
			}
		})
	}
	if code, body := s.do("POST", "/skydns/api/web", `{"type":"A","ips":["192.0.2.1"],"site":"Shanghai"}`, testToken); code != 400 || !strings.Contains(body, "lower-case DNS label") {
		t.Errorf("record with a bad site: %d %s", code, body)
	}
	if after := c.storedSites(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("refused writes changed the topology: %v, was %v", after, before)
	}
	if len(c.stored("skydns.local.")) != 0 {
		t.Error("refused record write stored something")
	}
}

// Two replicas that at the same moment put the same network in two new
// sites, or create a site falling back to one being deleted: the guard on
// the topology makes exactly one of them win, every round.
func TestSitesConcurrent(t *testing.T) {
	c := newCluster(t)
	r1, r2 := c.start(nil), c.start(nil)
	const rounds = 8
	for i := range rounds {
		network := fmt.Sprintf(`{"networks":["198.51.100.%d/29"]}`, i*8)
		a, b := fmt.Sprintf("a%d", i), fmt.Sprintf("b%d", i)
		var codes [2]int
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); codes[0], _ = r1.do("PUT", "/skydns/sites/"+a, network, testToken) }()
		go func() { defer wg.Done(); codes[1], _ = r2.do("PUT", "/skydns/sites/"+b, network, testToken) }()
		wg.Wait()
		stored := c.storedSites()
		_, okA := stored[a]
		_, okB := stored[b]
		if codes[0]+codes[1] != 600 || okA == okB || okA != (codes[0] == 200) {
			t.Fatalf("round %d: answers %v, stored a=%v b=%v; want one 200 and one 400, one site", i, codes, okA, okB)
		}
	}

	for i := range rounds {
		target := fmt.Sprintf("t%d", i)
		r1.putSite(target, `{}`)
		eventually(t, "replica 2 sees "+target, func() bool { _, ok := r2.store.Site(target); return ok })
		var codes [2]int
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); codes[0], _ = r1.do("DELETE", "/skydns/sites/"+target, "", testToken) }()
		go func() {
			defer wg.Done()
			codes[1], _ = r2.do("PUT", "/skydns/sites/u"+target, `{"fallback":["`+target+`"]}`, testToken)
		}()
		wg.Wait()
		stored := c.storedSites()
		_, hasTarget := stored[target]
		_, hasUser := stored["u"+target]
		// Either the delete won (the user is refused) or the user did
		// (the delete is refused): never a fallback to nothing.
		if hasUser && !hasTarget || hasUser == (codes[1] != 200) || hasTarget == (codes[0] == 200) {
			t.Fatalf("round %d: answers %v, stored target=%v user=%v", i, codes, hasTarget, hasUser)
		}
	}
}
