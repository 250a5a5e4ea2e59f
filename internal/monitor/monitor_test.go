package monitor

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/skydns/skydns/internal/config"
)

func TestKeys(t *testing.T) {
	p := PathsFrom(config.MonitorPaths{
		StatusPath: "/skydns/monitor/status", ReportPath: "/skydns/monitor/report/",
		HeartPath: "/skydns/monitor/agent//", JobPath: "/skydns/monitor/job/",
	})
	if p != DefaultPaths() {
		t.Fatalf("PathsFrom did not normalize: %+v", p)
	}
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	for _, tc := range []struct {
		got, want string
	}{
		{p.AgentKey("a1"), "/skydns/monitor/agent/a1"},
		{p.JobKey("a1", v4), "/skydns/monitor/job/a1/192.0.2.1"},
		{p.JobKey("a1", v6), "/skydns/monitor/job/a1/2001:db8::1"},
		{p.JobPrefix("a1"), "/skydns/monitor/job/a1/"},
		{p.ReportKey(v4, "a1"), "/skydns/monitor/report/192.0.2.1/a1"},
		{p.StatusKey(v6), "/skydns/monitor/status/2001:db8::1"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}

func TestParseKeys(t *testing.T) {
	p := DefaultPaths()
	v4 := netip.MustParseAddr("192.0.2.1")
	for _, tc := range []struct {
		key   string
		agent string
		ip    netip.Addr
		ok    bool
	}{
		{"/skydns/monitor/job/a1/192.0.2.1", "a1", v4, true},
		{"/skydns/monitor/job/a1/192.0.2.1/", "a1", v4, true},
		{"/skydns/monitor/job/a1/::ffff:192.0.2.1", "a1", v4, true}, // one IP, one key
		{"/skydns/monitor/job/a1/", "", netip.Addr{}, false},
		{"/skydns/monitor/job/a1/not-an-ip", "", netip.Addr{}, false},
		{"/skydns/monitor/job/a1/fe80::1%eth0", "", netip.Addr{}, false},
		{"/skydns/monitor/job//192.0.2.1", "", netip.Addr{}, false},
		{"/skydns/monitor/other/a1/192.0.2.1", "", netip.Addr{}, false},
	} {
		agent, ip, err := p.ParseJobKey(tc.key)
		if (err == nil) != tc.ok || tc.ok && (agent != tc.agent || ip != tc.ip) {
			t.Errorf("ParseJobKey(%q) = %q, %v, %v", tc.key, agent, ip, err)
		}
	}
	for _, tc := range []struct {
		key   string
		ip    netip.Addr
		agent string
		ok    bool
	}{
		{"/skydns/monitor/report/192.0.2.1/a1", v4, "a1", true},
		{"/skydns/monitor/report/192.0.2.1/a1/", v4, "a1", true},
		{"/skydns/monitor/report/192.0.2.1", netip.Addr{}, "", false},
		{"/skydns/monitor/report/192.0.2.1/a/b", netip.Addr{}, "", false},
		{"/skydns/monitor/report/x/a1", netip.Addr{}, "", false},
	} {
		ip, agent, err := p.ParseReportKey(tc.key)
		if (err == nil) != tc.ok || tc.ok && (agent != tc.agent || ip != tc.ip) {
			t.Errorf("ParseReportKey(%q) = %v, %q, %v", tc.key, ip, agent, err)
		}
	}
	for key, want := range map[string]string{
		"/skydns/monitor/agent/host-1.example": "host-1.example",
		"/skydns/monitor/agent/host-1/":        "host-1",
		"/skydns/monitor/agent/":               "",
		"/skydns/monitor/agent/a/b":            "",
	} {
		got, err := p.ParseAgentKey(key)
		if (err == nil) != (want != "") || got != want {
			t.Errorf("ParseAgentKey(%q) = %q, %v; want %q", key, got, err, want)
		}
	}
}

func TestOverrideKeys(t *testing.T) {
	v4, v6 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	for _, path := range []string{"/skydns/monitor/override/", "/skydns/monitor/override"} {
		if got := OverrideKey(path, v4); got != "/skydns/monitor/override/192.0.2.1" {
			t.Errorf("OverrideKey(%s) = %s", path, got)
		}
	}
	if got := OverrideDir(""); got != DefaultOverridePath {
		t.Errorf("OverrideDir(\"\") = %s", got)
	}
	if got := OverrideDir("/x/override"); got != "/x/override/" {
		t.Errorf("OverrideDir = %s", got)
	}
	for key, want := range map[string]netip.Addr{
		"/skydns/monitor/override/192.0.2.1":        v4,
		"/skydns/monitor/override/192.0.2.1/":       v4,
		"/skydns/monitor/override/::ffff:192.0.2.1": v4,
		"/skydns/monitor/override/2001:db8::1":      v6,
		"/skydns/monitor/override/":                 {},
		"/skydns/monitor/override/nope":             {},
		"/skydns/monitor/override/fe80::1%eth0":     {},
		"/skydns/monitor/override/192.0.2.1/extra":  {},
		"/skydns/monitor/status/192.0.2.1":          {},
		"/skydns/monitor/overrides-old/192.0.2.1":   {},
	} {
		got, err := ParseOverrideKey("/skydns/monitor/override/", key)
		if (err == nil) != want.IsValid() || got != want {
			t.Errorf("ParseOverrideKey(%q) = %v, %v; want %v", key, got, err, want)
		}
	}
}

func TestCheckAgentName(t *testing.T) {
	for name, ok := range map[string]bool{
		"node-1": true, "node-1.dc.example": true, "": false, "a/b": false, "a b": false,
		"a\x00": false, strings.Repeat("x", 254): false,
	} {
		if err := CheckAgentName(name); (err == nil) != ok {
			t.Errorf("CheckAgentName(%q) = %v", name, err)
		}
	}
}

func TestSpecRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{`{}`, `{}`, true},
		{`{"ports":[443,80,443]}`, `{"ports":[80,443]}`, true},
		{`{"icmp":false,"require":"any","future":1}`, `{"icmp":false}`, true},
		{`{"http":{"scheme":"https","path":"/h","expect":204},"require":"all"}`, `{"http":{"scheme":"https","path":"/h","expect":204},"require":"all"}`, true},
		{`{"http":{"scheme":"https","match":"ok","tls-verify":true,"min-cert-days":7},"dns":{"port":5353,"name":"h.example.","type":"AAAA"},"grpc":{"port":9090,"service":"s"}}`,
			`{"http":{"scheme":"https","match":"ok","tls-verify":true,"min-cert-days":7},"dns":{"port":5353,"name":"h.example.","type":"AAAA"},"grpc":{"port":9090,"service":"s"}}`, true},
		{`{"dns":{"name":"h.example.","type":"NOPE"}}`, ``, false},
		{`{"grpc":{"port":0}}`, ``, false},
		{`{"ports":[0]}`, ``, false},
		{`{"require":"most"}`, ``, false},
		{`{"http":{"scheme":"ftp"}}`, ``, false},
		{`[]`, ``, false},
	} {
		s, err := DecodeSpec([]byte(tc.in))
		if (err == nil) != tc.ok {
			t.Errorf("DecodeSpec(%s): %v", tc.in, err)
			continue
		}
		if tc.ok {
			if got := string(s.Encode()); got != tc.want {
				t.Errorf("DecodeSpec(%s).Encode() = %s, want %s", tc.in, got, tc.want)
			}
		}
	}
}

func TestHeartbeat(t *testing.T) {
	h := DecodeHeartbeat(Heartbeat{Idle: true, TTL: 15, Version: "v1"}.Encode())
	if !h.Idle || h.TTL != 15 || h.Version != "v1" {
		t.Errorf("round trip: %+v", h)
	}
	// An older agent's value (a timestamp) is an agent that probes.
	if h := DecodeHeartbeat([]byte("2016-01-02 15:04:05")); h.Idle {
		t.Errorf("unreadable heartbeat made the agent idle")
	}
}
