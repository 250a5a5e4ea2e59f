package record

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  Record
	}{
		// Inference.
		{"infer A", `{"host":"192.0.2.1"}`, Record{Host: "192.0.2.1", Type: TypeA}},
		{"infer AAAA", `{"host":"2001:db8::1"}`, Record{Host: "2001:db8::1", Type: TypeAAAA}},
		{"infer A from 4in6", `{"host":"::ffff:192.0.2.1"}`, Record{Host: "192.0.2.1", Type: TypeA}},
		{"infer AAAA canonical", `{"host":"2001:DB8:0:0::1"}`, Record{Host: "2001:db8::1", Type: TypeAAAA}},
		{"infer CNAME", `{"host":"cctv2.skydns.local"}`, Record{Host: "cctv2.skydns.local.", Type: TypeCNAME}},
		{"infer CNAME upper", `{"host":"WEB.Example.ORG."}`, Record{Host: "web.example.org.", Type: TypeCNAME}},
		{"infer MX", `{"host":"mx.example.org","mail":true,"priority":10}`,
			Record{Host: "mx.example.org.", Mail: true, Priority: 10, Type: TypeMX}},
		{"mail with IP stays A", `{"host":"192.0.2.1","mail":true}`, Record{Host: "192.0.2.1", Mail: true, Type: TypeA}},
		{"infer TXT", `{"text":"hello"}`, Record{Text: "hello", Type: TypeTXT}},
		{"host wins over text", `{"host":"192.0.2.1","text":"t"}`, Record{Host: "192.0.2.1", Text: "t", Type: TypeA}},
		{"SRV-like stays CNAME", `{"host":"srv.example.org","port":8080,"priority":10,"weight":5}`,
			Record{Host: "srv.example.org.", Port: 8080, Priority: 10, Weight: 5, Type: TypeCNAME}},

		// Explicit types.
		{"explicit A", `{"type":"A","host":"192.0.2.1"}`, Record{Host: "192.0.2.1", Type: TypeA}},
		{"explicit a lower", `{"type":"a","host":"192.0.2.1"}`, Record{Host: "192.0.2.1", Type: TypeA}},
		{"explicit AAAA", `{"type":"aaaa","host":"2001:db8::2"}`, Record{Host: "2001:db8::2", Type: TypeAAAA}},
		{"explicit CNAME", `{"type":"CNAME","host":"cctv2.skydns.local"}`,
			Record{Host: "cctv2.skydns.local.", Type: TypeCNAME}},
		{"explicit SRV", `{"type":"Srv","host":"_http._tcp.example.org","port":80}`,
			Record{Host: "_http._tcp.example.org.", Port: 80, Type: TypeSRV}},
		{"original API's SRV: an address with a port", `{"type":"SRV","host":"192.0.2.20","port":5060,"priority":10}`,
			Record{Host: "192.0.2.20", Port: 5060, Priority: 10, Type: TypeA}},
		{"original API's SRV over IPv6", `{"type":"SRV","host":"2001:DB8::20","port":5060}`,
			Record{Host: "2001:db8::20", Port: 5060, Type: TypeAAAA}},
		{"explicit SRV root target", `{"type":"SRV","host":"."}`, Record{Host: ".", Type: TypeSRV}},
		{"explicit NS", `{"type":"NS","host":"ns1.skydns.local."}`, Record{Host: "ns1.skydns.local.", Type: TypeNS}},
		{"explicit MX without mail", `{"type":"MX","host":"mx.example.org","priority":5}`,
			Record{Host: "mx.example.org.", Priority: 5, Type: TypeMX}},
		{"explicit TXT", `{"type":"txt","text":"v=spf1 -all"}`, Record{Text: "v=spf1 -all", Type: TypeTXT}},
		{"explicit TXT keeps host", `{"type":"TXT","text":"x","host":"Whatever"}`,
			Record{Host: "Whatever", Text: "x", Type: TypeTXT}},

		// Every field, unknown fields and odd key case.
		{"all fields", `{"host":"192.0.2.9","port":53,"priority":1,"weight":2,"text":"t","mail":false,` +
			`"ttl":60,"targetstrip":1,"group":"g","type":"A","source":"s","cluster":"c","user":"u"}`,
			Record{Host: "192.0.2.9", Port: 53, Priority: 1, Weight: 2, Text: "t", TTL: 60, TargetStrip: 1,
				Group: "g", Type: TypeA, Source: "s", Cluster: "c", User: "u"}},
		{"unknown fields ignored", `{"host":"192.0.2.1","labels":{"a":"b"},"Key":"/x","new":[1,2]}`,
			Record{Host: "192.0.2.1", Type: TypeA}},
		{"nulls", `{"host":"192.0.2.1","text":null,"ttl":null}`, Record{Host: "192.0.2.1", Type: TypeA}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.value))
			if err != nil {
				t.Fatalf("Decode(%s): %v", tt.value, err)
			}
			if got != tt.want {
				t.Errorf("Decode(%s)\n got %+v\nwant %+v", tt.value, got, tt.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string // substring of the error
	}{
		{"not JSON", `{"host":`, "record: decoding JSON"},
		{"wrong field type", `{"port":"80","host":"192.0.2.1"}`, "record: decoding JSON"},
		{"negative ttl", `{"ttl":-1,"host":"192.0.2.1"}`, "record: decoding JSON"},
		{"array", `[]`, "record: decoding JSON"},
		{"empty object", `{}`, "no type, no host and no text"},
		{"null", `null`, "no type, no host and no text"},
		{"A with name", `{"type":"A","host":"foo"}`, `record: type A needs an IPv4 host, got "foo"`},
		{"A with IPv6", `{"type":"A","host":"2001:db8::1"}`, "needs an IPv4 host"},
		{"AAAA with IPv4", `{"type":"AAAA","host":"192.0.2.1"}`, "needs an IPv6 host"},
		{"AAAA with 4in6", `{"type":"AAAA","host":"::ffff:192.0.2.1"}`, "needs an IPv6 host"},
		{"A with zone", `{"type":"AAAA","host":"fe80::1%eth0"}`, "needs an IPv6 host"},
		{"CNAME with IP", `{"type":"CNAME","host":"192.0.2.1"}`, "needs a host name, got IP address"},
		{"CNAME empty", `{"type":"CNAME"}`, "empty name"},
		{"NS bad name", `{"type":"NS","host":"a..b"}`, "empty label"},
		{"MX bad name", `{"type":"MX","host":"-mx.example.org"}`, "starts with a hyphen"},
		{"SRV bad name", `{"type":"SRV","host":"a b.example"}`, "invalid character"},
		{"TXT without text", `{"type":"TXT","host":"x.example"}`, "type TXT needs text"},
		{"unknown type", `{"type":"PTR","host":"x.example"}`, `unknown type "PTR"`},
		{"type look-alike", `{"type":"ſrv","host":"x.example"}`, "unknown type"},
		{"type with space", `{"type":" A","host":"192.0.2.1"}`, "unknown type"},
		{"garbage host", `{"host":"not a host"}`, "neither an IP address nor a valid name"},
		{"zoned host", `{"host":"fe80::1%eth0"}`, "neither an IP address nor a valid name"},
		{"port range", `{"host":"192.0.2.1","port":65536}`, "port 65536 out of range"},
		{"negative priority", `{"host":"192.0.2.1","priority":-1}`, "priority -1 out of range"},
		{"weight range", `{"host":"192.0.2.1","weight":70000}`, "weight 70000 out of range"},
		{"negative targetstrip", `{"host":"192.0.2.1","targetstrip":-1}`, "targetstrip -1 is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Decode([]byte(tt.value))
			if err == nil {
				t.Fatalf("Decode(%s) = %+v, want error containing %q", tt.value, r, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode(%s) error %q, want it to contain %q", tt.value, err, tt.want)
			}
			if r != (Record{}) {
				t.Errorf("Decode(%s) returned %+v alongside an error", tt.value, r)
			}
		})
	}
}

func TestDecodeWrapsJSONError(t *testing.T) {
	_, err := Decode([]byte(`{"port":"80"}`))
	var typeErr *json.UnmarshalTypeError
	if !errors.As(err, &typeErr) {
		t.Fatalf("error %v does not wrap *json.UnmarshalTypeError", err)
	}
	_, err = Decode([]byte(`{`))
	var syntaxErr *json.SyntaxError
	if !errors.As(err, &syntaxErr) {
		t.Fatalf("error %v does not wrap *json.SyntaxError", err)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   Record
		want string // exact JSON
	}{
		{"A", Record{Host: "192.0.2.1", Type: TypeA, TTL: 30}, `{"host":"192.0.2.1","ttl":30,"type":"A"}`},
		{"AAAA inferred", Record{Host: "2001:DB8::1"}, `{"host":"2001:db8::1","type":"AAAA"}`},
		{"CNAME", Record{Host: "Cctv2.skydns.local", Type: "cname"}, `{"host":"cctv2.skydns.local.","type":"CNAME"}`},
		{"SRV", Record{Host: "a.example", Port: 80, Priority: 10, Weight: 20, Type: TypeSRV},
			`{"host":"a.example.","port":80,"priority":10,"weight":20,"type":"SRV"}`},
		{"NS", Record{Host: "ns.example.", Type: TypeNS}, `{"host":"ns.example.","type":"NS"}`},
		{"MX", Record{Host: "mx.example.", Mail: true, Priority: 10},
			`{"host":"mx.example.","priority":10,"mail":true,"type":"MX"}`},
		{"TXT", Record{Text: "hello \"world\""}, `{"text":"hello \"world\"","type":"TXT"}`},
		{"provenance", Record{Host: "192.0.2.1", Group: "g", TargetStrip: 1, Source: "skydns", Cluster: "c1", User: "u"},
			`{"host":"192.0.2.1","targetstrip":1,"group":"g","type":"A","source":"skydns","cluster":"c1","user":"u"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.in.Encode()
			if err != nil {
				t.Fatalf("Encode(%+v): %v", tt.in, err)
			}
			if string(b) != tt.want {
				t.Errorf("Encode(%+v)\n got %s\nwant %s", tt.in, b, tt.want)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode(%s): %v", b, err)
			}
			again, err := got.Encode()
			if err != nil {
				t.Fatalf("Encode(%+v): %v", got, err)
			}
			if string(again) != string(b) {
				t.Errorf("second Encode %s differs from first %s", again, b)
			}
		})
	}
}

func TestEncodeRejectsInvalid(t *testing.T) {
	for _, r := range []Record{
		{},
		{Type: TypeA, Host: "foo"},
		{Type: TypeCNAME, Host: "a..b"},
		{Host: "192.0.2.1", Port: -1},
		{Type: "BOGUS", Host: "192.0.2.1"},
	} {
		if b, err := r.Encode(); err == nil {
			t.Errorf("Encode(%+v) = %s, want error", r, b)
		}
	}
}

func TestIP(t *testing.T) {
	tests := []struct {
		name string
		r    Record
		want netip.Addr
	}{
		{"A", Record{Type: TypeA, Host: "192.0.2.1"}, netip.MustParseAddr("192.0.2.1")},
		{"AAAA", Record{Type: TypeAAAA, Host: "2001:db8::1"}, netip.MustParseAddr("2001:db8::1")},
		{"A from 4in6", Record{Type: TypeA, Host: "::ffff:192.0.2.1"}, netip.MustParseAddr("192.0.2.1")},
		{"CNAME", Record{Type: TypeCNAME, Host: "x.example."}, netip.Addr{}},
		{"untyped", Record{Host: "192.0.2.1"}, netip.Addr{}},
		{"TXT", Record{Type: TypeTXT, Host: "192.0.2.1", Text: "x"}, netip.Addr{}},
		{"A with v6", Record{Type: TypeA, Host: "2001:db8::1"}, netip.Addr{}},
		{"A garbage", Record{Type: TypeA, Host: "nope"}, netip.Addr{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.IP(); got != tt.want {
				t.Errorf("IP() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIPDoesNotAllocate(t *testing.T) {
	a := Record{Type: TypeA, Host: "192.0.2.1"}
	b := Record{Type: TypeAAAA, Host: "2001:db8::1"}
	if n := testing.AllocsPerRun(100, func() { _, _ = a.IP(), b.IP() }); n != 0 {
		t.Errorf("IP allocates %v times per call pair", n)
	}
}

func TestID(t *testing.T) {
	base := Record{Type: TypeA, Host: "192.0.2.1"}
	id := ID(base)
	if len(id) != 8 || !isHex(id, 8, 8) || strings.ToLower(id) != id {
		t.Fatalf("ID = %q, want 8 lower-case hex digits", id)
	}
	if got := ID(base); got != id {
		t.Errorf("ID not stable: %q then %q", id, got)
	}
	// FNV-1a of "A|192.0.2.1|0|", computed independently so the
	// on-disk id cannot drift silently.
	if want := fnvReference("A|192.0.2.1|0|"); id != want {
		t.Errorf("ID = %q, want %q", id, want)
	}
	untyped := Record{Host: "192.0.2.1"}
	if got := ID(untyped); got != id {
		t.Errorf("ID of untyped record %q differs from typed %q", got, id)
	}
	seen := map[string]Record{id: base}
	for _, r := range []Record{
		{Type: TypeA, Host: "192.0.2.2"},
		{Type: TypeAAAA, Host: "2001:db8::1"},
		{Type: TypeCNAME, Host: "192.0.2.1."},
		{Type: TypeSRV, Host: "a.example.", Port: 80},
		{Type: TypeSRV, Host: "a.example.", Port: 8080},
		{Type: TypeTXT, Text: "a"},
		{Type: TypeTXT, Text: "b"},
		{Type: TypeMX, Host: "a.example."},
		{Type: TypeNS, Host: "a.example."},
	} {
		id := ID(r)
		if prev, ok := seen[id]; ok {
			t.Errorf("ID(%+v) = ID(%+v) = %q", r, prev, id)
		}
		seen[id] = r
	}
}

// fnvReference is a deliberately naive FNV-1a so the test does not share
// code with the implementation.
func fnvReference(s string) string {
	h := uint64(2166136261)
	for _, c := range []byte(s) {
		h ^= uint64(c)
		h = (h * 16777619) % (1 << 32)
	}
	const digits = "0123456789abcdef"
	out := make([]byte, 8)
	for i := 7; i >= 0; i-- {
		out[i] = digits[h%16]
		h /= 16
	}
	return string(out)
}

// TestSite: a record's site survives Decode and Encode, a site that is no
// label is refused, and the bulk load's fast decoder leaves such a record
// to Decode, which keeps the site.
func TestSite(t *testing.T) {
	for _, tc := range []struct {
		in, site, err string
	}{
		{`{"host":"192.0.2.1","site":"bj"}`, "bj", ""},
		{`{"host":"2001:db8::1","site":"dc-2"}`, "dc-2", ""},
		{`{"host":"192.0.2.1","site":""}`, "", ""},
		{`{"host":"192.0.2.1","site":"BJ"}`, "", `site "BJ"`},
		{`{"host":"192.0.2.1","site":"b.j"}`, "", `site "b.j"`},
	} {
		r, err := Decode([]byte(tc.in))
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Decode(%s) = %v, want error with %q", tc.in, err, tc.err)
			}
			continue
		case err != nil:
			t.Errorf("Decode(%s): %v", tc.in, err)
			continue
		case r.Site != tc.site:
			t.Errorf("Decode(%s).Site = %q, want %q", tc.in, r.Site, tc.site)
		}
		if _, ok := DecodeAddr([]byte(tc.in)); ok && tc.site != "" {
			t.Errorf("DecodeAddr(%s) took a record with a site, which Addr cannot hold", tc.in)
		}
		if b, err := r.Encode(); err != nil || (tc.site != "" && !strings.Contains(string(b), `"site":"`+tc.site+`"`)) {
			t.Errorf("Encode(%+v) = %s, %v", r, b, err)
		}
	}
}
