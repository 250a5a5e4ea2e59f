package record

import (
	"strings"
	"testing"
)

func mustDecode(t testing.TB, value string) Record {
	t.Helper()
	r, err := Decode([]byte(value))
	if err != nil {
		t.Fatalf("Decode(%s): %v", value, err)
	}
	return r
}

// TestParseKeyContract holds the examples of the key→name contract in
// docs/data-model.md. Changing any of them breaks data already in etcd.
func TestParseKeyContract(t *testing.T) {
	const (
		a     = `{"host":"192.0.2.1"}`
		cname = `{"type":"CNAME","host":"cctv2.skydns.local"}`
	)
	tests := []struct {
		name     string
		key      string
		value    string // "" means the zero Record
		wantName string
		wantID   string
	}{
		{"SkyDNS id", "/skydns/local/skydns/cctv2/4af19cb2", a, "cctv2.skydns.local.", "4af19cb2"},
		{"original API, trailing slash", "/skydns/local/skydns/cctv2/4af19cb2/", a, "cctv2.skydns.local.", "4af19cb2"},
		{"original API, unpadded FNV", "/skydns/local/skydns/cctv2/af19cb2/", a, "cctv2.skydns.local.", "af19cb2"},
		{"original API CNAME at own path", "/skydns/local/skydns/tv1/", cname, "tv1.skydns.local.", ""},
		{"original API hex-looking CNAME", "/skydns/local/skydns/cafe/", cname, "cafe.skydns.local.", ""},
		{"original kubeapi", "/skydns/local/skydns/svc/default/nginx/0a1b2c3d/", a, "nginx.default.svc.skydns.local.", "0a1b2c3d"},
		{"ExternalDNS targetstrip", "/skydns/local/skydns/web/1f2e3d4c", `{"host":"192.0.2.7","targetstrip":1}`, "web.skydns.local.", "1f2e3d4c"},
		{"ExternalDNS without targetstrip", "/skydns/local/skydns/web/1f2e3d4c", `{"host":"web.example.org"}`, "web.skydns.local.", "1f2e3d4c"},
		{"CoreDNS user, own path", "/skydns/local/skydns/x", a, "x.skydns.local.", ""},
		{"CoreDNS user, short leaf is a label", "/skydns/local/skydns/x/1", "", "1.x.skydns.local.", ""},

		// Consequences of the rule worth pinning down.
		{"original API, single hex segment is a name", "/skydns/cafe/", a, "cafe.", ""},
		{"original API, 9 hex is a label", "/skydns/local/skydns/x/0123456789/", a, "0123456789.x.skydns.local.", ""},
		{"original API, untyped CNAME at own path", "/skydns/local/skydns/beef/", `{"host":"x.example"}`, "beef.skydns.local.", ""},
		{"original API, MX with hex id", "/skydns/local/skydns/beef/", `{"host":"mx.example","mail":true}`, "skydns.local.", "beef"},
		{"no slash, 7 hex is a label", "/skydns/local/skydns/af19cb2", a, "af19cb2.skydns.local.", ""},
		{"no slash, 8 hex alone is a name", "/skydns/4af19cb2", a, "4af19cb2.", ""},
		{"no slash, CNAME with id", "/skydns/local/skydns/tv1/4af19cb2", cname, "tv1.skydns.local.", "4af19cb2"},
		{"upper-case segments folded", "/skydns/Local/SkyDNS/WWW/4AF19CB2", a, "www.skydns.local.", "4af19cb2"},
		{"targetstrip 2", "/skydns/local/skydns/web/a/b", `{"host":"192.0.2.7","targetstrip":2}`, "web.skydns.local.", "a/b"},
		{"targetstrip opaque leaf", "/skydns/local/skydns/web/Leaf-1", `{"host":"192.0.2.7","targetstrip":1}`, "web.skydns.local.", "leaf-1"},
		{"targetstrip wins over slash", "/skydns/local/skydns/web/x/", `{"host":"192.0.2.7","targetstrip":1}`, "web.skydns.local.", "x"},
		{"wildcard", "/skydns/local/skydns/*", a, "*.skydns.local.", ""},
		{"SRV labels", "/skydns/local/skydns/_tcp/_http/0a1b2c3d", `{"type":"SRV","host":"web.skydns.local","port":80}`, "_http._tcp.skydns.local.", "0a1b2c3d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			if tt.value != "" {
				r = mustDecode(t, tt.value)
			}
			name, id, err := ParseKey("/skydns", tt.key, r)
			if err != nil {
				t.Fatalf("ParseKey(%q): %v", tt.key, err)
			}
			if name != tt.wantName || id != tt.wantID {
				t.Errorf("ParseKey(%q) = %q, %q; want %q, %q", tt.key, name, id, tt.wantName, tt.wantID)
			}
		})
	}
}

func TestParseKeyErrors(t *testing.T) {
	tests := []struct {
		name  string
		key   string
		value string
		want  string
	}{
		{"wrong prefix case", "/SKYDNS/local/skydns/x", "", "not under prefix"},
		{"prefix only", "/skydns", "", "not under prefix"},
		{"prefix and slash", "/skydns/", "", "no name after the prefix"},
		{"prefix and two slashes", "/skydns//", "", "no name after the prefix"},
		{"sibling prefix", "/skydnsx/local", "", "not under prefix"},
		{"empty segment", "/skydns/local//x", "", "empty segment"},
		{"leading empty segment", "/skydns//local/x", "", "empty segment"},
		{"two trailing slashes", "/skydns/local/x//", "", "empty segment"},
		{"targetstrip eats everything", "/skydns/local/x", `{"host":"192.0.2.1","targetstrip":2}`, "targetstrip 2 leaves no name"},
		{"targetstrip equals segments", "/skydns/x", `{"host":"192.0.2.1","targetstrip":1}`, "targetstrip 1 leaves no name"},
		{"bad label", "/skydns/local/-x", "", `label "-x" starts with a hyphen`},
		{"dot in segment", "/skydns/local/a.b", "", "contains a dot"},
		{"inner wildcard", "/skydns/local/*/x", "", "wildcard"},
		{"space", "/skydns/local/a b", "", "invalid character"},
		{"too long", "/skydns/" + strings.Repeat("a/", 127) + "a", "", "longer than 253"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			if tt.value != "" {
				r = mustDecode(t, tt.value)
			}
			name, id, err := ParseKey("/skydns", tt.key, r)
			if err == nil {
				t.Fatalf("ParseKey(%q) = %q, %q; want error containing %q", tt.key, name, id, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseKey(%q) error %q, want it to contain %q", tt.key, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "record: key ") {
				t.Errorf("ParseKey(%q) error %q does not name the key", tt.key, err)
			}
		})
	}
}

func TestParseKeyPrefixForms(t *testing.T) {
	for _, prefix := range []string{"/skydns", "/skydns/", "/skydns//"} {
		name, id, err := ParseKey(prefix, "/skydns/local/skydns/x/4af19cb2", Record{Type: TypeA, Host: "192.0.2.1"})
		if err != nil || name != "x.skydns.local." || id != "4af19cb2" {
			t.Errorf("prefix %q: got %q, %q, %v", prefix, name, id, err)
		}
	}
	for _, prefix := range []string{"", "/"} {
		name, _, err := ParseKey(prefix, "/local/skydns/x", Record{Type: TypeA, Host: "192.0.2.1"})
		if err != nil || name != "x.skydns.local." {
			t.Errorf("prefix %q: got %q, %v", prefix, name, err)
		}
	}
	name, _, err := ParseKey("/dns/prod", "/dns/prod/local/x", Record{Type: TypeA, Host: "192.0.2.1"})
	if err != nil || name != "x.local." {
		t.Errorf("nested prefix: got %q, %v", name, err)
	}
}

func TestParseKeyRoundTrip(t *testing.T) {
	records := []string{
		`{"host":"192.0.2.1"}`,
		`{"host":"2001:db8::1"}`,
		`{"type":"CNAME","host":"target.example.org"}`,
		`{"type":"SRV","host":"target.example.org","port":443,"priority":10,"weight":5}`,
		`{"type":"NS","host":"ns1.skydns.local"}`,
		`{"host":"mx.example.org","mail":true,"priority":10}`,
		`{"text":"v=spf1 -all"}`,
		`{"host":"192.0.2.7","targetstrip":1}`,
	}
	names := []string{
		"cctv2.skydns.local.",
		"skydns.local.",
		"local.",
		"*.skydns.local.",
		"_http._tcp.skydns.local.",
		"nginx.default.svc.skydns.local.",
		"cafe.skydns.local.",
		"4af19cb2.skydns.local.",
	}
	for _, prefix := range []string{"/skydns", "/skydns/", "/custom/prefix"} {
		for _, value := range records {
			r := mustDecode(t, value)
			for _, n := range names {
				t.Run(prefix+" "+n+" "+value, func(t *testing.T) {
					id := ID(r)
					key := Key(prefix, n, id)
					name, gotID, err := ParseKey(prefix, key, r)
					if err != nil {
						t.Fatalf("ParseKey(%q): %v", key, err)
					}
					if name != n || gotID != id {
						t.Errorf("ParseKey(Key(%q, %q, %q)) = %q, %q", prefix, n, id, name, gotID)
					}
				})
			}
		}
	}
}

func TestNamePath(t *testing.T) {
	tests := []struct {
		prefix, name, want string
	}{
		{"/skydns", "cctv2.skydns.local.", "/skydns/local/skydns/cctv2"},
		{"/skydns/", "cctv2.skydns.local", "/skydns/local/skydns/cctv2"},
		{"/skydns", "CCTV2.SkyDNS.Local.", "/skydns/local/skydns/cctv2"},
		{"/skydns", "local.", "/skydns/local"},
		{"/skydns", ".", "/skydns"},
		{"/skydns", "", "/skydns"},
		{"/skydns", "*.x.", "/skydns/x/*"},
		{"", "a.b.", "/b/a"},
		{"/", "a.b.", "/b/a"},
	}
	for _, tt := range tests {
		t.Run(tt.prefix+" "+tt.name, func(t *testing.T) {
			if got := NamePath(tt.prefix, tt.name); got != tt.want {
				t.Errorf("NamePath(%q, %q) = %q, want %q", tt.prefix, tt.name, got, tt.want)
			}
		})
	}
}

func TestKey(t *testing.T) {
	tests := []struct {
		prefix, name, id, want string
	}{
		{"/skydns", "cctv2.skydns.local.", "4af19cb2", "/skydns/local/skydns/cctv2/4af19cb2"},
		{"/skydns/", "cctv2.skydns.local", "4af19cb2", "/skydns/local/skydns/cctv2/4af19cb2"},
		{"/skydns", "cctv2.skydns.local.", "", "/skydns/local/skydns/cctv2"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := Key(tt.prefix, tt.name, tt.id); got != tt.want {
				t.Errorf("Key(%q, %q, %q) = %q, want %q", tt.prefix, tt.name, tt.id, got, tt.want)
			}
		})
	}
}

func TestPrefixOf(t *testing.T) {
	tests := []struct {
		prefix, zone, want string
	}{
		{"/skydns", "skydns.local.", "/skydns/local/skydns/"},
		{"/skydns/", "skydns.local", "/skydns/local/skydns/"},
		{"/skydns", ".", "/skydns/"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got := PrefixOf(tt.prefix, tt.zone)
			if got != tt.want {
				t.Fatalf("PrefixOf(%q, %q) = %q, want %q", tt.prefix, tt.zone, got, tt.want)
			}
			// A sibling zone sharing the textual suffix must fall outside.
			if strings.HasPrefix(NamePath(tt.prefix, "x.xskydns.local."), got) && tt.zone != "." {
				t.Errorf("PrefixOf(%q, %q) = %q covers a sibling zone", tt.prefix, tt.zone, got)
			}
		})
	}
}

func TestParseKeyAllocs(t *testing.T) {
	r := Record{Type: TypeA, Host: "192.0.2.1"}
	n := testing.AllocsPerRun(100, func() {
		if _, _, err := ParseKey("/skydns", "/skydns/local/skydns/svc/default/nginx/0a1b2c3d", r); err != nil {
			t.Fatal(err)
		}
	})
	if n > 1 {
		t.Errorf("ParseKey allocates %v times, want at most 1 (the name)", n)
	}
}
