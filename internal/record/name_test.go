package record

import (
	"net/netip"
	"strings"
	"testing"
)

func TestNormalizeName(t *testing.T) {
	label63 := strings.Repeat("a", 63)
	// 4 labels of 63 plus 3 dots is 255; trim to exactly 253.
	name253 := label63 + "." + label63 + "." + label63 + "." + strings.Repeat("b", 61)

	tests := []struct {
		in   string
		want string
	}{
		{".", "."},
		{"local", "local."},
		{"skydns.local", "skydns.local."},
		{"skydns.local.", "skydns.local."},
		{"CCTV2.SkyDNS.Local", "cctv2.skydns.local."},
		{"_http._tcp.skydns.local", "_http._tcp.skydns.local."},
		{"*.skydns.local", "*.skydns.local."},
		{"a-b.c_d.e", "a-b.c_d.e."},
		{"_a_.b", "_a_.b."},
		{"123.456", "123.456."},
		{"4af19cb2.x", "4af19cb2.x."},
		{label63 + ".x", label63 + ".x."},
		{name253, name253 + "."},
		{name253 + ".", name253 + "."},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeName(tt.in)
			if err != nil {
				t.Fatalf("NormalizeName(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("NormalizeName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeNameErrors(t *testing.T) {
	label64 := strings.Repeat("a", 64)
	name254 := strings.Repeat("a", 63) + "." + strings.Repeat("a", 63) + "." + strings.Repeat("a", 63) + "." + strings.Repeat("a", 62)

	tests := []struct {
		in   string
		want string // whole error message
	}{
		{"", `record: name "": empty name`},
		{"a..b", `record: name "a..b": empty label`},
		{"..", `record: name "..": empty label`},
		{".a", `record: name ".a": empty label`},
		{"a.b..", `record: name "a.b..": empty label`},
		{label64 + ".x", `record: name "` + label64 + `.x": label "` + label64 + `" longer than 63 octets`},
		{name254, `record: name "` + name254 + `": longer than 253 characters`},
		{"-a.b", `record: name "-a.b": label "-a" starts with a hyphen`},
		{"a-.b", `record: name "a-.b": label "a-" ends with a hyphen`},
		{"a b.c", `record: name "a b.c": label "a b" has invalid character " "`},
		{"a/b.c", `record: name "a/b.c": label "a/b" has invalid character "/"`},
		{`a\.b`, `record: name "a\\.b": label "a\\" has invalid character "\\"`},
		{"é.c", `record: name "é.c": label "é" has invalid character "\xc3"`},
		{"a.*.c", `record: name "a.*.c": wildcard * is only allowed as the leftmost label`},
		{"*a.c", `record: name "*a.c": label "*a" has invalid character "*"`},
		{"192.0.2.1%eth0", `record: name "192.0.2.1%eth0": label "1%eth0" has invalid character "%"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := NormalizeName(tt.in)
			if err == nil {
				t.Fatalf("NormalizeName(%q) = %q, want error", tt.in, got)
			}
			if err.Error() != tt.want {
				t.Errorf("NormalizeName(%q) error\n got %s\nwant %s", tt.in, err, tt.want)
			}
		})
	}
}

func TestNormalizeNameCanonicalDoesNotAllocate(t *testing.T) {
	n := testing.AllocsPerRun(100, func() {
		if _, err := NormalizeName("_http._tcp.cctv2.skydns.local."); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("NormalizeName of a canonical name allocates %v times", n)
	}
}

func TestParseIP(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: "192.0.2.1", want: "192.0.2.1"},
		{in: "2001:db8::1", want: "2001:db8::1"},
		{in: "2001:DB8:0::1", want: "2001:db8::1"},
		{in: "::ffff:192.0.2.1", want: "192.0.2.1"},
		{in: "::1", want: "::1"},
		{in: "", wantErr: `record: invalid IP address ""`},
		{in: "foo", wantErr: `record: invalid IP address "foo"`},
		{in: "192.0.2.256", wantErr: `record: invalid IP address "192.0.2.256"`},
		{in: "192.0.2.01", wantErr: `record: invalid IP address "192.0.2.01"`},
		{in: " 192.0.2.1", wantErr: `record: invalid IP address " 192.0.2.1"`},
		{in: "192.0.2.0/24", wantErr: `record: invalid IP address "192.0.2.0/24"`},
		{in: "fe80::1%eth0", wantErr: `record: IP address "fe80::1%eth0" has a zone`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseIP(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseIP(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				if got != (netip.Addr{}) {
					t.Errorf("ParseIP(%q) returned %v alongside an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseIP(%q): %v", tt.in, err)
			}
			if got != netip.MustParseAddr(tt.want) {
				t.Errorf("ParseIP(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestIsSubdomain(t *testing.T) {
	tests := []struct {
		name, zone string
		want       bool
	}{
		{"skydns.local.", "skydns.local.", true},
		{"a.skydns.local.", "skydns.local.", true},
		{"a.b.skydns.local.", "skydns.local.", true},
		{"xskydns.local.", "skydns.local.", false},
		{"skydns.local.", "a.skydns.local.", false},
		{"local.", "skydns.local.", false},
		{"skydns.localx.", "skydns.local.", false},
		{"anything.", ".", true},
		{".", ".", true},
		{".", "local.", false},
		{"_http._tcp.skydns.local.", "_tcp.skydns.local.", true},
	}
	for _, tt := range tests {
		t.Run(tt.name+" in "+tt.zone, func(t *testing.T) {
			if got := IsSubdomain(tt.name, tt.zone); got != tt.want {
				t.Errorf("IsSubdomain(%q, %q) = %v, want %v", tt.name, tt.zone, got, tt.want)
			}
		})
	}
}
