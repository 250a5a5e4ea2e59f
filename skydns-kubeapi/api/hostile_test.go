package api

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/skydns/skydns/internal/record"
)

// Hostile and unusual input to the API (issue 15), one table per surface,
// against a real etcd and the API on a listener.

// valuesOf lists what name serves of type typ, as GET shows it (address,
// text, or host), sorted; nothing when the name has no records.
func valuesOf(s *server, name string, typ record.Type) []string {
	s.t.Helper()
	if code, _ := s.status("GET", "/skydns/api/"+name, ""); code == 404 {
		return nil
	}
	var out []string
	for _, r := range s.get(name).Records {
		if r.Type != string(typ) {
			continue
		}
		switch typ {
		case record.TypeTXT:
			out = append(out, r.Text)
		default:
			out = append(out, display(r.Host))
		}
	}
	sort.Strings(out)
	return out
}

// status sends an authorized request and returns its status and body.
func (s *server) status(method, path, body string) (int, string) {
	s.t.Helper()
	return s.do(method, path, body, testToken)
}

// Item 1: an IPv6 address that starts with a letter is an address: the
// API takes it for AAAA and serves it when another tool wrote it.
func TestHostileIPv6Forms(t *testing.T) {
	c := newCluster(t)
	s := c.start(nil)
	var forms []string
	for _, ch := range "0123456789abcdefABCDEF" {
		forms = append(forms, fmt.Sprintf("%c::1", ch), fmt.Sprintf("%c00:db8::1", ch))
	}
	forms = append(forms, "fd00::1", "abcd::1", "fe80::1", "::1", "64:ff9b::192.0.2.1", "2001:DB8:0:0::9")
	for i, ip := range forms {
		name := fmt.Sprintf("v6-%d", i)
		want := netip.MustParseAddr(ip).String()
		s.ok("POST", "/skydns/api/"+name, fmt.Sprintf(`{"type":"AAAA","ips":[%q]}`, ip))
		if got := valuesOf(s, name, record.TypeAAAA); !slices.Equal(got, []string{want}) {
			t.Errorf("POST AAAA %s: serves %v, want %s", ip, got, want)
		}
	}
	// Written by another tool, untyped: read as AAAA.
	c.put("/skydns/local/skydns/other/x1", `{"host":"fd00::1"}`)
	eventually(t, "fd00::1 written by another tool", func() bool {
		return slices.Equal(valuesOf(s, "x1.other", record.TypeAAAA), []string{"fd00::1"})
	})

	for _, tc := range []struct {
		body string
		code int
		msg  string
	}{
		{`{"type":"AAAA","ips":["fe80::1%eth0"]}`, 400, "has a zone"},
		{`{"type":"AAAA","ips":["fd00::1%1"]}`, 400, "has a zone"},
		{`{"type":"AAAA","ips":["::"]}`, 400, "unspecified"},
		{`{"type":"AAAA","ips":["ff02::1"]}`, 400, "multicast"},
		{`{"type":"AAAA","ips":["::ffff:192.0.2.1"]}`, 400, "IPv4"}, // mapped: an A record
		{`{"type":"A","ips":["fd00::1"]}`, 400, "IPv6"},
		{`{"type":"AAAA","ips":["abcd"]}`, 400, "invalid IP"},
		{`{"type":"AAAA","ips":["abcd:::1"]}`, 400, "invalid IP"},
	} {
		code, body := s.status("POST", "/skydns/api/refused", tc.body)
		if code != tc.code || !strings.Contains(body, tc.msg) {
			t.Errorf("POST %s: %d %q, want %d with %q", tc.body, code, body, tc.code, tc.msg)
		}
	}
	if code, body := s.status("GET", "/skydns/api/refused", ""); code != 404 {
		t.Errorf("refused requests wrote: %d %s", code, body)
	}
}

// collidingAAAA finds two addresses in 2001:db8::/32 whose record ids
// collide, by brute force (about 2^16 tries by the birthday bound).
func collidingAAAA(t *testing.T) (string, string) {
	t.Helper()
	seen := map[string]string{}
	for i := range 1 << 22 {
		ip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}).String()
		id := record.ID(record.Record{Type: record.TypeAAAA, Host: ip})
		if other, ok := seen[id]; ok {
			return other, ip
		}
		seen[id] = ip
	}
	t.Fatal("no colliding pair found")
	return "", ""
}

// Item 2: two records whose ids collide are both kept, whichever way they
// are written, and a colliding write never replaces another owner's record.
func TestHostileCollidingIDs(t *testing.T) {
	ip1, ip2 := collidingAAAA(t)
	txt1, txt2 := "note-sttsb4er", "note-la7vskx5"
	for _, p := range [][2]record.Record{
		{{Type: record.TypeAAAA, Host: ip1}, {Type: record.TypeAAAA, Host: ip2}},
		{{Type: record.TypeTXT, Text: txt1}, {Type: record.TypeTXT, Text: txt2}},
	} {
		if record.ID(p[0]) != record.ID(p[1]) {
			t.Fatalf("%+v and %+v do not collide", p[0], p[1])
		}
	}
	c := newCluster(t)
	s := c.start(nil)
	both := []string{ip1, ip2}
	sort.Strings(both)
	bothTXT := []string{txt1, txt2}
	sort.Strings(bothTXT)

	for _, tc := range []struct {
		name  string
		typ   record.Type
		steps [][2]string // method, body
		want  []string
	}{
		{"one-post", record.TypeAAAA, [][2]string{{"POST", fmt.Sprintf(`{"type":"AAAA","ips":[%q,%q]}`, ip1, ip2)}}, both},
		{"two-posts", record.TypeAAAA, [][2]string{
			{"POST", fmt.Sprintf(`{"type":"AAAA","ips":[%q]}`, ip1)},
			{"POST", fmt.Sprintf(`{"type":"AAAA","ips":[%q]}`, ip2)},
			{"POST", fmt.Sprintf(`{"type":"AAAA","ips":[%q,%q]}`, ip2, ip1)}, // again: no third record
		}, both},
		{"put", record.TypeAAAA, [][2]string{
			{"POST", fmt.Sprintf(`{"type":"AAAA","ips":[%q,"2001:db8:ffff::1"]}`, ip1)},
			{"PUT", fmt.Sprintf(`{"type":"AAAA","update":{"2001:db8:ffff::1":%q}}`, ip2)},
		}, both},
		{"put-swap", record.TypeAAAA, [][2]string{
			{"POST", `{"type":"AAAA","ips":["2001:db8:ffff::1","2001:db8:ffff::2"]}`},
			{"PUT", fmt.Sprintf(`{"type":"AAAA","update":{"2001:db8:ffff::1":%q,"2001:db8:ffff::2":%q}}`, ip1, ip2)},
		}, both},
		{"txt-posts", record.TypeTXT, [][2]string{
			{"POST", fmt.Sprintf(`{"type":"TXT","text":%q}`, txt1)},
			{"POST", fmt.Sprintf(`{"type":"TXT","text":%q}`, txt2)},
		}, bothTXT},
		{"txt-put", record.TypeTXT, [][2]string{
			{"POST", fmt.Sprintf(`{"type":"TXT","text":%q}`, txt1)},
			{"POST", `{"type":"TXT","text":"placeholder"}`},
			{"PUT", fmt.Sprintf(`{"type":"TXT","update":{"placeholder":%q}}`, txt2)},
		}, bothTXT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, st := range tc.steps {
				s.ok(st[0], "/skydns/api/"+tc.name, st[1])
			}
			if got := valuesOf(s, tc.name, tc.typ); !slices.Equal(got, tc.want) {
				t.Fatalf("%s serves %v, want %v", tc.name, got, tc.want)
			}
			// Both keys read back as the name for every reader.
			full := tc.name + ".skydns.local."
			if got := len(names(t, c.stored("skydns.local."))[full]); got != len(tc.want) {
				t.Fatalf("%d keys read back as %s, want %d", got, full, len(tc.want))
			}
			// Deleting one leaves the other.
			del := fmt.Sprintf(`{"type":"AAAA","ips":[%q]}`, tc.want[0])
			if tc.typ == record.TypeTXT {
				del = fmt.Sprintf(`{"type":"TXT","text":%q}`, tc.want[0])
			}
			s.ok("DELETE", "/skydns/api/"+tc.name, del)
			if got := valuesOf(s, tc.name, tc.typ); !slices.Equal(got, tc.want[1:]) {
				t.Fatalf("after deleting %s: %v", tc.want[0], got)
			}
		})
	}

	// The record at the colliding key belongs to the Kubernetes sync: a
	// POST of the other address goes beside it and leaves it alone.
	kubeKey := record.Key(prefix, "owned.skydns.local.", record.ID(record.Record{Type: record.TypeAAAA, Host: ip1}))
	kubeValue := fmt.Sprintf(`{"type":"AAAA","host":%q,"source":"kube","cluster":"test"}`, ip1)
	c.put(kubeKey, kubeValue)
	eventually(t, "the sync's record", func() bool { return len(valuesOf(s, "owned", record.TypeAAAA)) == 1 })
	s.ok("POST", "/skydns/api/owned", fmt.Sprintf(`{"type":"AAAA","ips":[%q]}`, ip2))
	if got := valuesOf(s, "owned", record.TypeAAAA); !slices.Equal(got, both) {
		t.Fatalf("owned serves %v, want %v", got, both)
	}
	if got := c.stored("skydns.local.")[kubeKey]; got.Host != ip1 || got.Source != "kube" {
		t.Fatalf("the sync's record became %+v", got)
	}
	if code, body := s.status("PUT", "/skydns/api/owned", fmt.Sprintf(`{"type":"AAAA","update":{%q:"2001:db8:ffff::7"}}`, ip1)); code != 403 {
		t.Fatalf("PUT on the sync's record: %d %s", code, body)
	}
}

// aliasesOf lists the names that are CNAMEs of target in etcd, sorted.
func aliasesOf(c *cluster, target string) []string {
	c.t.Helper()
	var out []string
	for n, recs := range names(c.t, c.stored("skydns.local.")) {
		for _, r := range recs {
			if r.Type == record.TypeCNAME && r.Host == target {
				out = append(out, display(n))
			}
		}
	}
	sort.Strings(out)
	return out
}

// Item 5: a CNAME update map is one simultaneous rename; what cannot be
// one is refused, and no alias is lost either way.
func TestHostileCNAMERenames(t *testing.T) {
	c := newCluster(t)
	s := c.start(nil)
	for i, tc := range []struct {
		before []string
		update string
		code   int
		after  []string
	}{
		{[]string{"al1", "al2"}, `{"al1":"al2","al2":"al1"}`, 200, []string{"al1", "al2"}},
		{[]string{"b1", "b2"}, `{"b1":"b2","b2":"b3"}`, 200, []string{"b2", "b3"}},
		{[]string{"c1", "c2", "c3"}, `{"c1":"c2","c2":"c3","c3":"c1"}`, 200, []string{"c1", "c2", "c3"}},
		{[]string{"d1"}, `{"d1":"d2"}`, 200, []string{"d2"}},
		{[]string{"e1"}, `{"e1":"e1"}`, 200, []string{"e1"}},
		{[]string{"f1", "f2"}, `{"f1":"f3","f2":"f3"}`, 400, []string{"f1", "f2"}},   // two into one
		{[]string{"g1", "g2"}, `{"g1":"g2"}`, 409, []string{"g1", "g2"}},             // onto an alias
		{[]string{"h1"}, `{"h1":"h2","h1.skydns.local.":"h3"}`, 400, []string{"h1"}}, // one alias twice
		{[]string{"i1"}, `{"i1":"i2","nope":"i3"}`, 404, []string{"i1"}},             // all or nothing
		{[]string{"j1"}, `{"j1":"t0"}`, 400, []string{"j1"}},                         // onto the target
		{[]string{"k1"}, `{"k1":"monitor.example.com."}`, 403, []string{"k1"}},       // outside the zones
	} {
		target := fmt.Sprintf("t%d", i)
		s.ok("POST", "/skydns/api/"+target, `{"type":"A","ips":["192.0.2.1"]}`)
		for _, al := range tc.before {
			s.ok("POST", "/skydns/api/"+target, fmt.Sprintf(`{"type":"cname","alias":%q}`, al))
		}
		update := strings.ReplaceAll(tc.update, `"t0"`, fmt.Sprintf("%q", target))
		code, body := s.status("PUT", "/skydns/api/"+target, `{"type":"cname","update":`+update+`}`)
		if code != tc.code {
			t.Errorf("%s: PUT %s: %d %s, want %d", target, update, code, body, tc.code)
		}
		if got := aliasesOf(c, target+".skydns.local."); !slices.Equal(got, qualify(tc.after)) {
			t.Errorf("%s: after PUT %s the aliases are %v, want %v", target, update, got, qualify(tc.after))
		}
	}
}

func qualify(labels []string) []string {
	out := make([]string, len(labels))
	for i, l := range labels {
		out[i] = l + ".skydns.local"
	}
	return out
}

// Item 7: concurrent POSTs of a→b and b→a, each pair split over two API
// replicas, never both succeed: the loop check is guarded in etcd.
func TestHostileConcurrentCNAMELoops(t *testing.T) {
	c := newCluster(t)
	replicas := []*server{c.start(nil), c.start(nil)}
	const pairs = 30
	type result struct {
		pair, code int
		body       string
	}
	results := make(chan result, 2*pairs)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range pairs {
		for j, dir := range [2][2]string{{"a", "b"}, {"b", "a"}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				// POST on the target makes the alias its CNAME.
				target, alias := fmt.Sprintf("p%d%s", i, dir[0]), fmt.Sprintf("p%d%s", i, dir[1])
				code, body := replicas[j].status("POST", "/skydns/api/"+target, fmt.Sprintf(`{"type":"cname","alias":%q}`, alias))
				results <- result{i, code, body}
			}()
		}
	}
	close(start)
	wg.Wait()
	close(results)
	ok := map[int]int{}
	for r := range results {
		switch r.code {
		case 200:
			ok[r.pair]++
		case 409:
		default:
			t.Errorf("pair %d: %d %s", r.pair, r.code, r.body)
		}
	}
	for i := range pairs {
		if ok[i] != 1 {
			t.Errorf("pair %d: %d of a→b, b→a succeeded, want exactly 1", i, ok[i])
		}
	}
	// No loop in what is stored.
	cnames := map[string]string{}
	for n, recs := range names(t, c.stored("skydns.local.")) {
		for _, r := range recs {
			if r.Type == record.TypeCNAME {
				cnames[n] = r.Host
			}
		}
	}
	for n, target := range cnames {
		if cnames[target] == n {
			t.Errorf("CNAME loop stored: %s ↔ %s", n, target)
		}
	}
}

// Item 11: a policy that would serve a non-host address or break out of a
// health check's HTTP request is refused with 400, and nothing is written.
func TestHostilePolicies(t *testing.T) {
	c := newCluster(t)
	s := c.start(nil)
	s.ok("POST", "/skydns/api/pol", `{"type":"A","ips":["192.0.2.1"]}`)
	for _, tc := range []struct{ policy, msg string }{
		{`{"all-down":"fallback","fallback":["0.0.0.0"]}`, "unspecified"},
		{`{"all-down":"fallback","fallback":["255.255.255.255"]}`, "broadcast"},
		{`{"all-down":"fallback","fallback":["224.0.0.1"]}`, "multicast"},
		{`{"all-down":"fallback","fallback":["fe80::1%eth0"]}`, "zone"},
		{`{"check":{"http":{"host":"a\r\nX-Evil: 1"}}}`, "control character"},
		{`{"check":{"http":{"path":"/h\nHost: evil"}}}`, "control character"},
		{`{"check":{"ports":[` + strings.Repeat("80,", 64) + `80]}}`, "at most 64"},
		{`{"check":{"ports":[` + strings.Repeat("1,", 9999) + `1]}}`, "at most 64"},
		// Issue 12: the checks that see what users see.
		{`{"check":{"http":{"tls-verify":true}}}`, "need scheme https"},
		{`{"check":{"http":{"scheme":"https","min-cert-days":-3}}}`, "min-cert-days -3"},
		{`{"check":{"http":{"match":"` + strings.Repeat("m", 2000) + `"}}}`, "match"},
		{`{"check":{"dns":{"name":"health.example","type":"A"}}}`, "fully qualified"},
		{`{"check":{"dns":{"name":"health.example.","type":"NOPE"}}}`, `type \"NOPE\"`},
		{`{"check":{"grpc":{"port":0}}}`, "grpc port 0"},
	} {
		for _, req := range [][3]string{
			{"PUT", "/skydns/api/pol/policy", tc.policy},
			{"PUT", "/skydns/api/pol", `{"policy":` + tc.policy + `}`},
			{"POST", "/skydns/api/pol", `{"type":"A","ips":["192.0.2.2"],"policy":` + tc.policy + `}`},
		} {
			code, body := s.status(req[0], req[1], req[2])
			if code != 400 || !strings.Contains(body, tc.msg) {
				t.Errorf("%s %s %s: %d %s, want 400 with %q", req[0], req[1], req[2], code, body, tc.msg)
			}
		}
	}
	n := s.get("pol")
	if n.Policy != nil || len(n.Records) != 1 {
		t.Errorf("refused policies wrote: %+v", n)
	}
}

// Item 12: one address in two spellings in an update map is refused: one
// record never becomes two.
func TestHostileUpdateSpellings(t *testing.T) {
	c := newCluster(t)
	s := c.start(nil)
	s.ok("POST", "/skydns/api/sp", `{"type":"A","ips":["192.0.2.9"]}`)
	s.ok("POST", "/skydns/api/sp6", `{"type":"AAAA","ips":["2001:db8::9"]}`)
	s.ok("POST", "/skydns/api/spmx", `{"type":"MX","hosts":["mail"]}`)
	for _, tc := range []struct {
		name, body string
		code       int
		typ        record.Type
		after      []string
	}{
		{"sp", `{"type":"A","update":{"192.0.2.9":"192.0.2.10","::ffff:192.0.2.9":"192.0.2.11"}}`, 400, record.TypeA, []string{"192.0.2.9"}},
		{"sp", `{"type":"A","update":{"192.0.2.9":"192.0.2.10"," 192.0.2.9":"192.0.2.11"}}`, 400, record.TypeA, []string{"192.0.2.9"}},
		{"sp6", `{"type":"AAAA","update":{"2001:db8::9":"2001:db8::a","2001:DB8:0::9":"2001:db8::b"}}`, 400, record.TypeAAAA, []string{"2001:db8::9"}},
		{"spmx", `{"type":"MX","update":{"mail":"m1","mail.skydns.local.":"m2"}}`, 400, record.TypeMX, []string{"mail.skydns.local"}},
		// Values are normalized too: a mapped address is stored as IPv4.
		{"sp", `{"type":"A","update":{"::ffff:192.0.2.9":"::ffff:192.0.2.12"}}`, 200, record.TypeA, []string{"192.0.2.12"}},
	} {
		code, body := s.status("PUT", "/skydns/api/"+tc.name, tc.body)
		if code != tc.code {
			t.Errorf("PUT %s: %d %s, want %d", tc.body, code, body, tc.code)
		}
		if got := valuesOf(s, tc.name, tc.typ); !slices.Equal(got, tc.after) {
			t.Errorf("after PUT %s: %v, want %v", tc.body, got, tc.after)
		}
	}
}
