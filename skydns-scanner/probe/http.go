package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/skydns/skydns/internal/policy"
)

// HTTPDefaults fills in an HTTP check's defaults: scheme http, port 80 (443
// for https), path /, expected status 200. Host stays empty: the IP.
func HTTPDefaults(h policy.HTTPCheck) policy.HTTPCheck {
	if h.Scheme == "" {
		h.Scheme = "http"
	}
	if h.Port == 0 {
		h.Port = 80
		if h.Scheme == "https" {
			h.Port = 443
		}
	}
	if h.Path == "" || h.Path[0] != '/' {
		h.Path = "/" + h.Path
	}
	if h.Expect == 0 {
		h.Expect = http.StatusOK
	}
	return h
}

type httpClient struct{ c *http.Client }

// tlsKey carries a check's tlsCheck to the TLS dialer.
type tlsKey struct{}

func newHTTPClient(timeout time.Duration, roots *x509.CertPool) httpClient {
	d := &net.Dialer{Timeout: timeout, KeepAlive: -1}
	tr := &http.Transport{
		// Never through a proxy from the environment: the point is to reach
		// the backend itself.
		Proxy:       nil,
		DialContext: d.DialContext,
		// By default the check asks whether the service answers, not who
		// it is: the certificate of a backend reached by IP rarely names
		// that IP, and nothing secret is sent. A check with tls-verify
		// asks who it is too, and one with min-cert-days how long it has
		// left (checkCert): both after a handshake that trusts anything, so
		// that the failure says which. The SNI is the check's host when
		// given, so that a server with several certificates picks the
		// right one.
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			tc, _ := ctx.Value(tlsKey{}).(tlsCheck)
			conn := tls.Client(c, &tls.Config{ServerName: tc.sni, InsecureSkipVerify: true})
			if err := conn.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, err
			}
			if tc.verify || tc.minDays > 0 {
				if err := checkCert(conn.ConnectionState(), tc, roots, time.Now()); err != nil {
					c.Close()
					return nil, err
				}
			}
			return conn, nil
		},
		// Every probe opens a fresh connection: a kept-alive one would
		// answer for a server that no longer accepts.
		DisableKeepAlives:      true,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 64 << 10,
	}
	return httpClient{&http.Client{
		Transport: tr,
		Timeout:   timeout,
		// The expected status is that of the first answer: a redirect is an
		// answer like any other.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// get runs an HTTP check (defaults filled in) up to Tries times.
func (p *Prober) get(ctx context.Context, ip netip.Addr, h *policy.HTTPCheck) error {
	url := h.Scheme + "://" + net.JoinHostPort(ip.String(), strconv.Itoa(h.Port)) + h.Path
	if h.Scheme == "https" {
		// The name a verified certificate must hold: the one asked for,
		// else the address itself (an IP SAN).
		tc := tlsCheck{sni: h.Host, name: h.Host, verify: h.TLSVerify, minDays: h.MinCertDays}
		if tc.name == "" {
			tc.name = ip.String()
		}
		ctx = context.WithValue(ctx, tlsKey{}, tc)
	}
	return p.try(ctx, HTTP, func() error { return p.getOnce(ctx, url, h) })
}

func (p *Prober) getOnce(ctx context.Context, url string, h *policy.HTTPCheck) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if h.Host != "" {
		req.Host = h.Host
	}
	req.Header.Set("User-Agent", "skydns-scanner")
	resp, err := p.http.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != h.Expect {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("%w %d, want %d", ErrStatus, resp.StatusCode, h.Expect)
	}
	if h.Match != "" {
		found, err := findMatch(resp.Body, []byte(h.Match), policy.MaxMatchBody)
		if err != nil {
			return err
		}
		if !found {
			return &checkError{label: reasonMatch}
		}
		return nil
	}
	// Read a little so a server that writes its body before checking the
	// connection does not see a reset; the rest is of no interest.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	return nil
}
