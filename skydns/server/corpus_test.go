package server

import (
	"testing"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/internal/record"
)

// corpus holds records as the tools of the ecosystem write them, each
// with its writer's own key layout and value shapes: the original skydns
// API and its kubeapi, CoreDNS-etcd users (the SkyDNS2 message format),
// ExternalDNS's CoreDNS provider, and SkyDNS itself. corpusMeant says what
// each writer meant every name to answer.
var corpus = []struct{ writer, key, value string }{
	// The original skydns API: unpadded FNV ids with a trailing slash,
	// explicit types, provenance fields, CNAMEs at the name's own path.
	{"original API", "/skydns/local/skydns/cctv2/af19cb2/", `{"host":"192.0.2.1","ttl":30,"type":"A","source":"api","user":"ops"}`},
	{"original API", "/skydns/local/skydns/cctv2/4af19cb2/", `{"host":"192.0.2.2","ttl":30,"type":"A","source":"api"}`},
	{"original API", "/skydns/local/skydns/cctv2/1/", `{"host":"192.0.2.3","type":"a"}`},
	{"original API", "/skydns/local/skydns/v6host/c0ffee/", `{"host":"2001:DB8::1","type":"AAAA"}`},
	{"original API", "/skydns/local/skydns/tv1/", `{"type":"CNAME","host":"cctv2.skydns.local","source":"api"}`},
	{"original API", "/skydns/local/skydns/cafe/", `{"type":"CNAME","host":"cctv2.skydns.local."}`},
	{"original API", "/skydns/local/skydns/sip/_udp/_sip/c0000214/", `{"type":"SRV","host":"192.0.2.20","port":5060,"priority":10,"weight":1}`},
	{"original API", "/skydns/local/skydns/mail/a1/", `{"type":"MX","host":"mx1.skydns.local","priority":10}`},
	{"original API", "/skydns/local/skydns/mx1/b2/", `{"type":"A","host":"192.0.2.25"}`},
	{"original API", "/skydns/local/skydns/note/c3/", `{"type":"TXT","text":"v=spf1 -all","ttl":300}`},
	{"original API", "/skydns/local/skydns/deleg/d4/", `{"type":"NS","host":"ns1.example.org"}`},

	// Its kubeapi: services under svc/<namespace>/<service>/<id>/, and a
	// headless service's pods under their hostnames.
	{"original kubeapi", "/skydns/local/skydns/svc/default/nginx/0a1b2c3d/", `{"host":"198.51.100.10","source":"kube","cluster":"c1"}`},
	{"original kubeapi", "/skydns/local/skydns/svc/default/nginx/0a1b2c3e/", `{"host":"198.51.100.11","source":"kube","cluster":"c1"}`},
	{"original kubeapi", "/skydns/local/skydns/svc/default/db/web-0/", `{"host":"198.51.100.20"}`},
	{"original kubeapi", "/skydns/local/skydns/svc/default/db/web-1/", `{"host":"198.51.100.21"}`},

	// CoreDNS-etcd users (SkyDNS2 message format): no type, the name's own
	// path or leaves of their choosing, priorities, weights, unknown fields.
	{"CoreDNS user", "/skydns/local/skydns/x", `{"host":"192.0.2.50","ttl":60,"comment":"unknown field"}`},
	{"CoreDNS user", "/skydns/local/skydns/east/web", `{"host":"192.0.2.51"}`},
	{"CoreDNS user", "/skydns/local/skydns/www/ttggxuxp", `{"host":"198.51.100.7"}`},
	{"CoreDNS user", "/skydns/local/skydns/www/jzlnykyj", `{"host":"198.51.100.8"}`},
	{"CoreDNS user", "/skydns/local/skydns/www/v6", `{"host":"2001:db8::7"}`},
	{"CoreDNS user", "/skydns/local/skydns/txtrec/aa01", `{"text":"hello"}`},
	{"CoreDNS user", "/skydns/local/skydns/txtrec/aa02", `{"text":"world"}`},
	{"CoreDNS user", "/skydns/local/skydns/mx/m1", `{"host":"mx1.skydns.local","priority":20,"mail":true}`},
	{"CoreDNS user", "/skydns/local/skydns/alias", `{"host":"cctv2.skydns.local"}`},
	{"CoreDNS user", "/skydns/local/skydns/ns/dns/ns1", `{"host":"192.0.2.53"}`},
	{"CoreDNS user", "/skydns/local/skydns/_tcp/_http/s1", `{"host":"192.0.2.80","port":8080,"priority":10,"weight":100}`},
	{"CoreDNS user", "/skydns/local/skydns/_tcp/_ldap/s1", `{"host":"ldap.skydns.local","port":389,"priority":10,"weight":100}`},
	{"CoreDNS user", "/skydns/local/skydns/ldap", `{"host":"192.0.2.89"}`},
	{"CoreDNS user", "/skydns/local/skydns/Upper/Case", `{"host":"192.0.2.52"}`},
	{"CoreDNS user", "/skydns/test/other/z/0", `{"host":"203.0.113.30"}`},
	{"CoreDNS user", "/skydns/local/skydns/wild/*", `{"host":"192.0.2.99"}`},
	{"CoreDNS user", "/skydns/local/skydns/grp/a", `{"host":"192.0.2.61","group":"g1"}`},
	{"CoreDNS user", "/skydns/local/skydns/grp/b", `{"host":"192.0.2.62","group":"g2"}`},

	// ExternalDNS's CoreDNS provider: a random 8-hex leaf per target,
	// targetstrip 1, TTL, setIdentifier; its TXT registry's own names.
	{"ExternalDNS", "/skydns/local/skydns/app/4f2a9c01", `{"host":"203.0.113.7","ttl":60,"targetstrip":1}`},
	{"ExternalDNS", "/skydns/local/skydns/app/0b3c4d5e", `{"host":"203.0.113.8","ttl":60,"targetstrip":1,"setIdentifier":""}`},
	{"ExternalDNS", "/skydns/local/skydns/a-app/1a2b3c4d", `{"text":"\"heritage=external-dns,external-dns/owner=default\"","targetstrip":1}`},
	{"ExternalDNS", "/skydns/local/skydns/cn/2b3c4d5e", `{"host":"app.skydns.local","targetstrip":1}`},
	{"ExternalDNS", "/skydns/local/skydns/old/7e6d5c4b", `{"host":"203.0.113.9"}`}, // before targetstrip
	// Its TXT registry puts the ownership text on the name's targets, and
	// it copies a record's text onto the next one it writes for the name:
	// one value, an A and a TXT record to ExternalDNS and CoreDNS.
	{"ExternalDNS", "/skydns/local/skydns/legacy/5d6e7f80", `{"host":"203.0.113.10","text":"\"heritage=external-dns,external-dns/owner=default\"","targetstrip":1}`},

	// SkyDNS itself: 8-hex FNV ids, explicit types, provenance.
	{"SkyDNS", record.Key("/skydns", "own.skydns.local.", record.ID(record.Record{Type: record.TypeA, Host: "192.0.2.9"})), `{"host":"192.0.2.9","type":"A","source":"api"}`},
	{"SkyDNS", record.Key("/skydns", "own.skydns.local.", record.ID(record.Record{Type: record.TypeTXT, Text: "owned"})), `{"text":"owned","type":"TXT","source":"api"}`},
	{"SkyDNS", record.Key("/skydns", "own.skydns.local.", record.ID(record.Record{Type: record.TypeMX, Host: "mx1.skydns.local.", Priority: 5})), `{"host":"mx1.skydns.local.","priority":5,"type":"MX","source":"api"}`},
	{"SkyDNS", record.Key("/skydns", "own.skydns.local.", record.ID(record.Record{Type: record.TypeNS, Host: "ns1.example.org."})), `{"host":"ns1.example.org.","type":"NS","source":"api"}`},
	{"SkyDNS", record.Key("/skydns", "_x._tcp.own.skydns.local.", record.ID(record.Record{Type: record.TypeSRV, Host: "own.skydns.local.", Port: 443, Priority: 1, Weight: 2})), `{"host":"own.skydns.local.","port":443,"priority":1,"weight":2,"type":"SRV","source":"api"}`},
	{"SkyDNS", record.Key("/skydns", "own.skydns.local.", record.ID(record.Record{Type: record.TypeAAAA, Host: "2001:db8::9"})), `{"host":"2001:db8::9","type":"AAAA","source":"api"}`},
	{"SkyDNS", "/skydns/local/skydns/own-alias", `{"host":"own.skydns.local.","type":"CNAME","source":"api"}`},
	{"SkyDNS", "/skydns/local/skydns/deadbeef/", `{"host":"own.skydns.local.","type":"CNAME","source":"api"}`},
}

// corpusMeant is what each writer meant, name by name.
var corpusMeant = []want{
	// original API
	{"cctv2.skydns.local.", dns.TypeA, 0, a("192.0.2.1", "192.0.2.2", "192.0.2.3")},
	{"af19cb2.cctv2.skydns.local.", dns.TypeA, dns.RcodeNameError, nil},
	{"v6host.skydns.local.", dns.TypeAAAA, 0, []string{"AAAA 2001:db8::1"}},
	{"tv1.skydns.local.", dns.TypeCNAME, 0, []string{"CNAME cctv2.skydns.local."}},
	{"cafe.skydns.local.", dns.TypeCNAME, 0, []string{"CNAME cctv2.skydns.local."}},
	{"skydns.local.", dns.TypeA, 0, nil},
	{"_sip._udp.sip.skydns.local.", dns.TypeSRV, 0, []string{"SRV 10 1 5060 _sip._udp.sip.skydns.local."}},
	{"mail.skydns.local.", dns.TypeMX, 0, []string{"MX 10 mx1.skydns.local."}},
	{"note.skydns.local.", dns.TypeTXT, 0, []string{`TXT "v=spf1 -all"`}},
	{"deleg.skydns.local.", dns.TypeNS, 0, []string{"NS ns1.example.org."}},
	// original kubeapi
	{"nginx.default.svc.skydns.local.", dns.TypeA, 0, a("198.51.100.10", "198.51.100.11")},
	{"db.default.svc.skydns.local.", dns.TypeA, 0, a("198.51.100.20", "198.51.100.21")},
	{"web-0.db.default.svc.skydns.local.", dns.TypeA, 0, a("198.51.100.20")},
	{"default.svc.skydns.local.", dns.TypeA, 0, nil},
	// CoreDNS users
	{"x.skydns.local.", dns.TypeA, 0, a("192.0.2.50")},
	{"web.east.skydns.local.", dns.TypeA, 0, a("192.0.2.51")},
	{"east.skydns.local.", dns.TypeA, 0, a("192.0.2.51")},
	{"www.skydns.local.", dns.TypeA, 0, a("198.51.100.7", "198.51.100.8")},
	{"www.skydns.local.", dns.TypeAAAA, 0, []string{"AAAA 2001:db8::7"}},
	{"txtrec.skydns.local.", dns.TypeTXT, 0, []string{`TXT "hello"`, `TXT "world"`}},
	{"mx.skydns.local.", dns.TypeMX, 0, []string{"MX 20 mx1.skydns.local."}},
	{"alias.skydns.local.", dns.TypeCNAME, 0, []string{"CNAME cctv2.skydns.local."}},
	{"dns.ns.skydns.local.", dns.TypeA, 0, a("192.0.2.53")},
	// An address with a port: the SRV's target is the queried name, which
	// answers the address (CoreDNS names it after the leaf; same address).
	{"_http._tcp.skydns.local.", dns.TypeSRV, 0, []string{"SRV 10 100 8080 _http._tcp.skydns.local."}},
	{"_http._tcp.skydns.local.", dns.TypeA, 0, a("192.0.2.80")},
	// A name host with a port: SRV, at the leaf and, one level up, at the
	// service's name.
	{"_ldap._tcp.skydns.local.", dns.TypeSRV, 0, []string{"SRV 10 100 389 ldap.skydns.local."}},
	{"s1._ldap._tcp.skydns.local.", dns.TypeSRV, 0, []string{"SRV 10 100 389 ldap.skydns.local."}},
	{"case.upper.skydns.local.", dns.TypeA, 0, a("192.0.2.52")},
	{"upper.skydns.local.", dns.TypeA, 0, a("192.0.2.52")},
	{"z.other.test.", dns.TypeA, 0, a("203.0.113.30")},
	{"any.wild.skydns.local.", dns.TypeA, 0, a("192.0.2.99")},
	{"wild.skydns.local.", dns.TypeA, 0, nil},
	{"a.grp.skydns.local.", dns.TypeA, 0, a("192.0.2.61")},
	// Groups that disagree do not narrow CoreDNS's answer either.
	{"grp.skydns.local.", dns.TypeA, 0, a("192.0.2.61", "192.0.2.62")},
	// ExternalDNS
	{"app.skydns.local.", dns.TypeA, 0, a("203.0.113.7", "203.0.113.8")},
	{"a-app.skydns.local.", dns.TypeTXT, 0, []string{`TXT "\"heritage=external-dns,external-dns/owner=default\""`}},
	{"cn.skydns.local.", dns.TypeCNAME, 0, []string{"CNAME app.skydns.local."}},
	{"old.skydns.local.", dns.TypeA, 0, a("203.0.113.9")},
	{"legacy.skydns.local.", dns.TypeA, 0, a("203.0.113.10")},
	// SkyDNS
	{"own.skydns.local.", dns.TypeA, 0, a("192.0.2.9")},
	{"own.skydns.local.", dns.TypeTXT, 0, []string{`TXT "owned"`}},
	{"own.skydns.local.", dns.TypeMX, 0, []string{"MX 5 mx1.skydns.local."}},
	{"own.skydns.local.", dns.TypeNS, 0, []string{"NS ns1.example.org."}},
	{"own.skydns.local.", dns.TypeAAAA, 0, []string{"AAAA 2001:db8::9"}},
	{"_x._tcp.own.skydns.local.", dns.TypeSRV, 0, []string{"SRV 1 2 443 own.skydns.local."}},
	{"own-alias.skydns.local.", dns.TypeCNAME, 0, []string{"CNAME own.skydns.local."}},
	{"deadbeef.skydns.local.", dns.TypeCNAME, 0, []string{"CNAME own.skydns.local."}},
}

// corpusGaps are what SkyDNS answers where it differs from what the writer
// meant, each with the reason it is left so; the test holds them to
// today's answers, so that a change shows.
var corpusGaps = []struct {
	served want
	meant  string
}{
	{want{"s1._ldap._tcp.skydns.local.", dns.TypeA, 0, nil},
		"CNAME ldap.skydns.local.: CoreDNS answers an A query for an SRV record's leaf with a CNAME to its host; here a record has one type, and a name host with a port is SRV (docs/data-model.md, Type)"},
	{want{"legacy.skydns.local.", dns.TypeTXT, 0, nil},
		`TXT "heritage=...": a record has one type, and an address host wins over text (docs/data-model.md, Type). The text ExternalDNS copies onto address records is its registry's bookkeeping, which it reads back from etcd, never through DNS; its own TXT registry names (a-app) are served`},
}

// TestCorpus loads the corpus into a real etcd and checks every name's
// answers, over UDP and TCP, against what its writer meant.
func TestCorpus(t *testing.T) {
	s := newHarness(t, defaultConfig())
	for _, c := range corpus {
		s.put(c.key, c.value)
	}
	s.checkAll(corpusMeant)
	// TTLs as written: the record's own, or the default 30; address
	// answers capped by health-ttl-cap (10).
	for _, tc := range []struct {
		qname string
		qtype uint16
		ttl   uint32
	}{
		{"note.skydns.local.", dns.TypeTXT, 300},
		{"txtrec.skydns.local.", dns.TypeTXT, 30},
		{"x.skydns.local.", dns.TypeA, 10},
		{"app.skydns.local.", dns.TypeA, 10},
	} {
		r := s.query(tc.qname, tc.qtype)
		if len(r.Answer) == 0 || r.Answer[0].Header().Ttl != tc.ttl {
			t.Errorf("%s %s: TTL of %v, want %d", tc.qname, dns.TypeToString[tc.qtype], r.Answer, tc.ttl)
		}
	}
	for _, g := range corpusGaps {
		if err := s.check(g.served); err != nil {
			t.Errorf("known gap changed (%s): %v", g.meant, err)
		}
	}
}
