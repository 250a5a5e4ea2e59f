package api

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/policy"
)

// The health view shows, per address, the verdict that applies to the name
// asked about and the check it comes from: web and db share a host, db's
// check fails on it, web's passes; a name without a verdict of its own
// check shows the status; an override shows for every name.
func TestHealthPerNameCheck(t *testing.T) {
	c := newCluster(t)
	s := c.start(nil)
	host := "198.51.100.9"
	s.ok("POST", "/skydns/api/web", `{"type":"A","ips":["`+host+`"]}`)
	s.ok("POST", "/skydns/api/db", `{"type":"A","ips":["`+host+`"]}`)
	s.ok("POST", "/skydns/api/plain", `{"type":"A","ips":["`+host+`"]}`)
	s.ok("PUT", "/skydns/api/web/policy", `{"check":{"ports":[80]}}`)
	s.ok("PUT", "/skydns/api/db/policy", `{"check":{"ports":[3306]}}`)
	paths := monitor.Paths{Status: statusPath}
	ip := netip.MustParseAddr(host)
	dbID := monitor.CheckID(monitor.NameSpec(&policy.Check{Ports: []int{3306}}, nil))
	webID := monitor.CheckID(monitor.NameSpec(&policy.Check{Ports: []int{80}}, nil))
	c.put(statusPath+host, `{"status":"UP","votes":"1/2 checks down"}`)
	c.put(paths.VerdictKey(ip, webID), `{"status":"UP","votes":"0/2 down","check":{"ports":[80]}}`)
	c.put(paths.VerdictKey(ip, dbID), `{"status":"DOWN","reason":"tcp/3306: connection refused","votes":"2/2 down","check":{"ports":[3306]}}`)

	type want struct{ status, check, spec string }
	view := func(name string) want {
		v := s.get(name)
		if len(v.Records) != 1 || v.Records[0].Health == nil {
			return want{}
		}
		h := v.Records[0].Health
		var spec bytes.Buffer
		if len(h.CheckSpec) > 0 {
			json.Compact(&spec, h.CheckSpec) // the API indents its answers
		}
		return want{h.Status, h.Check, spec.String()}
	}
	cases := []struct {
		name string
		want want
	}{
		{"web", want{"UP", webID, `{"ports":[80]}`}},
		{"db", want{"DOWN", dbID, `{"ports":[3306]}`}},
		{"plain", want{"UP", "", ""}}, // no verdict of the default check: the status
	}
	for _, tc := range cases {
		eventually(t, tc.name+"'s health", func() bool { return view(tc.name) == tc.want })
	}
	c.put(statusPath+host, `{"status":"DOWN","override":true,"checked":"UP","reason":"override: drain (by alice)"}`)
	for _, n := range []string{"web", "db", "plain"} {
		eventually(t, n+" under an override", func() bool { return view(n) == want{"DOWN", "", ""} })
	}
}
