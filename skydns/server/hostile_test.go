package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns/forward"
)

// value reads a counter or gauge.
func value(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// dribble is a reader that hands out its bytes and then fails, as a
// client does that announces more than it sends.
type dribble struct {
	b   []byte
	err error
}

func (d *dribble) Read(p []byte) (int, error) {
	if len(d.b) == 0 {
		return 0, d.err
	}
	n := copy(p, d.b)
	d.b = d.b[n:]
	return n, nil
}

// A TCP message is read as its bytes arrive: what the 2-byte length
// prefix announces buys no memory by itself, and bytes past the announced
// length stay for the next message.
func TestTCPReadAsItArrives(t *testing.T) {
	q := new(dns.Msg)
	q.SetQuestion("a.skydns.local.", dns.TypeA)
	wire, _ := q.Pack()
	framed := func(msgs ...[]byte) []byte {
		var b []byte
		for _, m := range msgs {
			b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
			b = append(b, m...)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want [][]byte // messages read, in order
		err  error    // after them
	}{
		{name: "length 0xffff, nothing after", in: []byte{0xff, 0xff}, err: io.ErrUnexpectedEOF},
		{name: "length 0xffff, one byte", in: []byte{0xff, 0xff, 0}, err: io.ErrUnexpectedEOF},
		{name: "length 0xffff, 600 bytes", in: append([]byte{0xff, 0xff}, make([]byte, 600)...), err: io.ErrUnexpectedEOF},
		{name: "half a prefix", in: []byte{0x01}, err: io.ErrUnexpectedEOF},
		{name: "empty message", in: []byte{0, 0}, want: [][]byte{{}}, err: io.EOF},
		{name: "one query", in: framed(wire), want: [][]byte{wire}, err: io.EOF},
		{name: "two queries in one write", in: framed(wire, wire), want: [][]byte{wire, wire}, err: io.EOF},
		{name: "a whole 64 KiB message", in: framed(make([]byte, 0xffff)), want: [][]byte{make([]byte, 0xffff)}, err: io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &dribble{b: tc.in, err: io.EOF}
			for i, want := range tc.want {
				got, err := readTCPMsg(r)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("message %d: %d bytes, %v; want %d bytes", i, len(got), err, len(want))
				}
			}
			if _, err := readTCPMsg(r); !errors.Is(err, tc.err) {
				t.Fatalf("after the messages: %v, want %v", err, tc.err)
			}
			const runs = 100
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range runs {
				r := &dribble{b: tc.in, err: io.EOF}
				for {
					if _, err := readTCPMsg(r); err != nil {
						break
					}
				}
			}
			runtime.ReadMemStats(&after)
			// In proportion to what arrived (the buffer doubles), whatever
			// the prefix announced; miekg/dns's reader took 64 KiB at once.
			limit := 1024 + 4*uint64(len(tc.in))
			if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > limit {
				t.Fatalf("%d bytes allocated for %d bytes sent, want at most %d", per, len(tc.in), limit)
			}
		})
	}
}

// Hostile TCP clients against the running server: connections that
// announce 64 KiB and send nothing hold a few hundred bytes each, not
// 64 KiB; connections beyond max-tcp-connections are closed at once and
// counted; a client that trickles a message is cut off at the read
// timeout; and normal queries over UDP and TCP are answered throughout.
func TestTCPHostileClients(t *testing.T) {
	cfg := defaultConfig()
	cfg.MaxTCPConns = 400
	// Long enough that no connection times out while the test fills the
	// server, however loaded the machine; part 4 shortens it.
	cfg.TCPReadTimeout = time.Minute
	cfg.TCPIdleTimeout = time.Minute
	s := newHarness(t, cfg)
	s.addA("t.skydns.local.", "192.0.2.80")
	s.eventually("loaded", "t.skydns.local.", dns.TypeA, sameIPs("192.0.2.80"))
	m := s.h.metrics
	q := new(dns.Msg)
	q.SetQuestion("t.skydns.local.", dns.TypeA)

	dial := func() net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()

	// 1. 300 connections announce 64 KiB and send 1 byte of it.
	const hostile = 300
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for range hostile {
		c := dial()
		conns = append(conns, c)
		if _, err := c.Write([]byte{0xff, 0xff, 0x00}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "hostile connections open", func() bool { return value(t, m.tcpConns) == hostile })
	r := s.query("t.skydns.local.", dns.TypeA, overTCP)
	if !sameIPs("192.0.2.80")(r) {
		t.Fatalf("TCP query among hostile connections: %v", r)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// miekg/dns's own reader held 300 x 64 KiB = 19 MiB here; the bound
	// is generous for the rest of the process (etcd runs in it too).
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 8<<20 {
		t.Fatalf("heap grew %d KiB with %d connections announcing 64 KiB", grown>>10, hostile)
	}

	for _, c := range conns {
		c.Close()
	}
	conns = nil
	waitFor(t, "hostile connections closed", func() bool { return value(t, m.tcpConns) == 0 })

	// 2. Fill the cap with connections that asked once and now idle, then
	// one more: closed at once, counted.
	for range cfg.MaxTCPConns {
		c := dial()
		conns = append(conns, c)
		dc := &dns.Conn{Conn: c}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if err := dc.WriteMsg(q); err != nil {
			t.Fatal(err)
		}
		if _, err := dc.ReadMsg(); err != nil {
			t.Fatal(err)
		}
	}
	refused := value(t, m.tcpRefused)
	extra := dial()
	extra.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := extra.Read(make([]byte, 1))
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection over the cap: read %d bytes, %v; want it closed", n, err)
	}
	extra.Close()
	if got := value(t, m.tcpRefused); got != refused+1 {
		t.Fatalf("skydns_dns_tcp_refused_total %v, want %v", got, refused+1)
	}
	if r := s.query("t.skydns.local.", dns.TypeA); !sameIPs("192.0.2.80")(r) {
		t.Fatalf("UDP query with TCP full: %v", r)
	}

	// 3. Free the slots: TCP is answered again.
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	waitFor(t, "connections released", func() bool { return value(t, m.tcpConns) == 0 })
	if r := s.query("t.skydns.local.", dns.TypeA, overTCP); !sameIPs("192.0.2.80")(r) {
		t.Fatalf("TCP query after the flood: %v", r)
	}

	// 4. A message trickled byte by byte is cut off at the read timeout
	// (here 1 s): the connection ends long before the trickle would.
	cfg.TCPReadTimeout = time.Second
	short, err := Listen("127.0.0.1:0", NewHandler(cfg, s.store, nil))
	if err != nil {
		t.Fatal(err)
	}
	defer short.Shutdown(context.Background())
	c, err := net.DialTimeout("tcp", short.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	wire, _ := q.Pack()
	framed := binary.BigEndian.AppendUint16(nil, uint16(len(wire)))
	framed = append(framed, wire...)
	closed := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		closed <- err
	}()
	deadline := time.After(30 * time.Second)
	for i := 0; ; i++ {
		if i < len(framed) {
			c.Write(framed[i : i+1])
		}
		select {
		case err := <-closed:
			if i >= len(framed) {
				t.Fatalf("the trickled message was answered or kept: %v", err)
			}
			return
		case <-deadline:
			t.Fatal("a trickling client is still connected after 30 s")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// fakeListener fails its first accepts, as a listener does when the
// process is out of file descriptors.
type fakeListener struct {
	mu     sync.Mutex
	fails  int
	calls  int
	closed chan struct{}
	conn   net.Conn
}

func (f *fakeListener) Accept() (net.Conn, error) {
	f.mu.Lock()
	f.calls++
	fail := f.calls <= f.fails
	f.mu.Unlock()
	if fail {
		return nil, &net.OpError{Op: "accept", Err: errors.New("too many open files")}
	}
	select {
	case <-f.closed:
		return nil, net.ErrClosed
	default:
		if f.conn != nil {
			c := f.conn
			f.conn = nil
			return c, nil
		}
		<-f.closed
		return nil, net.ErrClosed
	}
}
func (f *fakeListener) Close() error   { close(f.closed); return nil }
func (f *fakeListener) Addr() net.Addr { return &net.TCPAddr{} }

// A failing accept is retried after a pause that doubles (5, 10, 20, 40
// ms ...), counted, instead of at once; Close ends a pause at once.
func TestTCPAcceptBackoff(t *testing.T) {
	m := NewMetrics(nil, nil)
	a, b := net.Pipe()
	defer b.Close()
	f := &fakeListener{fails: 5, closed: make(chan struct{}), conn: a}
	l := newTCPListener(f, 10, time.Second, m)
	start := time.Now()
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	// Only a lower bound: a loaded machine makes it longer, never shorter.
	if took, least := time.Since(start), 5*time.Millisecond+10*time.Millisecond+20*time.Millisecond+40*time.Millisecond+80*time.Millisecond; took < least {
		t.Fatalf("5 failed accepts took %v, want at least %v of pauses", took, least)
	}
	if got := value(t, m.tcpAcceptErrors); got != 5 {
		t.Fatalf("skydns_dns_tcp_accept_errors_total %v, want 5", got)
	}

	f2 := &fakeListener{fails: 1 << 30, closed: make(chan struct{})}
	l2 := newTCPListener(f2, 10, time.Second, m)
	done := make(chan error, 1)
	go func() { _, err := l2.Accept(); done <- err }()
	waitFor(t, "pausing", func() bool { f2.mu.Lock(); defer f2.mu.Unlock(); return f2.calls >= 3 })
	l2.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Accept after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the pause")
	}
}

// silentUpstream is a UDP socket on 127.0.0.1 that reads queries and
// never answers; it reports how many it got.
func silentUpstream(t *testing.T) (addr string, got func() int) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	n := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			mu.Lock()
			n++
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
	return pc.LocalAddr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// Against a silent upstream, distinct outside names take the forwarding
// slots (max-forward-queries); a further distinct name gets SERVFAIL at
// once, counted, while an identical one waits for the query on the wire
// instead of sending another; names in the zones are answered throughout.
func TestForwardBound(t *testing.T) {
	up, upstreamGot := silentUpstream(t)
	reg := prometheus.NewRegistry()
	fwd, err := forward.New(forward.Options{Upstreams: []string{up}, Timeout: time.Minute, MaxQueries: 2, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	cfg.Forwarder = fwd
	cfg.ForwardTimeout = time.Minute
	cfg.AllowRecursion = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	s := newHarness(t, cfg)
	t.Cleanup(func() { fwd.Close() })
	s.addA("in.skydns.local.", "192.0.2.81")
	s.eventually("loaded", "in.skydns.local.", dns.TypeA, sameIPs("192.0.2.81"))

	// Two names on the wire; their clients give up after a second (the
	// server's queries stay on the wire).
	var wg sync.WaitGroup
	for _, name := range []string{"one.example.org.", "two.example.org."} {
		wg.Go(func() {
			m := new(dns.Msg)
			m.SetQuestion(name, dns.TypeA)
			(&dns.Client{Timeout: time.Second}).Exchange(m, s.addr)
		})
	}
	wg.Wait()
	waitFor(t, "two queries upstream", func() bool { return upstreamGot() >= 2 })

	for _, tc := range []struct {
		name  string
		qname string
		rcode int // -1: no answer within the client's timeout
	}{
		{"a third outside name: SERVFAIL at once", "three.example.org.", dns.RcodeServerFailure},
		{"another type of a name on the wire: a query of its own", "one.example.org.", dns.RcodeServerFailure},
		{"a name on the wire: waits for it", "two.example.org.", -1},
		{"a name in the zones", "in.skydns.local.", dns.RcodeSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := new(dns.Msg)
			qtype := dns.TypeA
			if tc.qname == "one.example.org." {
				qtype = dns.TypeAAAA
			}
			m.SetQuestion(tc.qname, qtype)
			// An answer is waited for as long as a loaded machine may take;
			// a wait is judged after half a second.
			timeout := 10 * time.Second
			if tc.rcode == -1 {
				timeout = 500 * time.Millisecond
			}
			r, _, err := (&dns.Client{Timeout: timeout}).Exchange(m, s.addr)
			switch {
			case tc.rcode == -1 && err == nil:
				t.Fatalf("answered %v, want it to wait for the query on the wire", r)
			case tc.rcode >= 0 && err != nil:
				t.Fatalf("no answer: %v", err)
			case tc.rcode >= 0 && r.Rcode != tc.rcode:
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			}
		})
	}
	if n := upstreamGot(); n != 2 {
		t.Fatalf("the upstream got %d queries, want 2", n)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == "skydns_forward_busy_total" {
			if v := f.GetMetric()[0].GetCounter().GetValue(); v != 2 {
				t.Fatalf("skydns_forward_busy_total %v, want 2", v)
			}
			return
		}
	}
	t.Fatal("no skydns_forward_busy_total")
}

// Protocol details that are refused rather than answered: zone transfers,
// obsolete meta-queries, malformed EDNS (RFC 6891 §6.1.1, RFC 7871
// §7.1.2), over UDP and TCP, for names in the zones and outside.
func TestProtocolRefusals(t *testing.T) {
	s := newHarness(t, defaultConfig())
	s.addA("p.skydns.local.", "192.0.2.82")
	s.eventually("loaded", "p.skydns.local.", dns.TypeA, sameIPs("192.0.2.82"))
	ecs := func(scope uint8) dns.EDNS0 {
		return &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, SourceScope: scope, Address: net.IPv4(192, 0, 2, 0).To4()}
	}
	opt := func(owner string, options ...dns.EDNS0) *dns.OPT {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeOPT}, Option: options}
		o.SetUDPSize(1232)
		return o
	}
	for _, tc := range []struct {
		name  string
		qname string
		qtype uint16
		edit  func(*dns.Msg)
		rcode int
	}{
		{"AXFR of a zone", "skydns.local.", dns.TypeAXFR, nil, dns.RcodeRefused},
		{"IXFR of a zone", "skydns.local.", dns.TypeIXFR, nil, dns.RcodeRefused},
		{"AXFR outside the zones", "example.org.", dns.TypeAXFR, nil, dns.RcodeRefused},
		{"MAILB", "p.skydns.local.", dns.TypeMAILB, nil, dns.RcodeNotImplemented},
		{"MAILA", "p.skydns.local.", dns.TypeMAILA, nil, dns.RcodeNotImplemented},
		{"two OPT records", "p.skydns.local.", dns.TypeA, func(m *dns.Msg) { m.Extra = []dns.RR{opt("."), opt(".")} }, dns.RcodeFormatError},
		{"OPT with a non-root owner", "p.skydns.local.", dns.TypeA, func(m *dns.Msg) { m.Extra = []dns.RR{opt("skydns.local.")} }, dns.RcodeFormatError},
		{"OPT in the answer section", "p.skydns.local.", dns.TypeA, func(m *dns.Msg) { m.Answer = []dns.RR{opt(".")} }, dns.RcodeFormatError},
		{"OPT in the authority section", "p.skydns.local.", dns.TypeA, func(m *dns.Msg) { m.Ns = []dns.RR{opt(".")} }, dns.RcodeFormatError},
		{"ECS with scope 24 in a query", "p.skydns.local.", dns.TypeA, func(m *dns.Msg) { m.Extra = []dns.RR{opt(".", ecs(24))} }, dns.RcodeFormatError},
		{"ECS with scope 0: answered", "p.skydns.local.", dns.TypeA, func(m *dns.Msg) { m.Extra = []dns.RR{opt(".", ecs(0))} }, dns.RcodeSuccess},
		{"one root OPT: answered", "p.skydns.local.", dns.TypeA, func(m *dns.Msg) { m.Extra = []dns.RR{opt(".")} }, dns.RcodeSuccess},
	} {
		for _, transport := range []string{"udp", "tcp"} {
			t.Run(tc.name+"/"+transport, func(t *testing.T) {
				r := s.query(tc.qname, tc.qtype, func(m *dns.Msg, c *dns.Client) {
					c.Net = transport
					if tc.edit != nil {
						tc.edit(m)
					}
				})
				if r.Rcode != tc.rcode {
					t.Fatalf("rcode %s, want %s\n%v", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode], r)
				}
				if tc.rcode != dns.RcodeSuccess && (len(r.Answer) != 0 || len(r.Ns) != 0) {
					t.Fatalf("records with %s: %v", dns.RcodeToString[r.Rcode], r)
				}
				if tc.rcode == dns.RcodeFormatError && r.IsEdns0() != nil {
					t.Fatalf("FORMERR for bad EDNS carries an OPT: %v", r)
				}
			})
		}
	}
}

// PTR answers list every name of an IP: only clients in allow-ptr get
// them; for others a reverse name is outside the zones (REFUSED without
// recursion).
func TestPTRAllowed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		allow []string
		rcode int
	}{
		{"loopback allowed", []string{"127.0.0.0/8"}, dns.RcodeSuccess},
		{"the client's own address", []string{"127.0.0.1"}, dns.RcodeSuccess},
		{"another network", []string{"192.0.2.0/24"}, dns.RcodeRefused},
		{"nobody", nil, dns.RcodeRefused},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := defaultConfig()
			cfg.AllowPTR = nil
			for _, p := range tc.allow {
				pp, err := netip.ParsePrefix(p)
				if err != nil {
					pp = netip.PrefixFrom(netip.MustParseAddr(p), 32)
				}
				cfg.AllowPTR = append(cfg.AllowPTR, pp)
			}
			s := newHarness(t, cfg)
			s.addA("r.skydns.local.", "192.0.2.83")
			s.eventually("loaded", "r.skydns.local.", dns.TypeA, sameIPs("192.0.2.83"))
			for _, qtype := range []uint16{dns.TypePTR, dns.TypeANY} {
				r := s.query("83.2.0.192.in-addr.arpa.", qtype)
				if r.Rcode != tc.rcode {
					t.Fatalf("%s: rcode %s, want %s", dns.TypeToString[qtype], dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
				}
				if tc.rcode == dns.RcodeSuccess && (len(r.Answer) != 1 || r.Answer[0].(*dns.PTR).Ptr != "r.skydns.local.") {
					t.Fatalf("%s: %v", dns.TypeToString[qtype], r)
				}
				if tc.rcode != dns.RcodeSuccess && len(r.Answer) != 0 {
					t.Fatalf("%s: names given to a client outside allow-ptr: %v", dns.TypeToString[qtype], r)
				}
			}
		})
	}
}

// Names are compared label by label. A label on the wire may hold a dot
// (presented `\.`): `evil\.skydns.local.` is the label "evil.skydns" under
// local., outside the zones, and must get neither a wildcard of
// skydns.local. nor an authoritative NXDOMAIN. A name with such a label
// that is genuinely below a zone is answered as any name that does not
// exist there (RFC 4592: a wildcard of its closest encloser covers it).
func TestEscapedDotsInLabels(t *testing.T) {
	s := newHarness(t, defaultConfig())
	s.put("/skydns/local/skydns/*/00000001", `{"host":"192.0.2.84"}`)
	s.addA("a.skydns.local.", "192.0.2.85")
	s.addA("host.sub.skydns.local.", "192.0.2.86")
	s.eventually("loaded", "host.sub.skydns.local.", dns.TypeA, sameIPs("192.0.2.86"))
	s.eventually("wildcard loaded", "zz.skydns.local.", dns.TypeA, sameIPs("192.0.2.84"))
	for _, tc := range []struct {
		name   string
		qname  string
		rcode  int
		aa     bool
		answer []string
		soa    string
	}{
		{"one label evil.skydns under local.", `evil\.skydns.local.`, dns.RcodeRefused, false, nil, ""},
		{"one label x.other under test.", `x\.other.test.`, dns.RcodeRefused, false, nil, ""},
		{"one label skydns.local under the root", `a.skydns\.local.`, dns.RcodeRefused, false, nil, ""},
		{"escaped backslash, then a real dot: in the zone", `evil\\.skydns.local.`, dns.RcodeSuccess, true, []string{"192.0.2.84"}, ""},
		{"one label a.b below skydns.local.: its wildcard", `a\.b.skydns.local.`, dns.RcodeSuccess, true, []string{"192.0.2.84"}, ""},
		{"one label evil.sub below skydns.local., not in sub.", `evil\.sub.skydns.local.`, dns.RcodeSuccess, true, []string{"192.0.2.84"}, ""},
		{"one label a.b below sub.skydns.local.: NXDOMAIN there", `a\.b.sub.skydns.local.`, dns.RcodeNameError, true, nil, "sub.skydns.local."},
		{"below the one label a.skydns under local.", `x.a\.skydns.local.`, dns.RcodeRefused, false, nil, ""},
		{"the plain name still answers", "a.skydns.local.", dns.RcodeSuccess, true, []string{"192.0.2.85"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.query(tc.qname, dns.TypeA)
			if r.Rcode != tc.rcode || r.Authoritative != tc.aa {
				t.Fatalf("rcode %s AA %v, want %s AA %v\n%v", dns.RcodeToString[r.Rcode], r.Authoritative,
					dns.RcodeToString[tc.rcode], tc.aa, r)
			}
			if got := ips(r); len(got) != len(tc.answer) || len(got) > 0 && got[0] != tc.answer[0] {
				t.Fatalf("answer %v, want %v", got, tc.answer)
			}
			soa := ""
			for _, rr := range r.Ns {
				if rr, ok := rr.(*dns.SOA); ok {
					soa = rr.Hdr.Name
				}
			}
			if soa != tc.soa {
				t.Fatalf("SOA of %q, want %q", soa, tc.soa)
			}
		})
	}
}

// rawTXT asks over TCP and returns the character-strings of the first
// answer's RDATA as they are on the wire, with no decoding by miekg/dns.
func rawTXT(t *testing.T, addr, name string) [][]byte {
	t.Helper()
	c, err := dns.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeTXT)
	if err := c.WriteMsg(m); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<16)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	p := buf[:n]
	if len(p) < 12 || binary.BigEndian.Uint16(p[6:]) != 1 {
		t.Fatalf("want one answer: % x", p)
	}
	skipName := func(off int) int {
		for {
			l := int(p[off])
			if l&0xc0 == 0xc0 {
				return off + 2
			}
			off += 1 + l
			if l == 0 {
				return off
			}
		}
	}
	off := skipName(12) + 4 // the question
	off = skipName(off) + 8 // owner, type, class, TTL
	rdlen := int(binary.BigEndian.Uint16(p[off:]))
	rdata := p[off+2 : off+2+rdlen]
	var out [][]byte
	for len(rdata) > 0 {
		l := int(rdata[0])
		out = append(out, rdata[1:1+l])
		rdata = rdata[1+l:]
	}
	return out
}

// TXT text is served as stored, byte for byte: a backslash is a backslash
// (not an escape), wherever the 255-octet cut falls.
func TestTXTVerbatim(t *testing.T) {
	s := newHarness(t, defaultConfig())
	for _, tc := range []struct {
		name string
		text string
	}{
		{"windows path", `C:\temp\065\`},
		{"backslash last of the first 255", strings.Repeat("a", 254) + `\065`},
		{"backslash first of the second 255", strings.Repeat("a", 255) + `\065`},
		{"only backslashes, over two strings", strings.Repeat(`\`, 300)},
		{"escape-looking text", `\"quoted\" \; \( \) \@ \$ \\`},
		{"quotes and semicolons", `v=spf1 "a" ; b`},
		{"tab, NUL and UTF-8", "tab\there\x00nul é"},
		{"exactly 255", strings.Repeat("z", 255)},
		{"256", strings.Repeat("y", 256)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("t%d.skydns.local.", len(tc.name)*1000+len(tc.text))
			b, err := json.Marshal(map[string]string{"type": "TXT", "text": tc.text})
			if err != nil {
				t.Fatal(err)
			}
			s.put(record.Key("/skydns", name, "00000001"), string(b))
			// Over UDP without EDNS a long text is truncated: TC says loaded.
			s.eventually("loaded", name, dns.TypeTXT, func(m *dns.Msg) bool { return len(m.Answer) == 1 || m.Truncated })
			got := rawTXT(t, s.addr, name)
			var want [][]byte
			for rest := tc.text; ; rest = rest[255:] {
				if len(rest) <= 255 {
					want = append(want, []byte(rest))
					break
				}
				want = append(want, []byte(rest[:255]))
			}
			if len(got) != len(want) {
				t.Fatalf("%d strings, want %d: %q", len(got), len(want), got)
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("string %d:\n got %q\nwant %q", i, got[i], want[i])
				}
			}
		})
	}
}

// UDP queries off the fast path are capped (max-concurrent-queries): with
// the cap taken by queries waiting on a silent upstream, further such
// datagrams are dropped and counted, while plain A queries, answered on
// the fast path, are answered throughout.
func TestSlowPathBound(t *testing.T) {
	up, upstreamGot := silentUpstream(t)
	fwd, err := forward.New(forward.Options{Upstreams: []string{up}, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	cfg := defaultConfig()
	cfg.Forwarder = fwd
	cfg.ForwardTimeout = time.Minute
	cfg.AllowRecursion = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	cfg.MaxSlowQueries = 5
	s := newHarness(t, cfg)
	l, err := Listen("127.0.0.1:0", s.h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Shutdown(context.Background()) })
	t.Cleanup(func() { fwd.Close() }) // first: frees the waiting queries
	s.addA("fast.skydns.local.", "192.0.2.88")
	s.eventually("loaded", "fast.skydns.local.", dns.TypeA, sameIPs("192.0.2.88"))

	c, err := net.Dial("udp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(name string, qtype uint16) {
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		b, _ := m.Pack()
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		send(fmt.Sprintf("wait%d.example.org.", i), dns.TypeA)
	}
	waitFor(t, "five queries waiting upstream", func() bool { return upstreamGot() == 5 && l.udp.inSlow.Load() == 5 })
	for _, tc := range []struct {
		name  string
		qtype uint16
	}{
		{"more.example.org.", dns.TypeA},
		{"fast.skydns.local.", dns.TypeTXT},    // NODATA: the reference path
		{"nope.skydns.local.", dns.TypeA},      // NXDOMAIN: the reference path
		{`odd\.name.skydns.local.`, dns.TypeA}, // escaped: the reference path
	} {
		send(tc.name, tc.qtype)
	}
	waitFor(t, "four dropped", func() bool { return value(t, s.h.metrics.udpDropped) == 4 })
	// The fast path needs no slot.
	m := new(dns.Msg)
	m.SetQuestion("fast.skydns.local.", dns.TypeA)
	r, _, err := (&dns.Client{Timeout: 5 * time.Second}).Exchange(m, l.Addr())
	if err != nil || !sameIPs("192.0.2.88")(r) {
		t.Fatalf("fast path with the reference path full: %v %v", r, err)
	}
	if n := upstreamGot(); n != 5 {
		t.Fatalf("the upstream got %d queries, want 5", n)
	}
}

// A TCP client that sends queries and never reads the answers is cut off
// once an answer cannot leave within the write timeout, giving its slot
// back, instead of holding it with a write blocked for ever.
func TestTCPClientThatDoesNotRead(t *testing.T) {
	cfg := defaultConfig()
	cfg.TCPWriteTimeout = 500 * time.Millisecond
	cfg.TCPIdleTimeout = time.Minute
	s := newHarness(t, cfg)
	// 15 texts of 4,000 bytes: answers of 60 KB, so that the 128 queries
	// miekg/dns serves on one connection answer far more than the socket
	// buffers between the two hold (the client's is kept small).
	for i := range 15 {
		b, _ := json.Marshal(map[string]string{"type": "TXT", "text": fmt.Sprintf("%02d", i) + strings.Repeat("x", 3998)})
		s.put(record.Key("/skydns", "big.skydns.local.", fmt.Sprintf("%08x", i+1)), string(b))
	}
	waitFor(t, "15 texts loaded", func() bool { return len(s.query("big.skydns.local.", dns.TypeTXT, overTCP).Answer) == 15 })

	c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	q := new(dns.Msg)
	q.SetQuestion("big.skydns.local.", dns.TypeTXT)
	wire, _ := q.Pack()
	framed := binary.BigEndian.AppendUint16(nil, uint16(len(wire)))
	framed = append(framed, wire...)
	served := s.h.metrics.requests.WithLabelValues("tcp", "TXT")
	before := value(t, served)
	go func() {
		c.SetWriteDeadline(time.Now().Add(time.Minute))
		for range 2000 {
			if _, err := c.Write(framed); err != nil {
				return
			}
		}
	}()
	// Served at least once (so accepted), and then no connection left:
	// without the write timeout it would stay, its write blocked.
	waitFor(t, "the non-reading client cut off", func() bool {
		return value(t, served) > before && value(t, s.h.metrics.tcpConns) == 0
	})
	if r := s.query("big.skydns.local.", dns.TypeTXT, overTCP); len(r.Answer) != 15 {
		t.Fatalf("TCP query after: %d texts", len(r.Answer))
	}
}
