package api

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
)

// FuzzRequest sends arbitrary bodies to the real API, over HTTP, on a real
// etcd, and checks what a hostile client must never obtain: a 500 or an
// unexpected status, a panic (the connection would fail), or a stored key
// that a reader would refuse or read as a name outside the zones. The
// seed corpus runs as a plain test in make test.
func FuzzRequest(f *testing.F) {
	c := newCluster(f)
	s := c.start(nil)
	seeds := []struct {
		method uint8 // 0 POST, 1 PUT, 2 DELETE, 3 GET, 4 PUT policy
		name   string
		body   string
	}{
		{0, "web", `{"type":"A","ips":["192.0.2.1","192.0.2.2"]}`},
		{0, "v6", `{"type":"AAAA","ips":["fd00::1","abcd::1","::ffff:192.0.2.1"]}`},
		{0, "web", `{"type":"cname","alias":"www"}`},
		{0, "www", `{"type":"cname","alias":"web"}`},
		{1, "web", `{"type":"cname","update":{"www":"w2","w2":"www"}}`},
		{1, "web", `{"type":"A","update":{"192.0.2.1":"192.0.2.9","::ffff:192.0.2.1":"192.0.2.10"}}`},
		{0, "_sip._udp", `{"type":"SRV","ips":["192.0.2.5"],"ports":[5060]}`},
		{0, "mx", `{"type":"MX","hosts":["mail"],"mailPriority":10}`},
		{0, "t", `{"type":"TXT","text":"note-sttsb4er"}`},
		{0, "t", `{"type":"TXT","text":"note-la7vskx5"}`},
		{0, "p", `{"type":"A","ips":["192.0.2.3"],"policy":{"all-down":"fallback","fallback":["0.0.0.0"]}}`},
		{4, "p", `{"check":{"http":{"path":"/x\r\nHost: evil"}}}`},
		{2, "web", `{"type":"A","ips":["192.0.2.2"]}`},
		{3, "web", ``},
		{0, "x", `{"type":"A","ips":["192.0.2.1"]}{}`},
		{0, "x", `{"type":"A","ipz":["192.0.2.1"]}`},
		{0, "x", `{"type":"A","ips":["192.0.2.1"],"ttl":-1}`},
		{0, "a..b", `{"type":"A","ips":["192.0.2.1"]}`},
		{0, "lock.monitor.", `{"type":"cname","alias":"x"}`},
		{0, "x", `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[`},
		{0, "x", "\xff\xfe"},
	}
	for _, sd := range seeds {
		f.Add(sd.method, sd.name, []byte(sd.body))
	}
	allowed := map[int]bool{200: true, 400: true, 403: true, 404: true, 405: true, 409: true, 413: true}
	zone := record.NamePath(prefix, "skydns.local.") + "/"
	f.Fuzz(func(t *testing.T, method uint8, name string, body []byte) {
		m, path := "POST", "/skydns/api/"+url.PathEscape(name)
		switch method % 5 {
		case 1:
			m = "PUT"
		case 2:
			m = "DELETE"
		case 3:
			m = "GET"
		case 4:
			m, path = "PUT", path+"/policy"
		}
		req, err := http.NewRequest(m, s.url+path, strings.NewReader(string(body)))
		if err != nil {
			return // not a request a client can send
		}
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s %q: %v", m, path, body, err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !allowed[resp.StatusCode] {
			t.Fatalf("%s %s %q: %d %s", m, path, body, resp.StatusCode, answer)
		}
		if resp.StatusCode != 200 || m == "GET" {
			return
		}
		// Whatever was accepted, every reader can read back.
		kvs, err := c.cli.Get(context.Background(), prefix+"/", clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range kvs.Kvs {
			k := string(kv.Key)
			switch {
			case strings.HasPrefix(k, policy.Prefix(prefix)):
				if _, err := policy.Decode(kv.Value); err != nil {
					t.Fatalf("after %s %s %q: stored policy %s = %s: %v", m, path, body, k, kv.Value, err)
				}
			case strings.HasPrefix(k, prefix+"/monitor/"):
			default:
				r, err := record.Decode(kv.Value)
				if err != nil {
					t.Fatalf("after %s %s %q: stored %s = %s: %v", m, path, body, k, kv.Value, err)
				}
				n, _, err := record.ParseKey(prefix, k, r)
				if err != nil || !strings.HasPrefix(k, zone) && !strings.HasPrefix(k, record.NamePath(prefix, "example.org.")+"/") {
					t.Fatalf("after %s %s %q: stored %s reads as %q, %v", m, path, body, k, n, err)
				}
			}
		}
	})
}
