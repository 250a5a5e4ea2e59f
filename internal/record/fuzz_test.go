package record

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

var seedValues = []string{
	`{"host":"192.0.2.1"}`,
	`{"host":"2001:db8::1","ttl":60}`,
	`{"host":"::ffff:192.0.2.1"}`,
	`{"type":"CNAME","host":"cctv2.skydns.local"}`,
	`{"type":"srv","host":"_http._tcp.example.org","port":80,"priority":1,"weight":2}`,
	`{"host":"mx.example.org","mail":true,"priority":10}`,
	`{"type":"NS","host":"ns1.skydns.local."}`,
	`{"text":"hello"}`,
	`{"type":"TXT","text":"x","host":"Whatever"}`,
	`{"host":"192.0.2.7","targetstrip":1,"group":"g","source":"s","cluster":"c","user":"u"}`,
	`{"host":"WEB.Example.ORG"}`,
	`{"type":"A","host":"foo"}`,
	`{"host":"a..b"}`,
	`{"port":-1,"host":"192.0.2.1"}`,
	`{}`,
	`null`,
	`{"host":`,
	`{"Host":"192.0.2.1","TYPE":"aaaa"}`,
	`{"host":"fd00::1"}`,
	`{"type":"AAAA","host":"abcd::1"}`,
	`{"host":"fe80::1%eth0"}`,
	`{"host":"64:ff9b::192.0.2.1"}`,
	`{"type":"TXT","text":"note-sttsb4er"}`,
}

// FuzzDecode checks that Decode never panics and that whatever it accepts
// survives Encode and a second Decode unchanged, which is what lets
// SkyDNS rewrite other writers' records safely.
func FuzzDecode(f *testing.F) {
	for _, v := range seedValues {
		f.Add([]byte(v))
	}
	f.Fuzz(func(t *testing.T, value []byte) {
		r, err := Decode(value)
		if err != nil {
			return
		}
		if _, ok := parseType(r.Type); !ok || strings.ToUpper(string(r.Type)) != string(r.Type) {
			t.Fatalf("Decode(%q) left type %q", value, r.Type)
		}
		b, err := r.Encode()
		if err != nil {
			t.Fatalf("Encode(%+v) of a decoded record: %v", r, err)
		}
		again, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(Encode(%+v)) = %s: %v", r, b, err)
		}
		if again != r {
			t.Fatalf("round trip changed the record:\n%+v\n%+v", r, again)
		}
		if ID(again) != ID(r) {
			t.Fatalf("ID changed across a round trip")
		}
		switch r.Type {
		case TypeA, TypeAAAA:
			if !r.IP().IsValid() {
				t.Fatalf("decoded %s record %+v has no IP", r.Type, r)
			}
		default:
			if r.IP().IsValid() {
				t.Fatalf("decoded %s record %+v has an IP", r.Type, r)
			}
		}
	})
}

// FuzzHostIP checks that a host is an address to every reader exactly when
// netip reads it as one without a zone, whatever its first character
// (issue 15, item 1: the fast sniffing gave up at the first letter).
func FuzzHostIP(f *testing.F) {
	for _, h := range []string{"fd00::1", "abcd::1", "ABCD::1", "fe80::1", "::", "::1", "64:ff9b::192.0.2.1",
		"::ffff:192.0.2.1", "192.0.2.1", "fe80::1%eth0", "cafe", "cafe.example.org", "1.2.3", "a:b", ":", "0::"} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, host string) {
		want, err := netip.ParseAddr(host)
		isIP := err == nil && want.Zone() == ""
		want = want.Unmap()
		value, err := json.Marshal(Record{Host: host})
		if err != nil {
			return
		}
		r, derr := Decode(value)
		a, fast := DecodeAddr(value)
		ip, perr := ParseIP(host)
		if !isIP {
			if r.IP().IsValid() || fast || perr == nil {
				t.Fatalf("%q is no address, but Decode %+v, DecodeAddr %v %v, ParseIP %v %v", host, r, a, fast, ip, perr)
			}
			return
		}
		if derr != nil || r.IP() != want {
			t.Fatalf("Decode(%s) = %+v, %v; want the address %v", value, r, derr, want)
		}
		if !fast || a.IP != want {
			t.Fatalf("DecodeAddr(%s) = %+v, %v; want %v", value, a, fast, want)
		}
		if perr != nil || ip != want {
			t.Fatalf("ParseIP(%q) = %v, %v", host, ip, perr)
		}
	})
}

// FuzzProbeID checks that every probe id is 8 lower-case hex digits that
// ParseKey reads as an id, so a record moved off a colliding key stays
// readable, and that the probes of one record differ from one another.
func FuzzProbeID(f *testing.F) {
	f.Add("2001:db8::1", "", 0)
	f.Add("", "note-sttsb4er", 80)
	f.Fuzz(func(t *testing.T, host, text string, port int) {
		r := Record{Type: TypeAAAA, Host: host, Text: text, Port: port}
		seen := map[string]bool{}
		for n := range 4 {
			id := ProbeID(r, n)
			if len(id) != 8 || !isHex(id, 8, 8) || strings.ToLower(id) != id {
				t.Fatalf("ProbeID(%+v, %d) = %q", r, n, id)
			}
			seen[id] = true
			key := Key(DefaultPrefix, "x.skydns.local.", id)
			if name, got, err := ParseKey(DefaultPrefix, key, Record{Type: TypeA, Host: "192.0.2.1"}); err != nil || got != id || name != "x.skydns.local." {
				t.Fatalf("ParseKey(%s) = %q, %q, %v", key, name, got, err)
			}
		}
		if len(seen) < 2 {
			t.Fatalf("the probes of %+v are all %v", r, seen)
		}
	})
}

// FuzzParseKey checks that ParseKey never panics, that every name it
// returns is canonical, and that the key can be rebuilt from its answer,
// so reading a key and writing it back never moves a record.
func FuzzParseKey(f *testing.F) {
	keys := []string{
		"/skydns/local/skydns/cctv2/4af19cb2",
		"/skydns/local/skydns/cctv2/4af19cb2/",
		"/skydns/local/skydns/cctv2/af19cb2/",
		"/skydns/local/skydns/tv1/",
		"/skydns/local/skydns/cafe/",
		"/skydns/local/skydns/svc/default/nginx/0a1b2c3d/",
		"/skydns/local/skydns/web/1f2e3d4c",
		"/skydns/local/skydns/x",
		"/skydns/local/skydns/x/1",
		"/SKYDNS/local/x",
		"/skydns",
		"/skydns/",
		"/skydns/local//x",
		"/skydns/Local/*/_tcp/a.b",
	}
	for i, k := range keys {
		f.Add(k, []byte(seedValues[i%len(seedValues)]))
	}
	f.Add("/skydns/local/skydns/tv1/", []byte(`{"type":"CNAME","host":"cctv2.skydns.local"}`))
	f.Add("/skydns/local/skydns/web/1f2e3d4c", []byte(`{"host":"192.0.2.7","targetstrip":1}`))
	f.Add("/skydns/a/b/c/d", []byte(`{"host":"192.0.2.7","targetstrip":3}`))
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		// Keys are read even when their value is bad, so that the error
		// can name the owner; an undecodable value acts as the zero Record.
		r, _ := Decode(value)
		name, id, err := ParseKey(DefaultPrefix, key, r)
		if err != nil {
			return
		}
		if n, err := NormalizeName(name); err != nil || n != name {
			t.Fatalf("ParseKey(%q) name %q is not canonical: %q, %v", key, name, n, err)
		}
		rest := strings.TrimPrefix(key, DefaultPrefix+"/")
		rest = strings.TrimSuffix(rest, "/")
		if want := DefaultPrefix + "/" + asciiLowerRef(rest); Key(DefaultPrefix, name, id) != want {
			t.Fatalf("Key(ParseKey(%q)) = %q, want %q (name %q, id %q)", key, Key(DefaultPrefix, name, id), want, name, id)
		}
		// The rule only adds names: ParseKey's first, then ancestors,
		// each strictly inside a zone and never its apex.
		zones := []string{"local.", "skydns.local.", "sub.skydns.local."}
		for _, ru := range []Rule{NewRule(DefaultPrefix, zones, nil), NewRule(DefaultPrefix, zones, zones), NewRule(DefaultPrefix, nil, nil)} {
			owners, oid, err := ru.Owners(key, r)
			if err != nil || owners[0] != name || oid != id {
				t.Fatalf("Owners(%q) = %v, %q, %v; ParseKey gave %q, %q", key, owners, oid, err, name, id)
			}
			for i, o := range owners[1:] {
				if !IsSubdomain(owners[i], o) || owners[i] == o || !ru.anyZone && slices.Contains(zones, o) {
					t.Fatalf("Owners(%q) = %v: %q is no ancestor below an apex", key, owners, o)
				}
			}
		}
	})
}

// asciiLowerRef folds ASCII letters independently of the implementation.
func asciiLowerRef(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

var benchValues = [][]byte{
	[]byte(`{"host":"192.0.2.1","ttl":30}`),
	[]byte(`{"host":"2001:db8::1"}`),
	[]byte(`{"host":"cctv2.skydns.local","type":"CNAME"}`),
	[]byte(`{"host":"web.skydns.local.","port":80,"priority":10,"weight":5,"type":"SRV","source":"skydns","cluster":"c1"}`),
	[]byte(`{"host":"192.0.2.7","targetstrip":1,"text":"\"heritage=external-dns,external-dns/owner=default\""}`),
}

func BenchmarkDecode(b *testing.B) {
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Decode(benchValues[i%len(benchValues)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkParseKey(b *testing.B) {
	type kv struct {
		key string
		r   Record
	}
	var cases []kv
	for _, c := range []struct{ key, value string }{
		{"/skydns/local/skydns/cctv2/4af19cb2", `{"host":"192.0.2.1"}`},
		{"/skydns/local/skydns/svc/default/nginx/0a1b2c3d/", `{"host":"192.0.2.1"}`},
		{"/skydns/local/skydns/tv1/", `{"type":"CNAME","host":"cctv2.skydns.local"}`},
		{"/skydns/local/skydns/web/1f2e3d4c", `{"host":"192.0.2.7","targetstrip":1}`},
		{"/skydns/local/skydns/x", `{"host":"192.0.2.1"}`},
	} {
		cases = append(cases, kv{c.key, mustDecode(b, c.value)})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c := cases[i%len(cases)]
		if _, _, err := ParseKey(DefaultPrefix, c.key, c.r); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
