package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/skydns/skydns/internal/policy"
)

// checkError is a failure that a check decided on from an answer (not a
// network error): label is its bounded metric label and the word in the
// reason, detail says more in the reason only.
type checkError struct{ label, detail string }

func (e *checkError) Error() string {
	if e.detail == "" {
		return e.label
	}
	return e.label + ": " + e.detail
}

// The labels of checkError, each also a failure reason in the metrics.
const (
	reasonMatch      = "match"       // HTTP body without the match text
	reasonCertVerify = "cert-verify" // chain or name not trusted
	reasonCertExpiry = "cert-expiry" // expired, or expires within min-cert-days
	reasonRcode      = "rcode"       // DNS answer other than NOERROR
	reasonNoRecords  = "no-records"  // DNS NOERROR without a record
	reasonNotServing = "not-serving" // gRPC health other than SERVING
)

// findMatch reads r until it has seen m, at most limit bytes, and reads no
// further once it has: a big or endless body costs only what precedes the
// match.
func findMatch(r io.Reader, m []byte, limit int) (bool, error) {
	chunk := make([]byte, 4<<10)
	window := make([]byte, 0, len(chunk)+len(m))
	for read := 0; read < limit; {
		n, err := r.Read(chunk[:min(len(chunk), limit-read)])
		read += n
		window = append(window, chunk[:n]...)
		if bytes.Contains(window, m) {
			return true, nil
		}
		// Keep what could be the start of a match split across reads.
		if keep := len(m) - 1; len(window) > keep {
			window = append(window[:0], window[len(window)-keep:]...)
		}
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// tlsCheck is what the TLS handshake of one HTTP check must verify.
type tlsCheck struct {
	sni     string // server name sent; "" for none
	name    string // name the certificate must hold with verify: the host, else the IP
	verify  bool
	minDays int
}

// checkCert applies a tlsCheck to the certificates a server sent. Expiry
// comes first and is its own reason, verified or not: an expiring
// certificate is the health event min-cert-days exists for, and an
// expired one is better reported as such than as "not trusted".
func checkCert(cs tls.ConnectionState, c tlsCheck, roots *x509.CertPool, now time.Time) error {
	if len(cs.PeerCertificates) == 0 {
		return &checkError{reasonCertVerify, "no certificate"}
	}
	leaf := cs.PeerCertificates[0]
	if now.After(leaf.NotAfter) {
		return &checkError{reasonCertExpiry, "expired " + leaf.NotAfter.UTC().Format(time.RFC3339)}
	}
	if c.minDays > 0 && leaf.NotAfter.Sub(now) < time.Duration(c.minDays)*24*time.Hour {
		days := int(leaf.NotAfter.Sub(now) / (24 * time.Hour))
		return &checkError{reasonCertExpiry, "expires in " + strconv.Itoa(days) + " days, want " + strconv.Itoa(c.minDays)}
	}
	if !c.verify {
		return nil
	}
	if now.Before(leaf.NotBefore) {
		return &checkError{reasonCertVerify, "not valid before " + leaf.NotBefore.UTC().Format(time.RFC3339)}
	}
	inter := x509.NewCertPool()
	for _, ic := range cs.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: c.name, CurrentTime: now})
	if err != nil {
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			// An intermediate out of its validity (the leaf's was checked).
			return &checkError{reasonCertExpiry, trimX509(err)}
		}
		return &checkError{reasonCertVerify, trimX509(err)}
	}
	return nil
}

// trimX509 keeps the part of a verification error an operator needs: the
// reason text of a status is short.
func trimX509(err error) string {
	s := strings.TrimPrefix(err.Error(), "x509: ")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// DNSDefaults fills in a DNS check's defaults: port 53, type A.
func DNSDefaults(d policy.DNSCheck) policy.DNSCheck {
	if d.Port == 0 {
		d.Port = 53
	}
	if d.Type == "" {
		d.Type = "A"
	}
	d.Type = strings.ToUpper(d.Type)
	return d
}

// dnsOnce asks ip the check's question over UDP (again over TCP when the
// answer is truncated) and wants NOERROR with at least one record.
func (p *Prober) dnsOnce(ctx context.Context, addr string, d *policy.DNSCheck) error {
	qtype, _ := policy.DNSType(d.Type)
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(d.Name), qtype)
	c := dns.Client{Net: "udp", Timeout: p.o.Timeout}
	r, _, err := c.ExchangeContext(ctx, m, addr)
	if err == nil && r.Truncated {
		c.Net = "tcp"
		r, _, err = c.ExchangeContext(ctx, m, addr)
	}
	switch {
	case err != nil:
		return err
	case r.Rcode != dns.RcodeSuccess:
		return &checkError{reasonRcode, dns.RcodeToString[r.Rcode]}
	case len(r.Answer) == 0:
		return &checkError{reasonNoRecords, d.Name + " " + d.Type}
	}
	return nil
}

// grpcOnce asks ip's grpc.health.v1 service about the check's service on
// a connection of its own, in plain text (h2c).
func (p *Prober) grpcOnce(ctx context.Context, addr string, g *policy.GRPCCheck) error {
	// Like the HTTP check: never through a proxy from the environment.
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithNoProxy(),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) {
			return p.dialer.DialContext(ctx, "tcp", a)
		}))
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: g.Service}, grpc.WaitForReady(false))
	if err != nil {
		return grpcError(err)
	}
	if st := resp.GetStatus(); st != healthpb.HealthCheckResponse_SERVING {
		return &checkError{reasonNotServing, st.String()}
	}
	return nil
}

// grpcError turns a gRPC status into the reasons of the other checks where
// one fits.
func grpcError(err error) error {
	s, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch s.Code() {
	case codes.DeadlineExceeded:
		return context.DeadlineExceeded
	case codes.Canceled:
		return context.Canceled
	case codes.NotFound:
		// The health service's answer for a service it does not know.
		return &checkError{reasonNotServing, "unknown service"}
	case codes.Unimplemented:
		return &checkError{"error", "no grpc.health.v1 service"}
	case codes.Unavailable:
		if strings.Contains(s.Message(), "connection refused") {
			return &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
		}
	}
	return err
}

// addr is ip:port as a dial string.
func addr(ip netip.Addr, port int) string {
	return netip.AddrPortFrom(ip, uint16(port)).String()
}
