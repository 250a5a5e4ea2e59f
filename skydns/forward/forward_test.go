package forward

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

func TestResolveForwards(t *testing.T) {
	up := startServer(t, answer(300, "192.0.2.1"))
	f := newForwarder(t, Options{Upstreams: []string{up.addr}, CacheSize: 100})

	tests := []struct {
		name  string
		qname string
		rd    bool
		edns  bool
		do    bool
	}{
		{"mixed case", "WwW.ExAmple.ORG.", true, false, false},
		{"no recursion desired", "norecurse.example.org.", false, false, false},
		{"edns", "Edns.Example.org.", true, true, false},
		{"edns with DO", "do.example.org.", true, true, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := query(tt.qname, dns.TypeA)
			req.Id = uint16(0x1000 + i)
			req.RecursionDesired = tt.rd
			if tt.edns {
				req.SetEdns0(4096, tt.do)
			}
			// Asked twice: the first answer comes from the wire, the
			// second from the cache, and both must look the same.
			for _, from := range []string{"upstream", "cache"} {
				r, err := f.Resolve(context.Background(), req)
				if err != nil {
					t.Fatalf("%s: %v", from, err)
				}
				if r.Id != req.Id || !r.Response || r.Rcode != dns.RcodeSuccess {
					t.Errorf("%s: id %#x response %v rcode %s", from, r.Id, r.Response, rcodeName(r.Rcode))
				}
				if len(r.Question) != 1 || r.Question[0].Name != tt.qname {
					t.Errorf("%s: question %v, want %s as asked", from, r.Question, tt.qname)
				}
				if r.RecursionDesired != tt.rd || !r.RecursionAvailable || r.Authoritative {
					t.Errorf("%s: RD %v RA %v AA %v", from, r.RecursionDesired, r.RecursionAvailable, r.Authoritative)
				}
				if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
					t.Fatalf("%s: answer %v", from, r.Answer)
				}
				opt := r.IsEdns0()
				if (opt != nil) != tt.edns || (opt != nil && opt.Do() != tt.do) {
					t.Errorf("%s: OPT %v, want EDNS %v DO %v", from, opt, tt.edns, tt.do)
				}
				if _, err := r.Pack(); err != nil {
					t.Errorf("%s: reply does not pack: %v", from, err)
				}
			}
			if n := up.queries.Load(); n != int32(i+1) {
				t.Errorf("upstream saw %d queries, want %d", n, i+1)
			}
			q := up.lastQuery()
			if q.Question[0].Name != strings.ToLower(tt.qname) || !q.RecursionDesired {
				t.Errorf("upstream got %v RD %v", q.Question, q.RecursionDesired)
			}
			opt := q.IsEdns0()
			if opt == nil || opt.UDPSize() != ednsSize || opt.Do() != tt.do {
				t.Errorf("upstream OPT %v, want size %d DO %v", opt, ednsSize, tt.do)
			}
		})
	}
}

func TestReplyIsCallersOwn(t *testing.T) {
	up := startServer(t, answer(300, "192.0.2.1"))
	f := newForwarder(t, Options{Upstreams: []string{up.addr}, CacheSize: 10})
	req := query("own.example.org.", dns.TypeA)
	r1, err := f.Resolve(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	// Scribble over everything the caller could reach.
	r1.Question[0].Name = "scribbled."
	r1.Answer[0].Header().Ttl = 1
	r1.Answer[0].(*dns.A).A[3] = 99
	r1.Answer = append(r1.Answer, r1.Answer[0])
	if req.Question[0].Name != "own.example.org." {
		t.Fatalf("request question changed to %s", req.Question[0].Name)
	}
	r2, err := f.Resolve(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(r2.Answer) != 1 || r2.Answer[0].Header().Ttl != 300 || r2.Answer[0].(*dns.A).A.String() != "192.0.2.1" ||
		r2.Question[0].Name != "own.example.org." {
		t.Fatalf("cached answer was changed through a reply: %v", r2)
	}
}

func TestTruncatedRetriesOverTCP(t *testing.T) {
	var ips []string
	for i := range 100 {
		ips = append(ips, fmt.Sprintf("10.0.%d.%d", i/250, i%250+1))
	}
	full := answer(60, ips...)
	tests := []struct {
		name string
		udp  dns.HandlerFunc
	}{
		{"TC with no records", func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Truncated = true
			_ = w.WriteMsg(m)
		}},
		{"TC cut mid-record", func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Truncated = true
			m.Answer = []dns.RR{&dns.A{
				Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
				A:   net.ParseIP("203.0.113.1"),
			}}
			b, err := m.Pack()
			if err != nil {
				panic(err)
			}
			_, _ = w.Write(b[:len(b)-2])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := startServer(t, func(w dns.ResponseWriter, r *dns.Msg) {
				if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
					tt.udp(w, r)
					return
				}
				full(w, r)
			})
			f := newForwarder(t, Options{Upstreams: []string{up.addr}, CacheSize: 10})
			r, err := f.Resolve(context.Background(), query("big.example.org.", dns.TypeA))
			if err != nil {
				t.Fatal(err)
			}
			if r.Truncated || len(r.Answer) != len(ips) {
				t.Fatalf("TC %v with %d answers, want the %d over TCP", r.Truncated, len(r.Answer), len(ips))
			}
			if up.queries.Load() != 2 || up.tcp.Load() != 1 {
				t.Fatalf("upstream saw %d queries, %d over TCP; want UDP then TCP", up.queries.Load(), up.tcp.Load())
			}
		})
	}
}

func TestFailover(t *testing.T) {
	const budget = time.Second
	tests := []struct {
		name  string
		first func(t *testing.T) (addr string, hit func() int32)
	}{
		{"dead server", func(t *testing.T) (string, func() int32) {
			d := startDead(t)
			return d.addr, d.packets.Load
		}},
		{"SERVFAIL", func(t *testing.T) (string, func() int32) {
			s := startServer(t, rcode(dns.RcodeServerFailure))
			return s.addr, s.queries.Load
		}},
		{"REFUSED", func(t *testing.T) (string, func() int32) {
			s := startServer(t, rcode(dns.RcodeRefused))
			return s.addr, s.queries.Load
		}},
		{"closed port", func(t *testing.T) (string, func() int32) {
			return closedPort(t), func() int32 { return 1 }
		}},
		{"reply to another question", func(t *testing.T) (string, func() int32) {
			s := startServer(t, func(w dns.ResponseWriter, r *dns.Msg) {
				r.Question[0].Name = "other.example."
				answer(60, "192.0.2.66")(w, r)
			})
			return s.addr, s.queries.Load
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad, hit := tt.first(t)
			live := startServer(t, answer(60, "192.0.2.1"))
			f := newForwarder(t, Options{Upstreams: []string{bad, live.addr}, Timeout: budget})
			// A fresh forwarder starts at the first server.
			start := time.Now()
			r, err := f.Resolve(context.Background(), query("a.example.org.", dns.TypeA))
			took := time.Since(start)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
				t.Fatalf("answer %v", r.Answer)
			}
			if took >= budget {
				t.Errorf("took %v, over the %v budget", took, budget)
			}
			if hit() == 0 {
				t.Errorf("the failing server was never asked")
			}
			if live.queries.Load() != 1 {
				t.Errorf("live server saw %d queries", live.queries.Load())
			}
		})
	}
}

func TestDeadServerSkipped(t *testing.T) {
	dead := startDead(t)
	live := startServer(t, answer(60, "192.0.2.1"))
	f := newForwarder(t, Options{Upstreams: []string{dead.addr, live.addr}, Timeout: time.Second})
	if _, err := f.Resolve(context.Background(), query("one.example.org.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	// The rotation would start at the dead server again now and then;
	// its backoff keeps it last.
	for i := range 4 {
		start := time.Now()
		if _, err := f.Resolve(context.Background(), query(fmt.Sprintf("n%d.example.org.", i), dns.TypeA)); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 200*time.Millisecond {
			t.Errorf("query %d took %v: the dead server was not skipped", i, took)
		}
	}
	if n := dead.packets.Load(); n != 1 {
		t.Errorf("dead server got %d queries, want 1", n)
	}
}

func TestAllServersFail(t *testing.T) {
	dead := startDead(t)
	sf := startServer(t, rcode(dns.RcodeServerFailure))
	f := newForwarder(t, Options{Upstreams: []string{dead.addr, sf.addr}, Timeout: time.Second, CacheSize: 10})
	start := time.Now()
	_, err := f.Resolve(context.Background(), query("Example.ORG.", dns.TypeA))
	took := time.Since(start)
	want := fmt.Sprintf("forward: no upstream answered for example.org. A: %s: i/o timeout; %s: SERVFAIL", dead.addr, sf.addr)
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant  %s", err, want)
	}
	if took > 1500*time.Millisecond {
		t.Errorf("took %v for a 1s budget", took)
	}
	// SERVFAIL is never cached: the next ask goes upstream again.
	if _, err := f.Resolve(context.Background(), query("example.org.", dns.TypeA)); err == nil {
		t.Fatal("second ask answered")
	}
	if n := sf.queries.Load(); n != 2 {
		t.Errorf("SERVFAIL server saw %d queries, want 2", n)
	}
	if f.cache.len() != 0 {
		t.Errorf("cache holds %d entries", f.cache.len())
	}
}

func TestBudgetSplitAcrossDeadServers(t *testing.T) {
	var addrs []string
	var deads []*deadServer
	for range 3 {
		d := startDead(t)
		deads = append(deads, d)
		addrs = append(addrs, d.addr)
	}
	const budget = 900 * time.Millisecond
	f := newForwarder(t, Options{Upstreams: addrs, Timeout: budget})
	start := time.Now()
	_, err := f.Resolve(context.Background(), query("x.example.org.", dns.TypeA))
	took := time.Since(start)
	if err == nil {
		t.Fatal("answered")
	}
	if took < budget-50*time.Millisecond || took > budget+300*time.Millisecond {
		t.Errorf("took %v for a budget of %v", took, budget)
	}
	for i, d := range deads {
		if d.packets.Load() != 1 {
			t.Errorf("dead server %d asked %d times, want once", i, d.packets.Load())
		}
	}
}

func TestStubZoneRouting(t *testing.T) {
	servers := map[string]*fakeServer{}
	for i, name := range []string{"default", "example.org", "sub.example.org", "other.net"} {
		servers[name] = startServer(t, answer(60, fmt.Sprintf("192.0.2.%d", i+1)))
	}
	f := newForwarder(t, Options{
		Upstreams: []string{servers["default"].addr},
		StubZones: map[string][]string{
			"Example.Org":      {servers["example.org"].addr},
			"sub.example.org.": {servers["sub.example.org"].addr},
			"other.net.":       {servers["other.net"].addr},
		},
	})
	tests := []struct {
		qname string
		want  string
	}{
		{"a.sub.example.org.", "sub.example.org"},
		{"SUB.Example.ORG.", "sub.example.org"},
		{"x.y.z.sub.example.org.", "sub.example.org"},
		{"a.example.org.", "example.org"},
		{"example.org.", "example.org"},
		{"notsub.example.org.", "example.org"},
		{"badexample.org.", "default"},
		{"org.", "default"},
		{"other.net.", "other.net"},
		{"a.other.net.", "other.net"},
		{"net.", "default"},
		{`a\.other.net.`, "default"}, // one label "a.other" under net.
		{"www.google.com.", "default"},
		{".", "default"},
	}
	for _, tt := range tests {
		t.Run(tt.qname, func(t *testing.T) {
			before := map[string]int32{}
			for n, s := range servers {
				before[n] = s.queries.Load()
			}
			r, err := f.Resolve(context.Background(), query(tt.qname, dns.TypeA))
			if err != nil {
				t.Fatal(err)
			}
			for n, s := range servers {
				got := s.queries.Load() - before[n]
				if want := map[bool]int32{true: 1}[n == tt.want]; got != want {
					t.Errorf("%s saw %d queries, want %d", n, got, want)
				}
			}
			if len(r.Answer) != 1 {
				t.Errorf("answer %v", r.Answer)
			}
		})
	}
}

func TestNoServers(t *testing.T) {
	stub := startServer(t, answer(60, "192.0.2.1"))
	f := newForwarder(t, Options{StubZones: map[string][]string{"example.org.": {stub.addr}}})
	if _, err := f.Resolve(context.Background(), query("a.example.org.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	_, err := f.Resolve(context.Background(), query("example.com.", dns.TypeA))
	if !errors.Is(err, ErrNoServers) || !strings.Contains(err.Error(), "example.com.") {
		t.Fatalf("error %v, want ErrNoServers for example.com.", err)
	}
}

func TestBadRequests(t *testing.T) {
	up := startServer(t, answer(60, "192.0.2.1"))
	f := newForwarder(t, Options{Upstreams: []string{up.addr}})
	two := query("a.example.org.", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	notify := query("a.example.org.", dns.TypeSOA)
	notify.Opcode = dns.OpcodeNotify
	tests := []struct {
		name string
		req  *dns.Msg
	}{
		{"no question", new(dns.Msg)},
		{"two questions", two},
		{"NOTIFY", notify},
		{"AXFR", query("example.org.", dns.TypeAXFR)},
		{"IXFR", query("example.org.", dns.TypeIXFR)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := f.Resolve(context.Background(), tt.req); err == nil {
				t.Fatal("no error")
			}
		})
	}
	if up.queries.Load() != 0 {
		t.Errorf("upstream saw %d queries", up.queries.Load())
	}
}

func TestCoalescing(t *testing.T) {
	for _, size := range []int{0, 100} {
		t.Run(fmt.Sprintf("cache %d", size), func(t *testing.T) {
			slow := answer(60, "192.0.2.1")
			up := startServer(t, func(w dns.ResponseWriter, r *dns.Msg) {
				time.Sleep(300 * time.Millisecond)
				slow(w, r)
			})
			f := newForwarder(t, Options{Upstreams: []string{up.addr}, CacheSize: size})
			const n = 50
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := range n {
				wg.Go(func() {
					req := query("same.example.org.", dns.TypeA)
					req.Id = uint16(i)
					r, err := f.Resolve(context.Background(), req)
					switch {
					case err != nil:
						errs <- err
					case r.Id != uint16(i) || len(r.Answer) != 1:
						errs <- fmt.Errorf("ask %d: reply id %d, %d answers", i, r.Id, len(r.Answer))
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if q := up.queries.Load(); q > 2 {
				t.Errorf("upstream saw %d queries for %d identical asks", q, n)
			}
		})
	}
}

func TestCallerGivesUp(t *testing.T) {
	slow := answer(60, "192.0.2.1")
	up := startServer(t, func(w dns.ResponseWriter, r *dns.Msg) {
		time.Sleep(400 * time.Millisecond)
		slow(w, r)
	})
	f := newForwarder(t, Options{Upstreams: []string{up.addr}})
	patient := make(chan error, 1)
	go func() {
		_, err := f.Resolve(context.Background(), query("slow.example.org.", dns.TypeA))
		patient <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := f.Resolve(ctx, query("slow.example.org.", dns.TypeA))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the caller's deadline", err)
	}
	if took := time.Since(start); took > 300*time.Millisecond {
		t.Errorf("impatient caller waited %v", took)
	}
	select {
	case err := <-patient:
		if err != nil {
			t.Errorf("patient caller: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("patient caller never answered")
	}
	if q := up.queries.Load(); q != 1 {
		t.Errorf("upstream saw %d queries", q)
	}
}

func TestClose(t *testing.T) {
	dead := startDead(t)
	up := startServer(t, answer(60, "192.0.2.1"))
	f := newForwarder(t, Options{Upstreams: []string{up.addr}, CacheSize: 10,
		StubZones: map[string][]string{"dead.example.": {dead.addr}}})
	if _, err := f.Resolve(context.Background(), query("a.example.org.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	// A query on the wire to a dead server ends with Close, not its budget.
	done := make(chan error, 1)
	go func() {
		_, err := f.Resolve(context.Background(), query("x.dead.example.", dns.TypeA))
		done <- err
	}()
	for i := 0; i < 100 && dead.packets.Load() == 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("in-flight query: %v", err)
		}
		if took := time.Since(start); took > 500*time.Millisecond {
			t.Errorf("in-flight query ended %v after Close", took)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("in-flight query did not end")
	}
	if _, err := f.Resolve(context.Background(), query("a.example.org.", dns.TypeA)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if f.cache.len() != 0 {
		t.Errorf("cache holds %d entries after Close", f.cache.len())
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		want    []string // upstream addresses
		wantErr string
	}{
		{"defaults", Options{Upstreams: []string{"192.0.2.1", "192.0.2.2:5353", "::1", "[2001:db8::1]", "[2001:db8::2]:54"}},
			[]string{"192.0.2.1:53", "192.0.2.2:5353", "[::1]:53", "[2001:db8::1]:53", "[2001:db8::2]:54"}, ""},
		{"repeats dropped", Options{Upstreams: []string{"192.0.2.1", "192.0.2.1:53"}}, []string{"192.0.2.1:53"}, ""},
		{"no servers at all", Options{}, nil, ""},
		{"hostname", Options{Upstreams: []string{"dns.google"}}, nil, `"dns.google" is not an IP address`},
		{"hostname with port", Options{Upstreams: []string{"localhost:53"}}, nil, "not an IP address"},
		{"port 0", Options{Upstreams: []string{"192.0.2.1:0"}}, nil, "port 0"},
		{"bad port", Options{Upstreams: []string{"192.0.2.1:99999"}}, nil, "not an IP address"},
		{"stub without servers", Options{StubZones: map[string][]string{"example.org.": nil}}, nil, "has no servers"},
		{"stub bad server", Options{StubZones: map[string][]string{"example.org.": {"x"}}}, nil, "stub zone example.org.: server"},
		{"stub twice", Options{StubZones: map[string][]string{"example.org.": {"192.0.2.1"}, "EXAMPLE.org": {"192.0.2.2"}}}, nil, "listed twice"},
		{"stub bad name", Options{StubZones: map[string][]string{"a..b": {"192.0.2.1"}}}, nil, "not a domain name"},
		{"negative timeout", Options{Timeout: -time.Second}, nil, "negative Timeout"},
		{"negative cache", Options{CacheSize: -1}, nil, "negative CacheSize"},
		{"MaxTTL under a second", Options{MaxTTL: time.Millisecond}, nil, "MaxTTL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var got []string
			if f.upstreams != nil {
				for _, u := range f.upstreams.servers {
					got = append(got, u.addr)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("upstreams %q, want %q", got, tt.want)
			}
			if f.timeout != defaultTimeout || f.maxTTL != 3600 {
				t.Errorf("timeout %v maxTTL %d", f.timeout, f.maxTTL)
			}
		})
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	sf := startServer(t, rcode(dns.RcodeServerFailure))
	up := startServer(t, answer(60, "192.0.2.1"))
	f := newForwarder(t, Options{Upstreams: []string{sf.addr, up.addr}, CacheSize: 10, Registerer: reg})
	for range 2 {
		if _, err := f.Resolve(context.Background(), query("m.example.org.", dns.TypeA)); err != nil {
			t.Fatal(err)
		}
	}
	// A second forwarder on the same registry, as after a reload.
	f2 := newForwarder(t, Options{Upstreams: []string{up.addr}, Registerer: reg})
	if _, err := f2.Resolve(context.Background(), query("m2.example.org.", dns.TypeA)); err != nil {
		t.Fatal(err)
	}

	got := gather(t, reg)
	want := map[string]float64{
		`skydns_forward_requests_total{rcode="SERVFAIL",server="` + sf.addr + `"}`: 1,
		`skydns_forward_requests_total{rcode="NOERROR",server="` + up.addr + `"}`:  2,
		`skydns_forward_errors_total{reason="servfail",server="` + sf.addr + `"}`:  1,
		`skydns_forward_duration_seconds_count`:                                    3,
		`skydns_cache_hits_total`:                                                  1,
		`skydns_cache_misses_total`:                                                1,
		`skydns_cache_entries`:                                                     1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

// gather flattens the registry into "name{label="value",...}" -> value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			name := mf.GetName()
			if len(labels) > 0 {
				name += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[name] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[name] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[name+"_count"] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// With MaxQueries questions on the wire to a silent upstream, a question
// that needs a query of its own fails at once with ErrBusy and is
// counted; one identical to a question on the wire (the name in another
// case included) joins it instead; a slot frees when its question ends.
func TestMaxQueries(t *testing.T) {
	reg := prometheus.NewRegistry()
	dead := startDead(t)
	f := newForwarder(t, Options{Upstreams: []string{dead.addr}, Timeout: 30 * time.Second, MaxQueries: 3, Registerer: reg})
	ask := func(ctx context.Context, name string, qtype uint16, do bool) error {
		req := query(name, qtype)
		if do {
			req.SetEdns0(1232, true)
		}
		_, err := f.Resolve(ctx, req)
		return err
	}
	// Three questions on the wire, each waited on until the test ends.
	long, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stop()
	for _, name := range []string{"a.example.org.", "b.example.org.", "c.example.org."} {
		wg.Go(func() { _ = ask(long, name, dns.TypeA, false) })
	}
	deadline := time.Now().Add(20 * time.Second)
	for f.flights.inFlight() < 3 || dead.packets.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("%d questions on the wire, want 3", f.flights.inFlight())
		}
		time.Sleep(time.Millisecond)
	}

	for _, tc := range []struct {
		name  string
		qname string
		qtype uint16
		do    bool
		busy  bool
	}{
		{"another name", "d.example.org.", dns.TypeA, false, true},
		{"a name on the wire, another type", "a.example.org.", dns.TypeAAAA, false, true},
		{"a name on the wire, with DO", "a.example.org.", dns.TypeA, true, true},
		{"a name on the wire", "a.example.org.", dns.TypeA, false, false},
		{"a name on the wire, upper case", "B.EXAMPLE.ORG.", dns.TypeA, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A joiner waits for the flight; give up on it soon.
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			err := ask(ctx, tc.qname, tc.qtype, tc.do)
			if got := errors.Is(err, ErrBusy); got != tc.busy {
				t.Fatalf("busy %v (%v), want %v", got, err, tc.busy)
			}
		})
	}
	if got := gather(t, reg); got["skydns_forward_busy_total"] != 3 || got["skydns_forward_in_flight"] != 3 {
		t.Fatalf("busy_total %v, in_flight %v; want 3 and 3", got["skydns_forward_busy_total"], got["skydns_forward_in_flight"])
	}
	if q := dead.packets.Load(); q != 3 {
		t.Fatalf("the upstream saw %d queries, want 3", q)
	}

	// Closing ends the questions on the wire and frees their slots.
	f.Close()
	wg.Wait()
	if n := f.flights.inFlight(); n != 0 {
		t.Fatalf("%d questions on the wire after Close", n)
	}
}
