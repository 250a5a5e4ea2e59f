// Package probe runs the health checks of one IP: ICMP echo, TCP connect
// on each port, an HTTP(S) GET with an expected status (and optionally a
// text in the body, a verified or unexpiring certificate), a DNS query,
// and the gRPC health check. It knows
// nothing of etcd or of rounds; skydns-scanner's agent decides when to
// probe what and what a run of results means.
package probe

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/skydns/skydns/internal/policy"
)

// Kind is a kind of check, used in failure reasons and metric labels.
type Kind string

const (
	ICMP Kind = "icmp"
	TCP  Kind = "tcp"
	HTTP Kind = "http"
	DNS  Kind = "dns"
	GRPC Kind = "grpc"
)

// kinds are all the Kinds, for the metrics.
var kinds = []Kind{ICMP, TCP, HTTP, DNS, GRPC}

// Plan is everything to probe on one IP, resolved from its job and the
// agent's defaults.
type Plan struct {
	ICMP       bool
	Ports      []int             // TCP connect on each
	HTTP       *policy.HTTPCheck // nil: none; otherwise with defaults filled in
	DNS        *policy.DNSCheck  // nil: none; otherwise with defaults filled in
	GRPC       *policy.GRPCCheck // nil: none
	RequireAll bool              // every service check must pass, not one
}

// Result is the outcome of one run of a Plan.
type Result struct {
	OK bool
	// Reason says why not OK: the check (kind/port), the failure reason
	// of the metrics, and for some a detail in parentheses, e.g.
	// "tcp/80: refused" or "dns/53: rcode (SERVFAIL)"; empty when OK.
	Reason string
}

// Options tune a Prober.
type Options struct {
	Timeout     time.Duration // one TCP connect or HTTP request
	Tries       int           // TCP/HTTP attempts before a check fails; at least 1
	PingTimeout time.Duration // wait for echo replies
	PingCount   int           // echo requests per probe; one reply is enough
	ICMPMode    ICMPMode      // how to send echo requests; see DetectICMP
	// RootCAs verify the certificates of HTTPS checks with tls-verify;
	// nil: the system's roots.
	RootCAs *x509.CertPool
}

// Prober runs plans. It is safe for concurrent use.
type Prober struct {
	o      Options
	dialer net.Dialer
	http   httpClient
	m      *Metrics
}

// New returns a Prober that counts what it does in m (which may be nil).
func New(o Options, m *Metrics) *Prober {
	if o.Tries < 1 {
		o.Tries = 1
	}
	if o.PingCount < 1 {
		o.PingCount = 1
	}
	if m == nil {
		m = NewMetrics(nil)
	}
	p := &Prober{o: o, m: m}
	// No TCP keep-alive: the connection lives for a moment, and its three
	// setsockopt calls were a tenth of the cost of a probe.
	p.dialer = net.Dialer{Timeout: o.Timeout, KeepAlive: -1}
	p.http = newHTTPClient(o.Timeout, o.RootCAs)
	return p
}

// Run probes ip as plan says.
//
// ICMP, when planned, is a gate: a host that does not answer echo is down
// whatever its ports say. The service checks (each TCP port, the HTTP GET,
// the DNS query, the gRPC health check) then decide: one passing is enough, or all must pass with RequireAll.
// A plan with no service check is decided by ICMP alone, and a plan with
// nothing at all passes. Checks stop at the first answer that settles the
// verdict, so a healthy IP with many ports costs one connect.
func (p *Prober) Run(ctx context.Context, ip netip.Addr, plan Plan) Result {
	if plan.ICMP && p.o.ICMPMode != ICMPOff {
		if err := p.icmp(ctx, ip); err != nil {
			return fail(ICMP, "", err)
		}
	}
	var first Result
	check := func(k Kind, port int, err error) (done bool, r Result) {
		if err == nil {
			if !plan.RequireAll {
				return true, Result{OK: true}
			}
			return false, Result{}
		}
		f := fail(k, strconv.Itoa(port), err)
		if plan.RequireAll {
			return true, f
		}
		if first.Reason == "" {
			first = f
		}
		return false, Result{}
	}
	n := 0
	for _, port := range plan.Ports {
		n++
		if done, r := check(TCP, port, p.tcp(ctx, ip, port)); done {
			return r
		}
	}
	if h := plan.HTTP; h != nil {
		n++
		if done, r := check(HTTP, h.Port, p.get(ctx, ip, h)); done {
			return r
		}
	}
	if d := plan.DNS; d != nil {
		n++
		err := p.try(ctx, DNS, func() error { return p.dnsOnce(ctx, addr(ip, d.Port), d) })
		if done, r := check(DNS, d.Port, err); done {
			return r
		}
	}
	if g := plan.GRPC; g != nil {
		n++
		err := p.try(ctx, GRPC, func() error { return p.grpcOnce(ctx, addr(ip, g.Port), g) })
		if done, r := check(GRPC, g.Port, err); done {
			return r
		}
	}
	if n == 0 || plan.RequireAll {
		return Result{OK: true}
	}
	return first
}

func fail(k Kind, port string, err error) Result {
	r := string(k)
	if port != "" {
		r += "/" + port
	}
	r += ": " + Reason(err)
	if ce := (*checkError)(nil); errors.As(err, &ce) && ce.detail != "" {
		r += " (" + ce.detail + ")"
	}
	return Result{Reason: r}
}

// try runs one check up to Tries times, counting each in the metrics.
func (p *Prober) try(ctx context.Context, k Kind, once func() error) error {
	var err error
	for try := 0; try < p.o.Tries; try++ {
		start := time.Now()
		err = once()
		p.m.observe(k, start, err)
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	return err
}

// tcp connects to ip:port, up to Tries times.
func (p *Prober) tcp(ctx context.Context, ip netip.Addr, port int) error {
	addr := netip.AddrPortFrom(ip, uint16(port)).String()
	var err error
	for try := 0; try < p.o.Tries; try++ {
		start := time.Now()
		var c net.Conn
		c, err = p.dialer.DialContext(ctx, "tcp", addr)
		p.m.observe(TCP, start, err)
		if err == nil {
			// Closing with a reset instead of a FIN leaves no TIME_WAIT
			// socket behind: thousands of probes a second would otherwise
			// pile up tens of thousands of them.
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.Close()
			return nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return err
}

// ErrStatus is the failure of an HTTP check that got an unexpected status.
var ErrStatus = errors.New("unexpected status")

// Reason names an error for failure reasons and metric labels: refused,
// reset, unreachable, timeout, no-reply, status, match, cert-verify,
// cert-expiry, rcode, no-records, not-serving, canceled or error.
func Reason(err error) string {
	var ne net.Error
	var ce *checkError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ce):
		return ce.label
	case errors.Is(err, ErrStatus):
		return "status"
	case errors.Is(err, errNoReply):
		return "no-reply"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EADDRNOTAVAIL):
		return "unreachable"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "error"
}
