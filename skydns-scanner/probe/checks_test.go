package probe_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/skydns/skydns/internal/monitor/monitortest"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/skydns-scanner/probe"
)

// listen opens a TCP listener on a fresh loopback address.
func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", netip.AddrPortFrom(monitortest.LoopbackIPs(1)[0], 0).String())
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func addrOf(a net.Addr) netip.AddrPort { return netip.MustParseAddrPort(a.String()) }

// An HTTP check with a match passes while the text is in the first 64 KiB
// of the body, and reads no further than it must: a body that never ends
// is decided by what comes before the match, or by 64 KiB of it.
func TestHTTPMatch(t *testing.T) {
	const marker = "status: healthy"
	filler := strings.Repeat("x", policy.MaxMatchBody)
	var body atomic.Value // string; "HANG" suffix: the server then never finishes
	stop := make(chan struct{})
	defer close(stop)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		b := body.Load().(string)
		hang := strings.HasSuffix(b, "HANG")
		_, _ = io.WriteString(w, strings.TrimSuffix(b, "HANG"))
		if hang {
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-stop:
			}
		}
	})
	ln := listen(t)
	s := httptest.NewUnstartedServer(mux)
	s.Listener.Close()
	s.Listener = ln
	s.Start()
	defer s.Close()
	a := addrOf(ln.Addr())
	// The probe's timeout is far longer than a run should take: a probe
	// that kept reading a hanging body would fail with "timeout".
	p := probe.New(probe.Options{Timeout: 5 * time.Second, Tries: 1}, nil)
	for _, tc := range []struct {
		name, body, reason string
	}{
		{"found", "<html>" + marker + "</html>", ""},
		{"body changed: not found", "<html>status: sick</html>", "match"},
		{"empty body", "", "match"},
		{"split across reads", strings.Repeat("y", 4096-5) + marker, ""},
		{"ends at 64 KiB", filler[:policy.MaxMatchBody-len(marker)] + marker, ""},
		{"after 64 KiB", filler + marker, "match"},
		{"found, then the body never ends", marker + "HANG", ""},
		{"64 KiB without it, then never ends", filler + "HANG", "match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body.Store(tc.body)
			h := probe.HTTPDefaults(policy.HTTPCheck{Port: int(a.Port()), Match: marker})
			start := time.Now()
			r := p.Run(context.Background(), a.Addr(), probe.Plan{HTTP: &h})
			want := ""
			if tc.reason != "" {
				want = "http/" + strconv.Itoa(int(a.Port())) + ": " + tc.reason
			}
			if r.Reason != want || r.OK != (want == "") {
				t.Errorf("got %+v after %v, want reason %q", r, time.Since(start), want)
			}
		})
	}
}

// testCA is a CA the test makes, and leaf certificates signed by it.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "skydns test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert, key, pool}
}

// leaf signs a server certificate for names and ips, valid until notAfter.
func (ca *testCA) leaf(t *testing.T, names []string, ips []netip.Addr, notAfter time.Time) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "backend"},
		NotBefore: notAfter.Add(-400 * 24 * time.Hour), NotAfter: notAfter,
		DNSNames: names, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// httpsServer serves 200 with cert on a fresh loopback address.
func httpsServer(t *testing.T, ln net.Listener, cert tls.Certificate) netip.AddrPort {
	t.Helper()
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are the point
	s.Listener.Close()
	s.Listener = ln
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.StartTLS()
	t.Cleanup(s.Close)
	return addrOf(ln.Addr())
}

func TestHTTPSCertificates(t *testing.T) {
	ca := newCA(t)
	day := 24 * time.Hour
	now := time.Now()
	names := []string{"svc.example"}
	serve := func(names []string, notAfter time.Time) netip.AddrPort {
		ln := listen(t)
		ip := addrOf(ln.Addr()).Addr()
		return httpsServer(t, ln, ca.leaf(t, names, []netip.Addr{ip}, notAfter))
	}
	valid := serve(names, now.Add(90*day))
	wrongName := serve([]string{"other.example"}, now.Add(90*day))
	// A certificate for other.example only, without the IP either.
	lnNoIP := listen(t)
	noIP := httpsServer(t, lnNoIP, ca.leaf(t, []string{"other.example"}, nil, now.Add(90*day)))
	expiring := serve(names, now.Add(5*day))
	expired := serve(names, now.Add(-day))
	notYet := serve(names, now.Add(500*day)) // valid from 100 days on

	trusting := probe.New(probe.Options{Timeout: 5 * time.Second, Tries: 1, RootCAs: ca.pool}, nil)
	system := probe.New(probe.Options{Timeout: 5 * time.Second, Tries: 1}, nil)
	for _, tc := range []struct {
		name   string
		p      *probe.Prober
		addr   netip.AddrPort
		check  policy.HTTPCheck
		reason string // "" for OK; else the start of the text after "http/<port>: "
	}{
		{"unverified by default: any certificate", system, wrongName, policy.HTTPCheck{}, ""},
		{"unverified by default: even expired", system, expired, policy.HTTPCheck{}, ""},
		{"verified, host name", trusting, valid, policy.HTTPCheck{Host: "svc.example", TLSVerify: true}, ""},
		{"verified, the IP itself", trusting, valid, policy.HTTPCheck{TLSVerify: true}, ""},
		{"verified against system roots: unknown CA", system, valid, policy.HTTPCheck{Host: "svc.example", TLSVerify: true}, "cert-verify (certificate signed by unknown authority"},
		{"wrong name", trusting, wrongName, policy.HTTPCheck{Host: "svc.example", TLSVerify: true}, "cert-verify (certificate is valid for other.example, not svc.example)"},
		{"wrong name, the IP", trusting, noIP, policy.HTTPCheck{TLSVerify: true}, "cert-verify (cannot validate certificate for "},
		{"wrong name, unverified", trusting, wrongName, policy.HTTPCheck{Host: "svc.example"}, ""},
		{"expiring within min-cert-days", trusting, expiring, policy.HTTPCheck{Host: "svc.example", TLSVerify: true, MinCertDays: 30}, "cert-expiry (expires in 4 days, want 30)"},
		{"expiring within min-cert-days, unverified", system, expiring, policy.HTTPCheck{MinCertDays: 30}, "cert-expiry (expires in 4 days, want 30)"},
		{"expiring after min-cert-days", trusting, expiring, policy.HTTPCheck{Host: "svc.example", TLSVerify: true, MinCertDays: 3}, ""},
		{"valid long enough", system, valid, policy.HTTPCheck{MinCertDays: 30}, ""},
		{"expired, verified", trusting, expired, policy.HTTPCheck{Host: "svc.example", TLSVerify: true}, "cert-expiry (expired "},
		{"expired, min-cert-days", system, expired, policy.HTTPCheck{MinCertDays: 1}, "cert-expiry (expired "},
		{"not valid yet, verified", trusting, notYet, policy.HTTPCheck{Host: "svc.example", TLSVerify: true}, "cert-verify (not valid before "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.check
			h.Scheme = "https"
			h.Port = int(tc.addr.Port())
			h = probe.HTTPDefaults(h)
			r := tc.p.Run(context.Background(), tc.addr.Addr(), probe.Plan{HTTP: &h})
			prefix := "http/" + strconv.Itoa(h.Port) + ": "
			if tc.reason == "" && !r.OK || tc.reason != "" && (r.OK || !strings.HasPrefix(r.Reason, prefix+tc.reason)) {
				t.Errorf("got %+v, want reason %q", r, prefix+tc.reason)
			}
		})
	}
}

// dnsServer answers on UDP and TCP of one loopback address: ok.example.
// has an A record, empty.example. none, nx.example. does not exist, and
// fail.example. fails.
func dnsServer(t *testing.T) netip.AddrPort {
	t.Helper()
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		switch q.Question[0].Name {
		case "ok.example.":
			rr, _ := dns.NewRR("ok.example. 5 IN A 192.0.2.1")
			if q.Question[0].Qtype == dns.TypeA {
				m.Answer = append(m.Answer, rr)
			}
		case "empty.example.":
		case "fail.example.":
			m.Rcode = dns.RcodeServerFailure
		default:
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	ln := listen(t)
	pc, err := net.ListenPacket("udp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*dns.Server{{Listener: ln, Handler: h}, {PacketConn: pc, Handler: h}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go func() { _ = s.ActivateAndServe() }()
		<-started
		t.Cleanup(func() { _ = s.Shutdown() })
	}
	return addrOf(ln.Addr())
}

func TestDNS(t *testing.T) {
	a := dnsServer(t)
	// A port of the same address where nothing listens (UDP): refused.
	pc, err := net.ListenPacket("udp", netip.AddrPortFrom(a.Addr(), 0).String())
	if err != nil {
		t.Fatal(err)
	}
	closed := int(addrOf(pc.LocalAddr()).Port())
	pc.Close()
	p := probe.New(probe.Options{Timeout: 5 * time.Second, Tries: 1}, nil)
	port := int(a.Port())
	for _, tc := range []struct {
		name   string
		check  policy.DNSCheck
		reason string
	}{
		{"NOERROR with a record", policy.DNSCheck{Port: port, Name: "ok.example.", Type: "A"}, ""},
		{"type A by default", policy.DNSCheck{Port: port, Name: "ok.example."}, ""},
		{"NOERROR without a record of the type", policy.DNSCheck{Port: port, Name: "ok.example.", Type: "aaaa"}, "dns/" + strconv.Itoa(port) + ": no-records (ok.example. AAAA)"},
		{"NOERROR without a record", policy.DNSCheck{Port: port, Name: "empty.example."}, "dns/" + strconv.Itoa(port) + ": no-records (empty.example. A)"},
		{"NXDOMAIN", policy.DNSCheck{Port: port, Name: "nx.example."}, "dns/" + strconv.Itoa(port) + ": rcode (NXDOMAIN)"},
		{"SERVFAIL", policy.DNSCheck{Port: port, Name: "fail.example."}, "dns/" + strconv.Itoa(port) + ": rcode (SERVFAIL)"},
		{"no server", policy.DNSCheck{Port: closed, Name: "ok.example."}, "dns/" + strconv.Itoa(closed) + ": refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := probe.DNSDefaults(tc.check)
			r := p.Run(context.Background(), a.Addr(), probe.Plan{DNS: &d})
			if r.Reason != tc.reason || r.OK != (tc.reason == "") {
				t.Errorf("got %+v, want reason %q", r, tc.reason)
			}
		})
	}
}

func TestGRPCHealth(t *testing.T) {
	ln := listen(t)
	a := addrOf(ln.Addr())
	hs := health.NewServer()
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, hs)
	go func() { _ = s.Serve(ln) }()
	defer s.Stop()
	// A port of the same address where nothing listens.
	ln2, err := net.Listen("tcp", netip.AddrPortFrom(a.Addr(), 0).String())
	if err != nil {
		t.Fatal(err)
	}
	closed := int(addrOf(ln2.Addr()).Port())
	ln2.Close()

	p := probe.New(probe.Options{Timeout: 5 * time.Second, Tries: 1}, nil)
	port := int(a.Port())
	reason := func(port int, s string) string { return "grpc/" + strconv.Itoa(port) + ": " + s }
	for _, tc := range []struct {
		name   string
		set    map[string]healthpb.HealthCheckResponse_ServingStatus // before the check
		check  policy.GRPCCheck
		reason string
	}{
		{"server SERVING", nil, policy.GRPCCheck{Port: port}, ""},
		{"service SERVING", map[string]healthpb.HealthCheckResponse_ServingStatus{"app.Svc": healthpb.HealthCheckResponse_SERVING}, policy.GRPCCheck{Port: port, Service: "app.Svc"}, ""},
		{"service NOT_SERVING", map[string]healthpb.HealthCheckResponse_ServingStatus{"app.Svc": healthpb.HealthCheckResponse_NOT_SERVING}, policy.GRPCCheck{Port: port, Service: "app.Svc"}, reason(port, "not-serving (NOT_SERVING)")},
		{"server NOT_SERVING", map[string]healthpb.HealthCheckResponse_ServingStatus{"": healthpb.HealthCheckResponse_NOT_SERVING}, policy.GRPCCheck{Port: port}, reason(port, "not-serving (NOT_SERVING)")},
		{"server SERVING again", map[string]healthpb.HealthCheckResponse_ServingStatus{"": healthpb.HealthCheckResponse_SERVING}, policy.GRPCCheck{Port: port}, ""},
		{"unknown service", nil, policy.GRPCCheck{Port: port, Service: "app.Nope"}, reason(port, "not-serving (unknown service)")},
		{"nothing listening", nil, policy.GRPCCheck{Port: closed}, reason(closed, "refused")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for svc, st := range tc.set {
				hs.SetServingStatus(svc, st)
			}
			g := tc.check
			r := p.Run(context.Background(), a.Addr(), probe.Plan{GRPC: &g})
			if r.Reason != tc.reason || r.OK != (tc.reason == "") {
				t.Errorf("got %+v, want reason %q", r, tc.reason)
			}
		})
	}
}

// BenchmarkChecks measures one run of each new check against a healthy
// loopback server: what a target with such a check costs an agent.
func BenchmarkChecks(b *testing.B) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "state: ok") })
	web := httptest.NewServer(mux)
	defer web.Close()
	webAddr := addrOf(web.Listener.Addr())

	gln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, health.NewServer())
	go func() { _ = gs.Serve(gln) }()
	defer gs.Stop()
	grpcAddr := addrOf(gln.Addr())

	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ds := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		rr, _ := dns.NewRR(q.Question[0].Name + " 5 IN A 192.0.2.1")
		m.Answer = append(m.Answer, rr)
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	ds.NotifyStartedFunc = func() { close(started) }
	go func() { _ = ds.ActivateAndServe() }()
	<-started
	defer func() { _ = ds.Shutdown() }()
	dnsAddr := addrOf(pc.LocalAddr())

	p := probe.New(probe.Options{Timeout: 5 * time.Second, Tries: 1}, nil)
	httpCheck := probe.HTTPDefaults(policy.HTTPCheck{Port: int(webAddr.Port()), Match: "ok"})
	dnsCheck := probe.DNSDefaults(policy.DNSCheck{Port: int(dnsAddr.Port()), Name: "health.example."})
	for _, bc := range []struct {
		name string
		ip   netip.Addr
		plan probe.Plan
	}{
		{"http-match", webAddr.Addr(), probe.Plan{HTTP: &httpCheck}},
		{"dns", dnsAddr.Addr(), probe.Plan{DNS: &dnsCheck}},
		{"grpc", grpcAddr.Addr(), probe.Plan{GRPC: &policy.GRPCCheck{Port: int(grpcAddr.Port())}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := p.Run(context.Background(), bc.ip, bc.plan); !r.OK {
					b.Fatalf("%+v", r)
				}
			}
		})
	}
}
