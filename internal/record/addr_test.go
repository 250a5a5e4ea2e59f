package record

import (
	"net/netip"
	"strings"
	"testing"
)

// fastAddrValues are the address records the bulk load sees, in the
// shapes each writer produces. DecodeAddr must take all of them.
var fastAddrValues = []struct {
	value string
	want  Addr
}{
	// SkyDNS and ExternalDNS.
	{`{"host":"198.18.3.7","type":"A"}`, Addr{IP: ip("198.18.3.7")}},
	{`{"host":"192.0.2.1","ttl":60,"weight":5}`, Addr{IP: ip("192.0.2.1"), TTL: 60, Weight: 5}},
	{`{"host":"192.0.2.1","ttl":30}`, Addr{IP: ip("192.0.2.1"), TTL: 30}},
	{`{"host":"192.0.2.1"}`, Addr{IP: ip("192.0.2.1")}},
	{`{"host":"2001:db8::1"}`, Addr{IP: ip("2001:db8::1")}},
	{`{"host":"2001:db8::1","type":"AAAA","ttl":300}`, Addr{IP: ip("2001:db8::1"), TTL: 300}},
	{`{"type":"A","host":"192.0.2.1"}`, Addr{IP: ip("192.0.2.1")}},
	{`{"host":"192.0.2.7","targetstrip":1,"text":"\"heritage=external-dns,external-dns/owner=default\""}`,
		Addr{IP: ip("192.0.2.7"), TargetStrip: 1}},
	{`{"host":"192.0.2.9","port":53,"priority":1,"weight":2,"text":"t","mail":false,` +
		`"ttl":60,"targetstrip":1,"group":"g","type":"A","source":"s","cluster":"c","user":"u"}`,
		Addr{IP: ip("192.0.2.9"), TTL: 60, Port: 53, Priority: 1, Weight: 2, TargetStrip: 1}},

	// The original skydns API writes every field, zero or not.
	{`{"host":"192.0.2.1","port":0,"priority":0,"weight":0,"ttl":0,"targetstrip":0,"group":"","source":"api","user":""}`,
		Addr{IP: ip("192.0.2.1")}},
	{`{"user":"","source":"api","group":"","targetstrip":0,"ttl":0,"weight":0,"priority":0,"port":0,"host":"192.0.2.1"}`,
		Addr{IP: ip("192.0.2.1")}},
	{`{"host":"2001:db8::53","port":8053,"priority":10,"weight":20,"ttl":3600,"targetstrip":0,"group":"g1","source":"api","user":"admin"}`,
		Addr{IP: ip("2001:db8::53"), TTL: 3600, Port: 8053, Priority: 10, Weight: 20}},

	// Whitespace, as written by people and pretty-printers.
	{" {\n\t\"host\" : \"192.0.2.1\" ,\r\n \"ttl\" :\t60 }\n", Addr{IP: ip("192.0.2.1"), TTL: 60}},
	{`{ "type" : "aaaa" , "host" : "2001:db8::2" }`, Addr{IP: ip("2001:db8::2")}},

	// Limits.
	{`{"host":"192.0.2.1","port":65535,"priority":65535,"weight":65535,"ttl":4294967295,"targetstrip":9223372036854775807}`,
		Addr{IP: ip("192.0.2.1"), TTL: 4294967295, Port: 65535, Priority: 65535, Weight: 65535, TargetStrip: 9223372036854775807}},
	{`{"host":"0.0.0.0"}`, Addr{IP: ip("0.0.0.0")}},
	{`{"host":"::"}`, Addr{IP: ip("::")}},
	{`{"host":"255.255.255.255","type":"a"}`, Addr{IP: ip("255.255.255.255")}},

	// Forms Decode normalizes.
	{`{"host":"::ffff:192.0.2.1"}`, Addr{IP: ip("192.0.2.1")}},
	{`{"host":"::ffff:192.0.2.1","type":"A"}`, Addr{IP: ip("192.0.2.1")}},
	{`{"host":"2001:DB8:0:0::1"}`, Addr{IP: ip("2001:db8::1")}},
	{`{"host":"2001:0db8:0000:0000:0000:0000:0000:0001","type":"AaAa"}`, Addr{IP: ip("2001:db8::1")}},

	// Fields that do not change an address record.
	{`{"host":"192.0.2.1","mail":true}`, Addr{IP: ip("192.0.2.1")}},
	{`{"host":"192.0.2.1","text":"t"}`, Addr{IP: ip("192.0.2.1")}},
	{`{"host":"192.0.2.1","type":""}`, Addr{IP: ip("192.0.2.1")}},
	{`{"host":"192.0.2.1","type":null,"text":null,"ttl":null,"mail":null,"port":null}`, Addr{IP: ip("192.0.2.1")}},
	{`{"host":"192.0.2.1","text":"caf\u00e9 \\ \/ \b\f\n\r\t \"q\"","group":"\u0000"}`, Addr{IP: ip("192.0.2.1")}},
	{"{\"host\":\"192.0.2.1\",\"source\":\"snowman ☃\",\"cluster\":\"\xff\xfe\"}", Addr{IP: ip("192.0.2.1")}},

	// Keys in other cases, which encoding/json folds.
	{`{"HOST":"192.0.2.1","Ttl":7,"TargetStrip":2,"TYPE":"a","Port":1}`,
		Addr{IP: ip("192.0.2.1"), TTL: 7, TargetStrip: 2, Port: 1}},

	// Unknown fields of every kind.
	{`{"host":"192.0.2.1","labels":{"a":"b","n":[1,2,{"x":null}]},"Key":"/x","new":[1,-2.5e+3,true,false,null,"s\"\\"],"e":{},"f":[]}`,
		Addr{IP: ip("192.0.2.1")}},
	{`{"owner":"\u0068ost","host":"192.0.2.1","hostname":"x","ttl2":5,"x":0,"y":-0.0,"z":1E9}`, Addr{IP: ip("192.0.2.1")}},
	{`{"meta":{"nested":{"deeper":[[[[{"k":"v"}]]]]}},"host":"2001:db8::7","ttl":1}`, Addr{IP: ip("2001:db8::7"), TTL: 1}},
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// slowAddrValues are values DecodeAddr must leave to Decode, whether Decode
// accepts them or not. The comment says why.
var slowAddrValues = []string{
	// Not address records.
	`{"host":"cctv2.skydns.local"}`,
	`{"type":"CNAME","host":"cctv2.skydns.local"}`,
	`{"type":"CNAME","host":"192.0.2.1"}`,
	`{"type":"TXT","text":"x","host":"192.0.2.1"}`,
	`{"type":"SRV","host":"192.0.2.1","port":80}`,
	`{"host":"mx.example.org","mail":true,"priority":10}`,
	`{"text":"hello"}`,
	`{}`,
	`{"host":""}`,
	`{"host":null}`,
	`{"host":"1.2.3.4.5"}`,
	`{"host":"192.0.2.01"}`,
	`{"host":"192.0.2.0/24"}`,
	`{"host":" 192.0.2.1"}`,

	// Invalid records.
	`{"type":"A","host":"2001:db8::1"}`,
	`{"type":"AAAA","host":"192.0.2.1"}`,
	`{"type":"AAAA","host":"::ffff:192.0.2.1"}`,
	`{"type":"AAAA","host":"fe80::1%eth0"}`,
	`{"host":"fe80::1%eth0"}`,
	`{"type":"PTR","host":"192.0.2.1"}`,
	`{"type":" A","host":"192.0.2.1"}`,
	`{"host":"192.0.2.1","port":65536}`,
	`{"host":"192.0.2.1","weight":70000}`,
	`{"host":"192.0.2.1","priority":-1}`,
	`{"host":"192.0.2.1","targetstrip":-1}`,
	`{"host":"192.0.2.1","targetstrip":9223372036854775808}`,
	`{"host":"192.0.2.1","ttl":4294967296}`,
	`{"host":"192.0.2.1","ttl":-1}`,
	`{"host":"192.0.2.1","port":"80"}`,
	`{"host":"192.0.2.1","port":true}`,
	`{"host":"192.0.2.1","ttl":1.0}`,
	`{"host":"192.0.2.1","ttl":1e2}`,
	`{"host":"192.0.2.1","mail":1}`,
	`{"host":"192.0.2.1","mail":"true"}`,
	`{"host":"192.0.2.1","text":5}`,
	`{"host":"192.0.2.1","user":{}}`,
	`{"host":["192.0.2.1"]}`,
	`{"host":"192.0.2.1","type":1}`,

	// Invalid JSON.
	``,
	`null`,
	`[]`,
	`"192.0.2.1"`,
	`{"host":`,
	`{"host":"192.0.2.1"`,
	`{"host":"192.0.2.1",}`,
	`{"host":"192.0.2.1"}x`,
	`{"host":"192.0.2.1"}{}`,
	`{"host" "192.0.2.1"}`,
	`{host:"192.0.2.1"}`,
	`{'host':'192.0.2.1'}`,
	`{"host":"192.0.2.1","ttl":01}`,
	`{"host":"192.0.2.1","ttl":+1}`,
	`{"host":"192.0.2.1","x":01}`,
	`{"host":"192.0.2.1","x":1.}`,
	`{"host":"192.0.2.1","x":.5}`,
	`{"host":"192.0.2.1","x":1e}`,
	`{"host":"192.0.2.1","x":-}`,
	`{"host":"192.0.2.1","x":tru}`,
	`{"host":"192.0.2.1","x":nul}`,
	`{"host":"192.0.2.1","x":[1,]}`,
	`{"host":"192.0.2.1","x":[1 2]}`,
	`{"host":"192.0.2.1","x":{"a"}}`,
	`{"host":"192.0.2.1","x":{"a":1,}}`,
	`{"host":"192.0.2.1","x":{1:2}}`,
	`{"host":"192.0.2.1","x":[}`,
	`{"host":"192.0.2.1","x":"\x"}`,
	`{"host":"192.0.2.1","x":"\u12"}`,
	"{\"host\":\"192.0.2.1\",\"x\":\"tab\there\"}",
	"\ufeff{\"host\":\"192.0.2.1\"}",
	"{\"host\":\"192.0.2.1\"}\x00",
	"{\"host\":\"192.0.2.1\",\v\"ttl\":1}",

	// Valid address records the scanner does not handle with certainty.
	`{"host":"192.0.2.1","host":"192.0.2.2"}`,
	`{"host":"192.0.2.1","HOST":"192.0.2.2"}`,
	`{"host":"192.0.2.1","ttl":1,"ttl":2}`,
	`{"host":"192.0.2.1","ttl":null,"ttl":2}`,
	`{"\u0068ost":"192.0.2.1"}`,
	`{"host":"192.0.2.\u0031"}`,
	`{"host":"192.0.2.1","type":"\u0041"}`,
	`{"hoſt":"192.0.2.1"}`,
	`{"ünknown":1,"host":"192.0.2.1"}`, // non-ASCII keys are refused whole
	`{"host":"192.0.2.1","ttl":-0}`,
	`{"host":"192.0.2.1","x":` + strings.Repeat("[", 65) + strings.Repeat("]", 65) + `}`,
}

// checkAgainstDecode fails t unless a, when ok, is exactly what Decode makes
// of value.
func checkAgainstDecode(t *testing.T, value []byte, a Addr, ok bool) {
	t.Helper()
	if !ok {
		if a != (Addr{}) {
			t.Fatalf("DecodeAddr(%q) = %+v alongside ok=false", value, a)
		}
		return
	}
	r, err := Decode(value)
	if err != nil {
		t.Fatalf("DecodeAddr(%q) = %+v, true but Decode fails: %v", value, a, err)
	}
	if r.Type != TypeA && r.Type != TypeAAAA {
		t.Fatalf("DecodeAddr(%q) = %+v, true but Decode gives type %s", value, a, r.Type)
	}
	want := Addr{
		IP:          r.IP(),
		TTL:         r.TTL,
		Port:        uint16(r.Port),
		Priority:    uint16(r.Priority),
		Weight:      uint16(r.Weight),
		TargetStrip: r.TargetStrip,
	}
	if !want.IP.IsValid() || a != want ||
		r.Port != int(a.Port) || r.Priority != int(a.Priority) || r.Weight != int(a.Weight) {
		t.Fatalf("DecodeAddr(%q)\n got %+v\nwant %+v (Decode: %+v)", value, a, want, r)
	}
}

func TestDecodeAddr(t *testing.T) {
	for _, tt := range fastAddrValues {
		a, ok := DecodeAddr([]byte(tt.value))
		if !ok {
			t.Errorf("DecodeAddr(%s) not ok, want %+v", tt.value, tt.want)
			continue
		}
		if a != tt.want {
			t.Errorf("DecodeAddr(%s)\n got %+v\nwant %+v", tt.value, a, tt.want)
		}
		checkAgainstDecode(t, []byte(tt.value), a, ok)
	}
}

func TestDecodeAddrLeavesToDecode(t *testing.T) {
	for _, v := range slowAddrValues {
		if a, ok := DecodeAddr([]byte(v)); ok {
			r, err := Decode([]byte(v))
			t.Errorf("DecodeAddr(%q) = %+v, true; want ok=false (Decode: %+v, %v)", v, a, r, err)
		}
	}
}

func TestDecodeAddrDoesNotAllocate(t *testing.T) {
	var values [][]byte
	for _, tt := range fastAddrValues {
		values = append(values, []byte(tt.value))
	}
	n := testing.AllocsPerRun(100, func() {
		for _, v := range values {
			if _, ok := DecodeAddr(v); !ok {
				t.Fatalf("DecodeAddr(%s) not ok", v)
			}
		}
	})
	if n != 0 {
		t.Errorf("DecodeAddr allocates %v times per %d values", n, len(values))
	}
	// Values it refuses for being names or odd cost nothing either, so a
	// mixed bulk load pays only for what goes to Decode.
	refused := [][]byte{
		[]byte(`{"host":"cctv2.skydns.local","type":"CNAME"}`),
		[]byte(`{"text":"hello"}`),
		[]byte(`{"host":"192.0.2.1","host":"192.0.2.2"}`),
		[]byte(`{"host":"fe80::1%eth0"}`),
	}
	n = testing.AllocsPerRun(100, func() {
		for _, v := range refused {
			if _, ok := DecodeAddr(v); ok {
				t.Fatalf("DecodeAddr(%s) ok", v)
			}
		}
	})
	if n != 0 {
		t.Errorf("DecodeAddr allocates %v times per %d refused values", n, len(refused))
	}
}

// FuzzDecodeAddr checks DecodeAddr against Decode: whatever it accepts,
// Decode must accept with the same fields. It must also take every address
// record SkyDNS itself writes, and the typical values in fastAddrValues, so
// the fast path is really the one taken.
func FuzzDecodeAddr(f *testing.F) {
	mustTake := make(map[string]bool)
	for _, tt := range fastAddrValues {
		f.Add([]byte(tt.value))
		mustTake[tt.value] = true
	}
	for _, v := range slowAddrValues {
		f.Add([]byte(v))
	}
	for _, v := range seedValues {
		f.Add([]byte(v))
	}
	for _, v := range benchValues {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		a, ok := DecodeAddr(value)
		checkAgainstDecode(t, value, a, ok)
		if !ok && mustTake[string(value)] {
			t.Fatalf("DecodeAddr(%q) not ok for a typical address record", value)
		}
		r, err := Decode(value)
		if err != nil || (r.Type != TypeA && r.Type != TypeAAAA) {
			return
		}
		b, err := r.Encode()
		if err != nil {
			t.Fatalf("Encode(%+v): %v", r, err)
		}
		a2, ok := DecodeAddr(b)
		if !ok {
			t.Fatalf("DecodeAddr(%s) not ok for a value SkyDNS writes", b)
		}
		checkAgainstDecode(t, b, a2, ok)
	})
}

var addrBenchValues = [][]byte{
	[]byte(`{"host":"198.18.3.7","type":"A"}`),
	[]byte(`{"host":"192.0.2.1","ttl":60,"weight":5}`),
	[]byte(`{"host":"192.0.2.1","port":0,"priority":0,"weight":0,"ttl":0,"targetstrip":0,"group":"","source":"api","user":""}`),
	[]byte(`{"host":"2001:db8::1","type":"AAAA","ttl":300}`),
	[]byte(`{"host":"192.0.2.7","targetstrip":1,"text":"\"heritage=external-dns,external-dns/owner=default\""}`),
}

func BenchmarkDecodeAddr(b *testing.B) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := DecodeAddr(addrBenchValues[i%len(addrBenchValues)]); !ok {
			b.Fatal("not ok")
		}
		i++
	}
}

// BenchmarkDecodeAddrValues is Decode on BenchmarkDecodeAddr's values, for
// a like-for-like comparison.
func BenchmarkDecodeAddrValues(b *testing.B) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Decode(addrBenchValues[i%len(addrBenchValues)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
