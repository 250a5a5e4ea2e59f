package record

import (
	"fmt"
	"net/netip"
	"testing"
)

// Every spelling of an address a writer may use is an address to every
// reader: Decode, the loader's DecodeAddr and Record.IP agree, whatever
// the first character is (issue 15, item 1: hosts starting with a letter
// were taken for names and dropped).
func TestAddressForms(t *testing.T) {
	type form struct {
		host string
		want string // the served address; "" = refused as an address
		typ  Type   // what an untyped record infers
	}
	forms := []form{
		{"fd00::1", "fd00::1", TypeAAAA},
		{"FD00::1", "fd00::1", TypeAAAA},
		{"abcd::1", "abcd::1", TypeAAAA},
		{"fe80::1", "fe80::1", TypeAAAA},
		{"fc00::", "fc00::", TypeAAAA},
		{"::", "::", TypeAAAA},
		{"::1", "::1", TypeAAAA},
		{"2001:db8:0:0:0:0:0:1", "2001:db8::1", TypeAAAA},
		{"64:ff9b::192.0.2.1", "64:ff9b::c000:201", TypeAAAA}, // embedded IPv4
		{"::ffff:192.0.2.1", "192.0.2.1", TypeA},              // mapped: served as A
		{"::FFFF:c000:0201", "192.0.2.1", TypeA},
		{"192.0.2.1", "192.0.2.1", TypeA},
		{"fe80::1%eth0", "", ""}, // a zone means nothing to a remote resolver
		{"fd00::1%1", "", ""},
		{"abcd::1/64", "", ""},
		{"abcd:::1", "", ""},
		{"abcd", "", TypeCNAME}, // a name
		{"cafe.example.org", "", TypeCNAME},
	}
	// Every hex digit, in either case, as the first character.
	for _, c := range "0123456789abcdefABCDEF" {
		h := fmt.Sprintf("%c::1", c)
		forms = append(forms, form{h, netip.MustParseAddr(h).String(), TypeAAAA})
		h = fmt.Sprintf("%c123:db8::1", c)
		forms = append(forms, form{h, netip.MustParseAddr(h).String(), TypeAAAA})
	}
	for _, f := range forms {
		t.Run(f.host, func(t *testing.T) {
			untyped := []byte(fmt.Sprintf(`{"host":%q}`, f.host))
			r, err := Decode(untyped)
			a, fast := DecodeAddr(untyped)
			ip, perr := ParseIP(f.host)
			if f.want == "" {
				if fast || perr == nil || (err == nil && r.IP().IsValid()) {
					t.Fatalf("%s taken as an address: Decode %+v %v, DecodeAddr %v %v, ParseIP %v %v", f.host, r, err, a, fast, ip, perr)
				}
				if f.typ != "" && (err != nil || r.Type != f.typ) {
					t.Fatalf("Decode(%s) = %+v, %v; want type %s", untyped, r, err, f.typ)
				}
				return
			}
			want := netip.MustParseAddr(f.want)
			if err != nil || r.Type != f.typ || r.IP() != want || r.Host != f.want {
				t.Fatalf("Decode(%s) = %+v (IP %v), %v; want %s %s", untyped, r, r.IP(), err, f.typ, want)
			}
			if !fast || a.IP != want {
				t.Fatalf("DecodeAddr(%s) = %+v, %v; want %s", untyped, a, fast, want)
			}
			if perr != nil || ip != want {
				t.Fatalf("ParseIP(%s) = %v, %v", f.host, ip, perr)
			}
			typed := []byte(fmt.Sprintf(`{"type":%q,"host":%q}`, f.typ, f.host))
			if r, err := Decode(typed); err != nil || r.IP() != want {
				t.Fatalf("Decode(%s) = %+v, %v", typed, r, err)
			}
			if a, ok := DecodeAddr(typed); !ok || a.IP != want {
				t.Fatalf("DecodeAddr(%s) = %+v, %v", typed, a, ok)
			}
		})
	}
}
