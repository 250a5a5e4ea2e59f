package monitor

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"

	"github.com/skydns/skydns/internal/policy"
)

// TestCheckID: a check-id names the canonical spec, so specs that differ
// only in what Normalize erases share one, and any difference, even in a
// field this package does not know of, makes another.
func TestCheckID(t *testing.T) {
	web := Spec{Ports: []int{80}}
	for _, tc := range []struct {
		name string
		a, b Spec
		same bool
	}{
		{"empty spec is the default check", Spec{}, Spec{Require: policy.RequireAny}, true},
		{"port order and duplicates do not matter", Spec{Ports: []int{443, 80, 80}}, Spec{Ports: []int{80, 443}}, true},
		{"another port is another check", web, Spec{Ports: []int{3306}}, false},
		{"require all is another check", web, Spec{Ports: []int{80}, Require: policy.RequireAll}, false},
		{"icmp off differs from the agent's default", Spec{}, Spec{ICMP: ptr(false)}, false},
	} {
		a, b := CheckID(tc.a), CheckID(tc.b)
		if (a == b) != tc.same {
			t.Errorf("%s: CheckID %q vs %q", tc.name, a, b)
		}
		for _, id := range []string{a, b} {
			if !ValidCheckID(id) {
				t.Errorf("%s: %q is not a valid check-id", tc.name, id)
			}
		}
	}
	if got := CheckID(Spec{}); got != DefaultCheck {
		t.Errorf("CheckID({}) = %q, want %q", got, DefaultCheck)
	}
	// Fixed forever: a leader of another version must name it the same.
	if got, want := CheckID(web), CheckIDOf([]byte(`{"ports":[80]}`)); got != want || got != "7598bd95f3b5" {
		t.Errorf("CheckID(ports 80) = %q (of bytes %q), want 7598bd95f3b5", got, want)
	}
	// Fields added by newer specs flow through the hash unseen.
	if CheckIDOf([]byte(`{"ports":[80],"match":"ok"}`)) == CheckID(web) {
		t.Error("an unknown field did not change the check-id")
	}
}

func ptr[T any](v T) *T { return &v }

func TestVerdictKeys(t *testing.T) {
	p := DefaultPaths()
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	id := CheckID(Spec{Ports: []int{80}})
	for _, tc := range []struct{ got, want string }{
		{p.VerdictDir(), "/skydns/monitor/verdict/"},
		{p.VerdictKey(v4, id), "/skydns/monitor/verdict/192.0.2.1/" + id},
		{p.VerdictKey(v6, DefaultCheck), "/skydns/monitor/verdict/2001:db8::1/default"},
		{p.CheckJobKey("a1", v4, DefaultCheck), "/skydns/monitor/job/a1/192.0.2.1"},
		{p.CheckJobKey("a1", v4, id), "/skydns/monitor/job/a1/192.0.2.1/" + id},
		{p.CheckReportKey(v4, "a1", DefaultCheck), "/skydns/monitor/report/192.0.2.1/a1"},
		{p.CheckReportKey(v4, "a1", id), "/skydns/monitor/report/192.0.2.1/a1/" + id},
		{Paths{Status: "/x/health/status/"}.VerdictDir(), "/x/health/verdict/"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
	if strings.HasPrefix(p.VerdictDir(), p.Status) {
		t.Error("verdicts below the status directory: the original DNS server would read them as statuses")
	}
}

// TestParseCheckKeys: the new parsers read the old keys as the default
// check, and the old parsers refuse the new keys (so an agent or schedule
// of before per-check verdicts ignores them rather than misreading them).
func TestParseCheckKeys(t *testing.T) {
	p := DefaultPaths()
	v4 := netip.MustParseAddr("192.0.2.1")
	id := CheckID(Spec{Ports: []int{3306}})
	for _, tc := range []struct {
		key, agent, id string
		ok, oldOK      bool
	}{
		{"/skydns/monitor/job/a1/192.0.2.1", "a1", DefaultCheck, true, true},
		{"/skydns/monitor/job/a1/192.0.2.1/" + id, "a1", id, true, false},
		{"/skydns/monitor/job/a1/192.0.2.1/default", "", "", false, false}, // the default has one key
		{"/skydns/monitor/job/a1/192.0.2.1/xyz", "", "", false, false},
		{"/skydns/monitor/job/a1/" + id, "", "", false, false},
	} {
		agent, ip, got, err := p.ParseCheckJobKey(tc.key)
		if (err == nil) != tc.ok || tc.ok && (agent != tc.agent || ip != v4 || got != tc.id) {
			t.Errorf("ParseCheckJobKey(%q) = %q, %v, %q, %v", tc.key, agent, ip, got, err)
		}
		if _, _, err := p.ParseJobKey(tc.key); (err == nil) != tc.oldOK {
			t.Errorf("ParseJobKey(%q): %v", tc.key, err)
		}
	}
	for _, tc := range []struct {
		key, agent, id string
		ok, oldOK      bool
	}{
		{"/skydns/monitor/report/192.0.2.1/a1", "a1", DefaultCheck, true, true},
		{"/skydns/monitor/report/192.0.2.1/a1/" + id, "a1", id, true, false},
		{"/skydns/monitor/report/192.0.2.1/a1/nothex", "", "", false, false},
		{"/skydns/monitor/report/192.0.2.1/" + id, id, DefaultCheck, true, true}, // an agent may be named like a hash
	} {
		ip, agent, got, err := p.ParseCheckReportKey(tc.key)
		if (err == nil) != tc.ok || tc.ok && (agent != tc.agent || ip != v4 || got != tc.id) {
			t.Errorf("ParseCheckReportKey(%q) = %v, %q, %q, %v", tc.key, ip, agent, got, err)
		}
		if _, _, err := p.ParseReportKey(tc.key); (err == nil) != tc.oldOK {
			t.Errorf("ParseReportKey(%q): %v", tc.key, err)
		}
	}
	for _, tc := range []struct {
		key string
		id  string
		ok  bool
	}{
		{"/skydns/monitor/verdict/192.0.2.1/default", DefaultCheck, true},
		{"/skydns/monitor/verdict/192.0.2.1/" + id, id, true},
		{"/skydns/monitor/verdict/::ffff:192.0.2.1/" + id, id, true},
		{"/skydns/monitor/verdict/192.0.2.1", "", false},
		{"/skydns/monitor/verdict/192.0.2.1/nothex", "", false},
		{"/skydns/monitor/status/192.0.2.1", "", false},
	} {
		ip, got, err := p.ParseVerdictKey(tc.key)
		if (err == nil) != tc.ok || tc.ok && (ip != v4 || got != tc.id) {
			t.Errorf("ParseVerdictKey(%q) = %v, %q, %v", tc.key, ip, got, err)
		}
	}
}

func TestVerdictValue(t *testing.T) {
	spec := Spec{Ports: []int{3306}}.Encode()
	v := Verdict{Status: "DOWN", Reason: "tcp/3306: connection refused", Votes: "2/2 down", Check: spec}
	b, err := v.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"status":"DOWN"`) {
		t.Errorf("status is not first: %s", b)
	}
	got, err := DecodeVerdict(b)
	if err != nil || got.Status != "DOWN" || string(got.Check) != string(spec) {
		t.Errorf("DecodeVerdict(%s) = %+v, %v", b, got, err)
	}
	var back Spec
	if err := json.Unmarshal(got.Check, &back); err != nil || CheckID(back) != CheckIDOf(spec) {
		t.Errorf("the check in a verdict does not name its check-id: %s", got.Check)
	}
	for _, bad := range []string{`{"status":"MAYBE"}`, `{}`, `not json`} {
		if _, err := DecodeVerdict([]byte(bad)); err == nil {
			t.Errorf("DecodeVerdict(%s) accepted", bad)
		}
	}
	if _, err := (Verdict{Status: "UNKNOWN"}).Encode(); err == nil {
		t.Error("Encode accepted UNKNOWN")
	}
}
