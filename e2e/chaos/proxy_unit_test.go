package chaos

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The peer proxy isolates one member: it refuses the connections that
// member opens (named by rafthttp's X-Server-From), lets the others
// through, and Cut refuses everyone.
func TestPeerProxyIsolates(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	p, err := newProxy(strings.TrimPrefix(srv.URL, "http://"), true)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	get := func(from string) bool {
		// A fresh connection each time: the proxy judges a connection by
		// its first request.
		c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		req, _ := http.NewRequest("GET", p.url()+"/raft", nil)
		req.Header.Set("X-Server-From", from)
		resp, err := c.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	for _, step := range []struct {
		what string
		do   func()
		a, b bool // member a's and member b's requests get through
	}{
		{"open", func() {}, true, true},
		{"a isolated", func() { p.setDeny("a", true) }, false, true},
		{"a back", func() { p.setDeny("a", false) }, true, true},
		{"cut", func() { p.setCut(true) }, false, false},
		{"restored", func() { p.setCut(false) }, true, true},
	} {
		step.do()
		if got := get("a"); got != step.a {
			t.Errorf("%s: a's request through: %v, want %v", step.what, got, step.a)
		}
		if got := get("b"); got != step.b {
			t.Errorf("%s: b's request through: %v, want %v", step.what, got, step.b)
		}
	}
}
