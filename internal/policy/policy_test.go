package policy

import (
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		in  string
		err string // substring; "" = valid
	}{
		{`{}`, ""},
		{`{"mode":"hold-one","max-answers":2,"ttl":5,"unknown":true}`, ""},
		{`{"all-down":"fallback","fallback":["192.0.2.9","2001:db8::9"]}`, ""},
		{`{"check":{"ports":[80,443],"icmp":false,"require":"all","http":{"scheme":"https","path":"/healthz","expect":204}}}`, ""},
		{`{"mode":"sticky"}`, `mode "sticky"`},
		{`{"max-answers":-1}`, "max-answers"},
		{`{"all-down":"fallback"}`, "needs fallback IPs"},
		{`{"all-down":"fallback","fallback":["x"]}`, `fallback "x"`},
		{`{"all-down":"maybe"}`, `all-down "maybe"`},
		{`{"check":{"ports":[0]}}`, "port 0"},
		{`{"check":{"require":"most"}}`, `require "most"`},
		{`{"check":{"http":{"scheme":"ftp"}}}`, `scheme "ftp"`},
		{`{"check":{"http":{"expect":42}}}`, "expect 42"},
		{`{"mode":`, "policy:"},
		// Hostile input (issue 15, item 11): what is served or probed
		// follows the rules of a record's address and of an HTTP request.
		{`{"all-down":"fallback","fallback":["::ffff:192.0.2.9","fd00::1"]}`, ""},
		{`{"fallback":["0.0.0.0"]}`, "unspecified"},
		{`{"fallback":["::"]}`, "unspecified"},
		{`{"fallback":["255.255.255.255"]}`, "broadcast"},
		{`{"fallback":["224.0.0.1"]}`, "multicast"},
		{`{"fallback":["ff02::1"]}`, "multicast"},
		{`{"fallback":["fe80::1%eth0"]}`, "has a zone"},
		{`{"fallback":["192.0.2.1/32"]}`, "invalid IP"},
		{`{"fallback":[` + strings.Repeat(`"192.0.2.1",`, MaxFallback) + `"192.0.2.1"]}`, "at most 64"},
		{`{"check":{"http":{"host":"a.example.org","path":"/health?x=1&y=%20"}}}`, ""},
		{`{"check":{"http":{"host":"a\r\nX-Evil: 1"}}}`, "control character"},
		{`{"check":{"http":{"path":"/x\r\nHost: evil"}}}`, "control character"},
		{`{"check":{"http":{"path":"/x\n"}}}`, "control character"},
		{`{"check":{"http":{"path":"/x\u0000"}}}`, "control character"},
		{`{"check":{"http":{"path":"/x\u007f"}}}`, "control character"},
		{`{"check":{"http":{"path":"/x\u0085"}}}`, "control character"},
		{`{"check":{"http":{"path":"/a b"}}}`, "control character or space"},
		{`{"check":{"http":{"host":"a b"}}}`, "control character or space"},
		{`{"check":{"http":{"host":"` + strings.Repeat("a", 254) + `"}}}`, "longer than 253"},
		{`{"check":{"http":{"path":"/` + strings.Repeat("a", 1024) + `"}}}`, "longer than 1024"},
		{`{"check":{"ports":[` + strings.Repeat("80,", MaxCheckPorts-1) + `80]}}`, ""},
		{`{"check":{"ports":[` + strings.Repeat("80,", MaxCheckPorts) + `80]}}`, "65 check ports: at most 64"},
		{`{"topology":"local","min-healthy":2}`, ""},
		{`{"topology":"any"}`, ""},
		{`{"topology":"nearest"}`, `topology "nearest"`},
		{`{"min-healthy":-1}`, "min-healthy -1"},
		// Checks that see what users see (issue 12, section 2).
		{`{"check":{"http":{"path":"/","match":"ok"}}}`, ""},
		{`{"check":{"http":{"match":"` + strings.Repeat("a", 1025) + `"}}}`, "match"},
		{`{"check":{"http":{"scheme":"https","tls-verify":true,"min-cert-days":14}}}`, ""},
		{`{"check":{"http":{"scheme":"https","min-cert-days":30}}}`, ""},
		{`{"check":{"http":{"tls-verify":true}}}`, "need scheme https"},
		{`{"check":{"http":{"scheme":"http","min-cert-days":3}}}`, "need scheme https"},
		{`{"check":{"http":{"scheme":"https","min-cert-days":-1}}}`, "min-cert-days -1"},
		{`{"check":{"http":{"scheme":"https","min-cert-days":4000}}}`, "min-cert-days 4000"},
		{`{"check":{"dns":{"port":53,"name":"health.example.","type":"A"}}}`, ""},
		{`{"check":{"dns":{"name":"health.example.","type":"aaaa"}}}`, ""},
		{`{"check":{"dns":{"name":"health.example."}}}`, ""},
		{`{"check":{"dns":{"name":"health.example","type":"A"}}}`, "fully qualified"},
		{`{"check":{"dns":{"type":"A"}}}`, "fully qualified"},
		{`{"check":{"dns":{"name":"a..b.","type":"A"}}}`, "fully qualified"},
		{`{"check":{"dns":{"name":"health.example.","type":"BOGUS"}}}`, `type "BOGUS"`},
		{`{"check":{"dns":{"name":"health.example.","type":"AXFR"}}}`, `type "AXFR"`},
		{`{"check":{"dns":{"port":70000,"name":"health.example."}}}`, "dns port 70000"},
		{`{"check":{"grpc":{"port":9090,"service":""}}}`, ""},
		{`{"check":{"grpc":{"port":9090,"service":"pkg.Svc"}}}`, ""},
		{`{"check":{"grpc":{"service":"x"}}}`, "grpc port 0"},
		{`{"check":{"grpc":{"port":65536}}}`, "grpc port 65536"},
		{`{"check":{"grpc":{"port":9090,"service":"` + strings.Repeat("s", 1025) + `"}}}`, "grpc service"},
	} {
		_, err := Decode([]byte(tc.in))
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("Decode(%s) = %v, want valid", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("Decode(%s) = %v, want an error with %q", tc.in, err, tc.err)
		}
	}
}

func TestKeys(t *testing.T) {
	k := Key("/skydns", "CCTV2.skydns.local.")
	if k != "/skydns/policy/cctv2.skydns.local" {
		t.Fatalf("Key = %s", k)
	}
	for _, key := range []string{k, k + ".", k + "/"} {
		if n, err := ParseKey("/skydns/", key); err != nil || n != "cctv2.skydns.local." {
			t.Errorf("ParseKey(%s) = %q, %v", key, n, err)
		}
	}
	for _, bad := range []string{"/skydns/policy/", "/skydns/policy/a/b", "/skydns/other/x"} {
		if _, err := ParseKey("/skydns", bad); err == nil {
			t.Errorf("ParseKey(%s) accepted", bad)
		}
	}
}
