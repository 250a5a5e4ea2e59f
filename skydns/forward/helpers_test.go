package forward

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// fakeServer is an upstream on 127.0.0.1, serving UDP and TCP on one port.
type fakeServer struct {
	addr    string
	queries atomic.Int32 // over both transports
	tcp     atomic.Int32 // over TCP only

	mu   sync.Mutex
	last *dns.Msg // the last query received
}

func (s *fakeServer) lastQuery() *dns.Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// startServer runs h on a fresh port of 127.0.0.1 until the test ends.
func startServer(t testing.TB, h dns.HandlerFunc) *fakeServer {
	t.Helper()
	var (
		pc net.PacketConn
		ln net.Listener
	)
	// The UDP port is picked by the kernel; the same TCP port may be
	// taken by someone else, hence a few tries.
	for try := 0; try < 10 && ln == nil; try++ {
		var err error
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			ln = nil
		}
	}
	if ln == nil {
		t.Fatal("no port free for both UDP and TCP")
	}
	s := &fakeServer{addr: pc.LocalAddr().String()}
	handler := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		s.queries.Add(1)
		if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
			s.tcp.Add(1)
		}
		s.mu.Lock()
		s.last = r.Copy()
		s.mu.Unlock()
		h(w, r)
	})
	started := make(chan struct{}, 2)
	notify := func() { started <- struct{}{} }
	udp := &dns.Server{PacketConn: pc, Handler: handler, NotifyStartedFunc: notify}
	tcp := &dns.Server{Listener: ln, Handler: handler, NotifyStartedFunc: notify}
	for _, srv := range []*dns.Server{udp, tcp} {
		go func() { _ = srv.ActivateAndServe() }()
	}
	for range 2 {
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatal("fake server did not start")
		}
	}
	t.Cleanup(func() {
		_ = udp.Shutdown()
		_ = tcp.Shutdown()
	})
	return s
}

// deadServer is a UDP socket on 127.0.0.1 that reads queries and never
// answers, like a server that lost its upstream or a black-holed address.
type deadServer struct {
	addr    string
	packets atomic.Int32
}

func startDead(t testing.TB) *deadServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &deadServer{addr: pc.LocalAddr().String()}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return // closed by the cleanup
			}
			d.packets.Add(1)
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	return d
}

// closedPort is an address of 127.0.0.1 where nothing listens, so UDP
// gets an ICMP port unreachable at once.
func closedPort(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}

// answer replies with one A record per ip, of the given TTL.
func answer(ttl uint32, ips ...string) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		for _, ip := range ips {
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl},
				A:   net.ParseIP(ip),
			})
		}
		_ = w.WriteMsg(m)
	}
}

// rcode replies with an empty answer of the given rcode.
func rcode(rc int) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, rc)
		_ = w.WriteMsg(m)
	}
}

// negative replies with rc and, when soaTTL > 0, an authority SOA.
func negative(rc int, soaTTL, minimum uint32) dns.HandlerFunc {
	return func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetRcode(r, rc)
		if soaTTL > 0 {
			m.Ns = []dns.RR{&dns.SOA{
				Hdr:     dns.RR_Header{Name: "example.org.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: soaTTL},
				Ns:      "ns.example.org.",
				Mbox:    "hostmaster.example.org.",
				Serial:  1,
				Refresh: 3600,
				Retry:   600,
				Expire:  86400,
				Minttl:  minimum,
			}}
		}
		_ = w.WriteMsg(m)
	}
}

// clock is a settable time for the cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newForwarder(t testing.TB, o Options) *Forwarder {
	t.Helper()
	f, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func query(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}
