package store

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/record"
)

// Every key RecordKey gives reads back, with record.ParseKey, as the name
// it was made for, including a CNAME whose name looks like an id.
func TestRecordKeyRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  record.Record
		key  string
	}{
		{"cctv2.skydns.local.", record.Record{Type: record.TypeA, Host: "192.0.2.1"}, ""},
		{"skydns.local.", record.Record{Type: record.TypeMX, Host: "mail.skydns.local.", Priority: 10}, ""},
		{"tv1.skydns.local.", record.Record{Type: record.TypeCNAME, Host: "cctv2.skydns.local."}, "/skydns/local/skydns/tv1"},
		{"deadbeef.skydns.local.", record.Record{Type: record.TypeCNAME, Host: "cctv2.skydns.local."}, "/skydns/local/skydns/deadbeef/"},
		{"cafe.skydns.local.", record.Record{Type: record.TypeCNAME, Host: "x.example.com."}, "/skydns/local/skydns/cafe"},
		{"_sip._udp.skydns.local.", record.Record{Type: record.TypeSRV, Host: "a.skydns.local.", Port: 5060}, ""},
		{"t.skydns.local.", record.Record{Type: record.TypeTXT, Text: "hello"}, ""},
	} {
		n, _, err := Normalize(tc.rec)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		key, ok := RecordKey("/skydns", tc.name, n, EntryAt(nil))
		if !ok || tc.key != "" && key != tc.key {
			t.Errorf("%s: key %s, %v, want %s", tc.name, key, ok, tc.key)
		}
		keys := []string{key}
		if n.Type != record.TypeCNAME {
			// The key holding a record whose id collides: the next
			// probe, which must read back as the name too.
			other := record.Record{Type: record.TypeTXT, Text: "another record"}
			next, ok := RecordKey("/skydns", tc.name, n, EntryAt([]Entry{{Key: key, Record: other}}))
			if !ok || next == key {
				t.Errorf("%s: key %s taken by another record, RecordKey gives %s, %v", tc.name, key, next, ok)
			}
			same, _ := RecordKey("/skydns", tc.name, n, EntryAt([]Entry{{Key: key, Record: n}}))
			if same != key {
				t.Errorf("%s: the key holding the record itself is %s, RecordKey gives %s", tc.name, key, same)
			}
			keys = append(keys, next)
		}
		for _, key := range keys {
			got, _, err := record.ParseKey("/skydns", key, n)
			if err != nil || got != tc.name {
				t.Errorf("%s: key %s reads back as %q, %v", tc.name, key, got, err)
			}
		}
	}
}

func TestTopZones(t *testing.T) {
	got, err := topZones([]string{"skydns.local", "Kube.Skydns.Local.", "example.org.", "skydns.local."})
	if err != nil || !slices.Equal(got, []string{"skydns.local.", "example.org."}) {
		t.Errorf("got %v, %v", got, err)
	}
	if _, err := topZones([]string{"."}); err == nil {
		t.Error("the root zone was accepted")
	}
}

// The mirror holds a zone's records, the apex's own-path record included,
// leaves out a sibling zone that shares the key prefix, and pages names.
func TestMirror(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	for k, v := range map[string]string{
		"/skydns/local/skydns":                 `{"type":"TXT","text":"apex"}`,
		"/skydns/local/skydns/a/0a0b0c0d":      `{"host":"192.0.2.1"}`,
		"/skydns/local/skydns/a/b/1a1b1c1d":    `{"host":"192.0.2.2"}`,
		"/skydns/local/skydns/tv1/":            `{"type":"CNAME","host":"a.skydns.local"}`,
		"/skydns/local/skydnsx/z/0a0b0c0d":     `{"host":"192.0.2.9"}`,
		"/skydns/local/skydns/bad/0a0b0c0d":    `not json`,
		"/skydns/org/example/www/0a0b0c0d":     `{"host":"203.0.113.1"}`,
		"/skydns/monitor/status/192.0.2.1":     `{"status":"UP"}`,
		"/skydns/policy/a.skydns.local":        `{"mode":"random","source":"api"}`,
		"/skydns/local/skydns/a/b/c/2a2b2c2d/": `{"host":"192.0.2.3"}`,
	} {
		if _, err := cli.Put(context.Background(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(cli, Options{Prefix: "/skydns", StatusPath: "/skydns/monitor/status/",
		Zones: []string{"skydns.local.", "example.org."}, ProgressInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-s.Ready()

	var all []string
	after := ""
	for range 10 {
		names, next := s.Names(after, 2)
		all = append(all, names...)
		if next == "" {
			break
		}
		after = next
	}
	want := []string{"skydns.local.", "a.skydns.local.", "b.a.skydns.local.", "c.b.a.skydns.local.", "tv1.skydns.local.", "www.example.org."}
	if !slices.Equal(all, want) {
		t.Errorf("names %v\nwant  %v", all, want)
	}
	if st, ok := s.Health(record.Record{Host: "192.0.2.1", Type: record.TypeA}.IP()); !ok || st.Status != "UP" {
		t.Errorf("health %+v %v", st, ok)
	}
	if p, ok := s.Policy("a.skydns.local."); !ok || p.Source != "api" || p.Policy.Mode != "random" {
		t.Errorf("policy %+v %v", p, ok)
	}
	// A change shows once Wait returns for its revision.
	resp, err := cli.Delete(context.Background(), "/skydns/local/skydns/tv1/")
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if !s.Wait(wctx, resp.Header.Revision, "/skydns/local/skydns/tv1/") || len(s.Records("tv1.skydns.local.")) != 0 {
		t.Errorf("delete not seen: %v", s.Records("tv1.skydns.local."))
	}
}

// Overrides are mirrored by IP, unreadable ones kept with their error;
// NamesOf finds the names with records of an address.
func TestOverridesMirror(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	for k, v := range map[string]string{
		"/skydns/local/skydns/a/0a0b0c0d":           `{"host":"192.0.2.1"}`,
		"/skydns/local/skydns/b/0a0b0c0d":           `{"host":"192.0.2.1"}`,
		"/skydns/local/skydns/c/0a0b0c0e":           `{"host":"192.0.2.2"}`,
		"/skydns/monitor/override/192.0.2.1":        `{"status":"DOWN","reason":"upgrade","user":"alice"}`,
		"/skydns/monitor/override/2001:db8::1":      `{"status":"UP"}`,
		"/skydns/monitor/override/192.0.2.3":        `{"status":"SIDEWAYS"}`,
		"/skydns/monitor/override/not-an-ip":        `{"status":"DOWN"}`,
		"/skydns/monitor/override/192.0.2.1/nested": `{"status":"DOWN"}`,
	} {
		if _, err := cli.Put(context.Background(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(cli, Options{Prefix: "/skydns", StatusPath: "/skydns/monitor/status/",
		Zones: []string{"skydns.local."}, ProgressInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-s.Ready()

	var got []string
	for _, o := range s.Overrides() {
		got = append(got, fmt.Sprintf("%s %s %v", o.IP, o.Override.Status, o.Err != nil))
	}
	want := []string{"192.0.2.1 DOWN false", "192.0.2.3  true", "2001:db8::1 UP false"}
	if !slices.Equal(got, want) {
		t.Errorf("overrides %q, want %q", got, want)
	}
	ip := netip.MustParseAddr("192.0.2.1")
	if o, ok := s.Override(ip); !ok || o.Override.User != "alice" || o.Key != "/skydns/monitor/override/192.0.2.1" {
		t.Errorf("Override = %+v %v", o, ok)
	}
	if n := s.NamesOf(ip); !slices.Equal(n, []string{"a.skydns.local.", "b.skydns.local."}) {
		t.Errorf("NamesOf = %v", n)
	}
	resp, err := cli.Delete(context.Background(), "/skydns/local/skydns/a/0a0b0c0d")
	if err != nil {
		t.Fatal(err)
	}
	resp2, err := cli.Delete(context.Background(), s.OverrideKey(ip))
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	s.Wait(wctx, resp.Header.Revision, "/skydns/local/skydns/a/0a0b0c0d")
	s.Wait(wctx, resp2.Header.Revision, s.OverrideKey(ip))
	if n := s.NamesOf(ip); !slices.Equal(n, []string{"b.skydns.local."}) {
		t.Errorf("NamesOf after a delete = %v", n)
	}
	if _, ok := s.Override(ip); ok {
		t.Error("deleted override still mirrored")
	}
}

// Leaves below a name are that name's records too (record.Rule): the
// mirror lists www with both addresses, and a change of a leaf reaches
// both names it serves.
func TestMirrorLeaves(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	for k, v := range map[string]string{
		"/skydns/local/skydns/www/ttggxuxp":            `{"host":"198.51.100.7"}`,
		"/skydns/local/skydns/www/jzlnykyj":            `{"host":"198.51.100.8"}`,
		"/skydns/local/skydns/svc/default/svc-0/x1/":   `{"host":"198.51.100.9","type":"A"}`,
		"/skydns/local/skydns/txtrec/aa01":             `{"text":"hello"}`,
		"/skydns/local/skydns/tv1/":                    `{"type":"CNAME","host":"www.skydns.local"}`,
		"/skydns/local/skydns/x":                       `{"host":"198.51.100.10"}`,
		"/skydns/local/skydns/sub/h":                   `{"host":"198.51.100.11"}`,
		"/skydns/local/skydns/svc/default/nginx/0a0b/": `{"host":"198.51.100.12"}`,
	} {
		if _, err := cli.Put(context.Background(), k, v); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(cli, Options{Prefix: "/skydns", StatusPath: "/skydns/monitor/status/",
		Zones: []string{"skydns.local.", "sub.skydns.local."}, ProgressInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	<-s.Ready()

	names, _ := s.Names("", 100)
	want := []string{"h.sub.skydns.local.", "nginx.default.svc.skydns.local.", "svc-0.default.svc.skydns.local.",
		"x1.svc-0.default.svc.skydns.local.", "tv1.skydns.local.", "txtrec.skydns.local.", "aa01.txtrec.skydns.local.",
		"www.skydns.local.", "jzlnykyj.www.skydns.local.", "ttggxuxp.www.skydns.local.", "x.skydns.local."}
	if !slices.Equal(names, want) {
		t.Errorf("names %v\nwant  %v", names, want)
	}
	hosts := func(name string) []string {
		var out []string
		for _, e := range s.Records(name) {
			out = append(out, e.Record.Host+e.Record.Text)
		}
		return out
	}
	if got := hosts("www.skydns.local."); !slices.Equal(got, []string{"198.51.100.8", "198.51.100.7"}) {
		t.Errorf("www: %v", got)
	}
	if n := s.NamesOf(netip.MustParseAddr("198.51.100.7")); !slices.Equal(n, []string{"ttggxuxp.www.skydns.local.", "www.skydns.local."}) {
		t.Errorf("NamesOf = %v", n)
	}

	resp, err := cli.Put(context.Background(), "/skydns/local/skydns/www/ttggxuxp", `{"host":"www.example.org"}`)
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	s.Wait(wctx, resp.Header.Revision, "/skydns/local/skydns/www/ttggxuxp")
	if got := hosts("www.skydns.local."); !slices.Equal(got, []string{"198.51.100.8"}) {
		t.Errorf("www after its leaf became a CNAME: %v", got)
	}
	if got := hosts("ttggxuxp.www.skydns.local."); !slices.Equal(got, []string{"www.example.org."}) {
		t.Errorf("the leaf's own name: %v", got)
	}
	dresp, err := cli.Delete(context.Background(), "/skydns/local/skydns/www/jzlnykyj")
	if err != nil {
		t.Fatal(err)
	}
	s.Wait(wctx, dresp.Header.Revision, "/skydns/local/skydns/www/jzlnykyj")
	if got := hosts("www.skydns.local."); len(got) != 0 {
		t.Errorf("www after its last leaf went: %v", got)
	}
	if names, _ := s.Names("", 100); slices.Contains(names, "www.skydns.local.") || slices.Contains(names, "jzlnykyj.www.skydns.local.") {
		t.Errorf("names after the delete: %v", names)
	}
}
