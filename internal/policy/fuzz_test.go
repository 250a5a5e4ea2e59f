package policy

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
)

// FuzzDecode checks that Decode never panics, and that what it accepts is
// safe to act on: every fallback is a host address that FallbackIPs
// returns, the lists are bounded, the HTTP check's host and path cannot
// break out of a request, and the policy survives a JSON round trip.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{}`,
		`{"mode":"hold-one","max-answers":2,"ttl":5,"unknown":true}`,
		`{"all-down":"fallback","fallback":["192.0.2.9","2001:db8::9","::ffff:192.0.2.1","fd00::1"]}`,
		`{"check":{"ports":[80,443],"icmp":false,"require":"all","http":{"scheme":"https","path":"/healthz","expect":204,"host":"a.example.org"}}}`,
		`{"fallback":["0.0.0.0","255.255.255.255","224.0.0.1","fe80::1%eth0"]}`,
		`{"check":{"http":{"path":"/x\r\nHost: evil"}}}`,
		`{"check":{"ports":[0,65536,-1]}}`,
		`{"mode":"sticky","all-down":"maybe"}`,
		`{"max-answers":-1,"ttl":4294967296}`,
		`{"check":{"http":{"scheme":"https","match":"ok","tls-verify":true,"min-cert-days":14}}}`,
		`{"check":{"http":{"tls-verify":true,"min-cert-days":-1,"match":"\xff"}}}`,
		`{"check":{"dns":{"port":53,"name":"health.example.","type":"A"},"grpc":{"port":9090,"service":""}}}`,
		`{"check":{"dns":{"name":"no-dot","type":"AXFR"},"grpc":{"port":0}}}`,
		`null`, `[]`, `{"check":null}`, `{"mode":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(b)
		if err != nil {
			return
		}
		if len(p.Fallback) > MaxFallback {
			t.Fatalf("%d fallbacks accepted", len(p.Fallback))
		}
		ips := p.FallbackIPs()
		if len(ips) != len(p.Fallback) {
			t.Fatalf("fallback %q: FallbackIPs %v", p.Fallback, ips)
		}
		for _, ip := range ips {
			if !ip.IsValid() || ip.Zone() != "" || ip.IsUnspecified() || ip.IsMulticast() || ip.Is4In6() ||
				ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
				t.Fatalf("fallback %v accepted", ip)
			}
		}
		if c := p.Check; c != nil {
			if len(c.Ports) > MaxCheckPorts {
				t.Fatalf("%d check ports accepted", len(c.Ports))
			}
			if h := c.HTTP; h != nil {
				for _, s := range []string{h.Host, h.Path} {
					if strings.ContainsAny(s, "\r\n\x00 ") {
						t.Fatalf("http check text %q accepted", s)
					}
				}
				if len(h.Match) > MaxMatchBody || (h.Scheme != "https" && (h.TLSVerify || h.MinCertDays != 0)) {
					t.Fatalf("http check %+v accepted", *h)
				}
			}
			if d := c.DNS; d != nil {
				if _, ok := DNSType(d.Type); !ok || !strings.HasSuffix(d.Name, ".") {
					t.Fatalf("dns check %+v accepted", *d)
				}
			}
			if g := c.GRPC; g != nil && (g.Port < 1 || g.Port > 65535) {
				t.Fatalf("grpc check %+v accepted", *g)
			}
		}
		again, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Decode(again); err != nil {
			t.Fatalf("Decode(%s) of an accepted policy: %v", again, err)
		}
	})
}
