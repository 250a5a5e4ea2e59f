package probe_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skydns/skydns/internal/monitor/monitortest"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/skydns-scanner/probe"
)

func newProber(t *testing.T, mode probe.ICMPMode) *probe.Prober {
	t.Helper()
	return probe.New(probe.Options{
		Timeout: 300 * time.Millisecond, Tries: 1, PingTimeout: 500 * time.Millisecond, PingCount: 1, ICMPMode: mode,
	}, nil)
}

// blackhole is a loopback TCP address whose SYNs are dropped: a listener
// with a backlog of 0 that never accepts, its queue already full. A
// connect to it times out, as to a host that is gone.
func blackhole(t *testing.T) netip.AddrPort {
	t.Helper()
	ip := monitortest.LoopbackIPs(1)[0]
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: ip.As4()}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrPortFrom(ip, uint16(sa.(*syscall.SockaddrInet4).Port))
	// Fill the queue: these connects complete and are never accepted.
	for range 2 {
		c, err := net.DialTimeout("tcp", addr.String(), 200*time.Millisecond)
		if err != nil {
			break // full already
		}
		t.Cleanup(func() { c.Close() })
	}
	return addr
}

func TestTCP(t *testing.T) {
	bs := monitortest.NewBackends(t, 2)
	bs[1].Kill()
	hole := blackhole(t)
	p := newProber(t, probe.ICMPOff)
	for _, tc := range []struct {
		name   string
		addr   netip.AddrPort
		reason string
	}{
		{"listening", bs[0].Addr(), ""},
		{"refused", bs[1].Addr(), "tcp/" + strconv.Itoa(bs[1].Port()) + ": refused"},
		{"timeout", hole, "tcp/" + strconv.Itoa(int(hole.Port())) + ": timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := p.Run(context.Background(), tc.addr.Addr(), probe.Plan{Ports: []int{int(tc.addr.Port())}})
			if r.OK != (tc.reason == "") || r.Reason != tc.reason {
				t.Errorf("got %+v, want reason %q", r, tc.reason)
			}
		})
	}
}

// Run's rules: any service check passing is enough unless all are
// required; ICMP, when planned, must pass too; nothing planned passes.
func TestRunRequire(t *testing.T) {
	bs := monitortest.NewBackends(t, 1)
	open := bs[0].Port()
	ip := bs[0].IP()
	// The same IP with a port nobody listens on: bind one and close it.
	ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	closed := int(netip.MustParseAddrPort(ln.Addr().String()).Port())
	ln.Close()
	p := newProber(t, probe.ICMPOff)
	for _, tc := range []struct {
		name string
		plan probe.Plan
		ok   bool
	}{
		{"nothing planned", probe.Plan{}, true},
		{"one open", probe.Plan{Ports: []int{open}}, true},
		{"one closed", probe.Plan{Ports: []int{closed}}, false},
		{"any: one of two open", probe.Plan{Ports: []int{closed, open}}, true},
		{"all: one of two closed", probe.Plan{Ports: []int{open, closed}, RequireAll: true}, false},
		{"all: both open", probe.Plan{Ports: []int{open, open}, RequireAll: true}, true},
		{"icmp planned but unavailable is skipped", probe.Plan{ICMP: true, Ports: []int{open}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := p.Run(context.Background(), ip, tc.plan); r.OK != tc.ok {
				t.Errorf("got %+v, want OK %v", r, tc.ok)
			}
		})
	}
}

func httpServer(t *testing.T, tls bool) netip.AddrPort {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, _ *http.Request) {})
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ok", http.StatusFound) })
	mux.HandleFunc("/host", func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "svc.example" || (r.TLS != nil && r.TLS.ServerName != "svc.example") {
			w.WriteHeader(http.StatusNotFound)
		}
	})
	s := httptest.NewUnstartedServer(mux)
	// The plain-HTTP-to-HTTPS case makes the server log; that is the point.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", netip.AddrPortFrom(monitortest.LoopbackIPs(1)[0], 0).String())
	if err != nil {
		t.Fatal(err)
	}
	s.Listener.Close()
	s.Listener = ln
	if tls {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return netip.MustParseAddrPort(ln.Addr().String())
}

func TestHTTP(t *testing.T) {
	plain, secure := httpServer(t, false), httpServer(t, true)
	// No case here waits for a timeout: a generous one keeps a TLS
	// handshake on a loaded machine (race detector on) from failing.
	p := probe.New(probe.Options{Timeout: 5 * time.Second, Tries: 1}, nil)
	for _, tc := range []struct {
		name   string
		addr   netip.AddrPort
		check  policy.HTTPCheck
		reason string // "" for OK
	}{
		{"200", plain, policy.HTTPCheck{Path: "/ok"}, ""},
		{"503", plain, policy.HTTPCheck{Path: "/fail"}, "status"},
		{"503 expected", plain, policy.HTTPCheck{Path: "/fail", Expect: 503}, ""},
		{"redirect is not followed", plain, policy.HTTPCheck{Path: "/redirect"}, "status"},
		{"redirect expected", plain, policy.HTTPCheck{Path: "/redirect", Expect: 302}, ""},
		{"host header", plain, policy.HTTPCheck{Path: "/host", Host: "svc.example"}, ""},
		{"no host header", plain, policy.HTTPCheck{Path: "/host"}, "status"},
		{"https, self-signed", secure, policy.HTTPCheck{Scheme: "https", Path: "/ok"}, ""},
		{"https with SNI", secure, policy.HTTPCheck{Scheme: "https", Path: "/host", Host: "svc.example"}, ""},
		{"plain http to https", secure, policy.HTTPCheck{Path: "/ok"}, "status"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.check
			h.Port = int(tc.addr.Port())
			h = probe.HTTPDefaults(h)
			r := p.Run(context.Background(), tc.addr.Addr(), probe.Plan{HTTP: &h})
			if tc.reason == "" && !r.OK || tc.reason != "" && !strings.HasSuffix(r.Reason, ": "+tc.reason) {
				t.Errorf("got %+v, want failure reason %q", r, tc.reason)
			}
		})
	}
}

func TestReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{syscall.ECONNREFUSED, "refused"},
		{&net.OpError{Op: "dial", Err: syscall.ECONNRESET}, "reset"},
		{syscall.EHOSTUNREACH, "unreachable"},
		{context.DeadlineExceeded, "timeout"},
		{context.Canceled, "canceled"},
		{probe.ErrStatus, "status"},
		{errors.New("other"), "error"},
	} {
		if got := probe.Reason(tc.err); got != tc.want {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func icmpMode(t *testing.T) probe.ICMPMode {
	t.Helper()
	mode, err := probe.DetectICMP()
	if err != nil {
		t.Skipf("cannot ping from this process (run as root, or allow the group in net.ipv4.ping_group_range): %v", err)
	}
	return mode
}

func TestICMPLoopback(t *testing.T) {
	p := newProber(t, icmpMode(t))
	ip := monitortest.LoopbackIPs(1)[0]
	if r := p.Run(context.Background(), ip, probe.Plan{ICMP: true}); !r.OK {
		t.Fatalf("ping %s: %+v", ip, r)
	}
}

// An address that stops answering fails the ICMP check, and ICMP failing
// fails the run even with a service check planned.
func TestICMPNoReply(t *testing.T) {
	mode := icmpMode(t)
	ns := monitortest.NewNetNS(t)
	p := newProber(t, mode)
	if r := p.Run(context.Background(), ns.PeerIP, probe.Plan{ICMP: true}); !r.OK {
		t.Fatalf("ping %s with the peer up: %+v", ns.PeerIP, r)
	}
	ns.PeerDown()
	r := p.Run(context.Background(), ns.PeerIP, probe.Plan{ICMP: true})
	if r.OK || r.Reason != "icmp: no-reply" {
		t.Fatalf("ping %s with the peer down: %+v, want icmp: no-reply", ns.PeerIP, r)
	}
	ns.PeerUp()
	// A veth link set up again takes a moment to pass traffic (carrier,
	// neighbour resolution): allow it a bounded time, then require replies.
	var r2 probe.Result
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if r2 = p.Run(context.Background(), ns.PeerIP, probe.Plan{ICMP: true}); r2.OK {
			return
		}
	}
	t.Fatalf("ping %s with the peer up again: %+v", ns.PeerIP, r2)
}

// BenchmarkPing measures the CPU cost of one ICMP check on loopback, 32
// at a time, for each way this process may ping. As root both modes run
// when datagram ICMP sockets are allowed (in a network namespace with its
// own net.ipv4.ping_group_range, for instance).
func BenchmarkPing(b *testing.B) {
	modes := map[string]probe.ICMPMode{}
	if m, err := probe.DetectICMP(); err == nil {
		modes[m.String()] = m
	}
	if os.Geteuid() == 0 {
		modes[probe.ICMPPrivileged.String()] = probe.ICMPPrivileged
	}
	if len(modes) == 0 {
		b.Skip("cannot ping from this process")
	}
	for name, mode := range modes {
		b.Run(name, func(b *testing.B) {
			p := probe.New(probe.Options{Timeout: time.Second, PingTimeout: time.Second, PingCount: 1, ICMPMode: mode}, nil)
			ip := netip.MustParseAddr("127.0.0.1")
			var before, after syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &before)
			b.SetParallelism(16) // x GOMAXPROCS goroutines
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if r := p.Run(context.Background(), ip, probe.Plan{ICMP: true}); !r.OK {
						b.Errorf("ping: %+v", r)
						return
					}
				}
			})
			syscall.Getrusage(syscall.RUSAGE_SELF, &after)
			cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/ping")
		})
	}
}
