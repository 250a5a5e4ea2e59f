package forward

import (
	"context"
	"fmt"
	"hash/maphash"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// ask resolves name/qtype and fails the test on an error.
func ask(t *testing.T, f *Forwarder, name string, qtype uint16, do bool) *dns.Msg {
	t.Helper()
	req := query(name, qtype)
	if do {
		req.SetEdns0(1232, true)
	}
	r, err := f.Resolve(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ttls lists the TTLs of the answer and authority sections.
func ttls(r *dns.Msg) []uint32 {
	var out []uint32
	for _, rr := range append(append([]dns.RR{}, r.Answer...), r.Ns...) {
		out = append(out, rr.Header().Ttl)
	}
	return out
}

func TestCacheTTL(t *testing.T) {
	type step struct {
		after   time.Duration // clock moved by this much before the ask
		queries int32         // upstream queries seen after the ask
		ttls    []uint32      // TTLs in the reply
	}
	tests := []struct {
		name   string
		h      dns.HandlerFunc
		maxTTL time.Duration
		steps  []step
	}{
		{"positive, decremented then expired", answer(300, "192.0.2.1"), 0, []step{
			{0, 1, []uint32{300}},
			{0, 1, []uint32{300}},
			{10 * time.Second, 1, []uint32{290}},
			{289*time.Second + 500*time.Millisecond, 1, []uint32{1}},
			{500 * time.Millisecond, 2, []uint32{300}},
		}},
		{"TTL capped by MaxTTL", answer(86400, "192.0.2.1"), time.Minute, []step{
			{0, 1, []uint32{60}},
			{59 * time.Second, 1, []uint32{1}},
			{time.Second, 2, []uint32{60}},
		}},
		{"TTL 0 not cached", answer(0, "192.0.2.1"), 0, []step{
			{0, 1, []uint32{0}},
			{0, 2, []uint32{0}},
		}},
		{"NXDOMAIN for the SOA MINIMUM", negative(dns.RcodeNameError, 3600, 30), 0, []step{
			{0, 1, []uint32{30}},
			{29 * time.Second, 1, []uint32{1}},
			{time.Second, 2, []uint32{30}},
		}},
		{"NODATA for the SOA TTL", negative(dns.RcodeSuccess, 20, 300), 0, []step{
			{0, 1, []uint32{20}},
			{5 * time.Second, 1, []uint32{15}},
			{15 * time.Second, 2, []uint32{20}},
		}},
		{"NXDOMAIN without SOA not cached", negative(dns.RcodeNameError, 0, 0), 0, []step{
			{0, 1, nil},
			{0, 2, nil},
		}},
		{"NODATA without SOA not cached", negative(dns.RcodeSuccess, 0, 0), 0, []step{
			{0, 1, nil},
			{0, 2, nil},
		}},
		{"NOTIMP passed on, not cached", rcode(dns.RcodeNotImplemented), 0, []step{
			{0, 1, nil},
			{0, 2, nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := startServer(t, tt.h)
			clk := newClock()
			f := newForwarder(t, Options{Upstreams: []string{up.addr}, CacheSize: 10, MaxTTL: tt.maxTTL, now: clk.now})
			for i, s := range tt.steps {
				clk.advance(s.after)
				r := ask(t, f, "Cached.Example.org.", dns.TypeA, false)
				if got := up.queries.Load(); got != s.queries {
					t.Errorf("step %d: upstream saw %d queries, want %d", i, got, s.queries)
				}
				if got := ttls(r); fmt.Sprint(got) != fmt.Sprint(s.ttls) {
					t.Errorf("step %d: TTLs %v, want %v", i, got, s.ttls)
				}
			}
		})
	}
}

func TestCacheKey(t *testing.T) {
	up := startServer(t, answer(300, "192.0.2.1"))
	f := newForwarder(t, Options{Upstreams: []string{up.addr}, CacheSize: 10})
	steps := []struct {
		name    string
		qtype   uint16
		do      bool
		queries int32
	}{
		{"www.example.org.", dns.TypeA, false, 1},
		{"WWW.EXAMPLE.ORG.", dns.TypeA, false, 1}, // case does not matter
		{"www.example.org.", dns.TypeA, true, 2},  // DO does
		{"www.example.org.", dns.TypeA, true, 2},
		{"www.example.org.", dns.TypeAAAA, false, 3}, // type does
		{"www.example.org", dns.TypeA, false, 3},     // not fully qualified
	}
	for i, s := range steps {
		r := ask(t, f, s.name, s.qtype, s.do)
		if r.Question[0].Name != s.name {
			t.Errorf("step %d: question %s, want %s", i, r.Question[0].Name, s.name)
		}
		if got := up.queries.Load(); got != s.queries {
			t.Errorf("step %d: upstream saw %d queries, want %d", i, got, s.queries)
		}
	}
}

func TestCacheBound(t *testing.T) {
	reg := prometheus.NewRegistry()
	up := startServer(t, answer(300, "192.0.2.1"))
	for _, size := range []int{1, 50, 300} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			f := newForwarder(t, Options{Upstreams: []string{up.addr}, CacheSize: size, Registerer: reg})
			defer f.Close()
			for i := range 600 {
				ask(t, f, fmt.Sprintf("n%d.example.org.", i), dns.TypeA, false)
				if n := f.cache.len(); n > size {
					t.Fatalf("after %d names the cache holds %d entries, bound %d", i+1, n, size)
				}
			}
			if n := f.cache.len(); n < size*3/4 {
				t.Errorf("cache of %d holds only %d entries", size, n)
			}
			if got := gather(t, reg)["skydns_cache_entries"]; got != float64(f.cache.len()) {
				t.Errorf("entries gauge %v, cache holds %d", got, f.cache.len())
			}
		})
	}
	// The gauge tracks all forwarders on the registry; all are closed.
	if got := gather(t, reg)["skydns_cache_entries"]; got != 0 {
		t.Errorf("entries gauge %v after Close", got)
	}
}

func TestCacheSharding(t *testing.T) {
	tests := []struct{ size, shards int }{{1, 1}, {255, 1}, {256, 2}, {10000, 16}, {1000003, 16}}
	for _, tt := range tests {
		c := newCache(tt.size, prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"}))
		total := 0
		for i := range c.shards {
			total += c.shards[i].max
		}
		if len(c.shards) != tt.shards || total != tt.size {
			t.Errorf("size %d: %d shards holding %d, want %d holding %d", tt.size, len(c.shards), total, tt.shards, tt.size)
		}
	}
}

// TestClockEviction checks the second chance on a one-shard cache.
func TestClockEviction(t *testing.T) {
	c := &cache{
		seed:    maphash.MakeSeed(),
		shards:  []shard{{index: map[key]*entry{}, max: 3}},
		entries: prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"}),
	}
	now := time.Unix(1e9, 0)
	k := func(name string) key { return key{name: name, qtype: dns.TypeA, qclass: dns.ClassINET} }
	msg := new(dns.Msg)
	has := func(names ...string) string {
		var out string
		for _, n := range names {
			if c.shards[0].index[k(n)] != nil {
				out += n
			}
		}
		return out
	}
	c.put(k("a"), msg, now, 100)
	c.put(k("b"), msg, now, 100)
	c.put(k("c"), msg, now, 100)
	if c.get(k("a"), now) == nil {
		t.Fatal("a missing")
	}
	c.put(k("d"), msg, now, 100) // a was hit: b goes
	if got := has("a", "b", "c", "d"); got != "acd" {
		t.Fatalf("after d: %s, want acd", got)
	}
	c.put(k("a"), msg, now, 100) // replacing does not evict
	if got := has("a", "b", "c", "d"); got != "acd" || c.len() != 3 {
		t.Fatalf("after a again: %s (%d), want acd", got, c.len())
	}
	c.put(k("short"), msg, now, 1)
	if got := has("a", "c", "d", "short"); got != "adshort" {
		t.Fatalf("after short: %s, want adshort", got)
	}
	later := now.Add(2 * time.Second)
	if c.get(k("short"), later) != nil {
		t.Fatal("expired entry served")
	}
	for _, n := range []string{"a", "d"} {
		if c.get(k(n), later) == nil {
			t.Fatalf("%s missing", n)
		}
	}
	c.put(k("e"), msg, later, 100) // short expired: it goes though the others were hit
	if got := has("a", "d", "short", "e"); got != "ade" {
		t.Fatalf("after e: %s, want ade", got)
	}
}

func TestResolvConf(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    []string
		wantErr string
	}{
		{"typical", "# generated\nsearch example.org\nnameserver 192.0.2.1\nnameserver 192.0.2.2\noptions ndots:5 timeout:1\n",
			[]string{"192.0.2.1:53", "192.0.2.2:53"}, ""},
		{"comments and blanks", "; comment\n#nameserver 192.0.2.9\n\n   \nnameserver\t192.0.2.1  # inline\n",
			[]string{"192.0.2.1:53"}, ""},
		{"IPv6 and zones", "nameserver ::1\nnameserver 2001:db8::53\nnameserver fe80::1%eth0\n",
			[]string{"[::1]:53", "[2001:db8::53]:53", "[fe80::1%eth0]:53"}, ""},
		{"repeats dropped", "nameserver 192.0.2.1\nnameserver 192.0.2.1\n", []string{"192.0.2.1:53"}, ""},
		{"CRLF", "nameserver 192.0.2.1\r\nnameserver 192.0.2.2\r\n", []string{"192.0.2.1:53", "192.0.2.2:53"}, ""},
		{"no trailing newline", "nameserver 192.0.2.1", []string{"192.0.2.1:53"}, ""},
		{"no nameservers", "search example.org\n", nil, ""},
		{"empty", "", nil, ""},
		{"hostname", "nameserver 192.0.2.1\nnameserver dns.example\n", nil, ":2: nameserver \"dns.example\" is not an IP address"},
		{"missing address", "nameserver\n", nil, ":1: nameserver without an address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := t.TempDir() + "/resolv.conf"
			if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ResolvConf(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if _, err := ResolvConf(t.TempDir() + "/missing"); err == nil {
		t.Error("missing file: no error")
	}
}

func BenchmarkCacheHit(b *testing.B) {
	f, req := benchForwarder(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Resolve(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCacheHitParallel(b *testing.B) {
	f, req := benchForwarder(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := f.Resolve(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// benchForwarder returns a forwarder whose cache holds the answer to req:
// one A record, asked with EDNS as most clients do.
func benchForwarder(b *testing.B) (*Forwarder, *dns.Msg) {
	up := startServer(b, answer(300, "192.0.2.1"))
	f := newForwarder(b, Options{Upstreams: []string{up.addr}, CacheSize: 10000})
	req := query("bench.example.org.", dns.TypeA)
	req.SetEdns0(1232, false)
	if _, err := f.Resolve(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if n := up.queries.Load(); n != 1 {
			b.Errorf("upstream saw %d queries: not all hits", n)
		}
	})
	return f, req
}
