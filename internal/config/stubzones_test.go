package config

import (
	"reflect"
	"testing"
)

func TestParseStubZones(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string][]string
	}{
		{"", map[string][]string{}},
		{"  ", map[string][]string{}},
		{"sub.zone@192.0.2.1:53", map[string][]string{"sub.zone.": {"192.0.2.1:53"}}},
		{"sub.zone.@192.0.2.1", map[string][]string{"sub.zone.": {"192.0.2.1:53"}}},
		{
			"Sub.Zone@192.0.2.1:5353,192.0.2.2:53%other@[2001:db8::1]:53,::1",
			map[string][]string{
				"sub.zone.": {"192.0.2.1:5353", "192.0.2.2:53"},
				"other.":    {"[2001:db8::1]:53", "[::1]:53"},
			},
		},
		{" a.b @ 192.0.2.1 , 192.0.2.2 % ", map[string][]string{"a.b.": {"192.0.2.1:53", "192.0.2.2:53"}}},
	} {
		got, err := ParseStubZones(tc.in)
		if err != nil {
			t.Errorf("ParseStubZones(%q): %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseStubZones(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestParseStubZonesErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"a.b", `stub zone entry "a.b": want zone@ip:port[,ip:port]`},
		{"@192.0.2.1", `stub zone entry "@192.0.2.1": bad domain "": the root zone cannot be served`},
		{"a..b@192.0.2.1", `stub zone entry "a..b@192.0.2.1": bad domain "a..b": empty label`},
		{"a b@192.0.2.1", `stub zone entry "a b@192.0.2.1": bad domain "a b": character ' '`},
		{"a.b@", "stub zone a.b.: no servers"},
		{"a.b@ , ", "stub zone a.b.: no servers"},
		{"a.b@ns1.example.com", `stub zone a.b.: bad server "ns1.example.com": want an IP address, optionally with :port`},
		{"a.b@192.0.2.1:0", `stub zone a.b.: bad server "192.0.2.1:0": port 0`},
		{"a.b@192.0.2.1:99999", `stub zone a.b.: bad server "192.0.2.1:99999": want an IP address, optionally with :port`},
		{"a.b@192.0.2.1%A.B.@192.0.2.2", "stub zone a.b. listed twice"},
	} {
		_, err := ParseStubZones(tc.in)
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParseStubZones(%q) error\n%v\nwant\n%s", tc.in, err, tc.want)
		}
	}
}
