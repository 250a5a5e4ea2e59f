package health

import (
	"net/netip"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want State
		err  bool
	}{
		{`{"status":"UP"}`, Up, false},
		{`{"status":"DOWN","since":"2026-01-02T03:04:05Z","reason":"tcp/80: refused","extra":1}`, Down, false},
		{`{"status":"up"}`, Up, false},
		// The original kubeapi's value: ports as strings.
		{`{"status":"DOWN","ports":["80","443"]}`, Down, false},
		{`{"status":"UP","ports":[80,443]}`, Up, false},
		// A field that does not parse costs that field, not the status.
		{`{"status":"UP","ports":["http"]}`, Up, false},
		{`{"status":"DOWN","ports":[70000],"since":5}`, Down, false},
		{`{"status":7}`, Unknown, true},
		{`{"status":"MAYBE"}`, Unknown, true},
		{`{}`, Unknown, true},
		{`not json`, Unknown, true},
	} {
		s, err := Decode([]byte(tc.in))
		if (err != nil) != tc.err {
			t.Errorf("Decode(%s) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err == nil {
			if st, _ := s.State(); st != tc.want {
				t.Errorf("Decode(%s) = %v, want %v", tc.in, st, tc.want)
			}
		}
	}
}

func TestEncodeStartsWithStatus(t *testing.T) {
	b, err := Encode(Status{Status: "UP", Reason: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); !strings.HasPrefix(got, `{"status":"UP"`) {
		t.Fatalf("Encode = %s: status must come first for etcdctl readers", got)
	}
	if _, err := Encode(Status{Status: "?"}); err == nil {
		t.Fatal("Encode accepted a bad status")
	}
}

func TestKeys(t *testing.T) {
	for _, path := range []string{"/skydns/monitor/status/", "/skydns/monitor/status"} {
		ip := netip.MustParseAddr("2001:db8::1")
		k := Key(path, ip)
		if k != "/skydns/monitor/status/2001:db8::1" {
			t.Fatalf("Key = %s", k)
		}
		got, err := ParseKey(path, k)
		if err != nil || got != ip {
			t.Fatalf("ParseKey(%s) = %v, %v", k, got, err)
		}
	}
	for _, bad := range []string{"/skydns/monitor/status/", "/skydns/monitor/status/nope", "/other/192.0.2.1"} {
		if _, err := ParseKey("/skydns/monitor/status/", bad); err == nil {
			t.Errorf("ParseKey(%s) accepted", bad)
		}
	}
}

func TestPortsAsStrings(t *testing.T) {
	s, err := Decode([]byte(`{"status":"DOWN","ports":["80"," 443"]}`))
	if err != nil || len(s.Ports) != 2 || s.Ports[0] != 80 || s.Ports[1] != 443 {
		t.Fatalf("Decode = %+v, %v; want ports [80 443]", s, err)
	}
	b, _ := Encode(s)
	if !strings.Contains(string(b), `"ports":[80,443]`) {
		t.Fatalf("Encode = %s, want numeric ports", b)
	}
}

func TestDecodeStateAgreesWithDecode(t *testing.T) {
	for _, in := range []string{`{"status":"UP"}`, `{"status":"down","since":"2026-01-02T03:04:05Z","ports":["80"]}`,
		`{"status":"UP","ports":["http"]}`, `{"status":"MAYBE"}`, `{}`, `not json`, `{"status":7}`} {
		s, err := Decode([]byte(in))
		want, _ := s.State()
		got, gerr := DecodeState([]byte(in))
		if got != want || (gerr != nil) != (err != nil) {
			t.Errorf("%s: DecodeState = %v, %v; Decode says %v, %v", in, got, gerr, want, err)
		}
	}
}
