package probe

import (
	"context"
	"crypto/tls"
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

type sniKey struct{}

func newHTTPClient(timeout time.Duration) httpClient {
	d := &net.Dialer{Timeout: timeout, KeepAlive: -1}
	tr := &http.Transport{
		// Never through a proxy from the environment: the point is to reach
		// the backend itself.
		Proxy:       nil,
		DialContext: d.DialContext,
		// The check asks whether the service answers, not who it is: the
		// certificate of a backend reached by IP rarely names that IP, and
		// nothing secret is sent. The SNI is the check's host when given,
		// so that a server with several certificates picks the right one.
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			sni, _ := ctx.Value(sniKey{}).(string)
			tc := tls.Client(c, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
			if err := tc.HandshakeContext(ctx); err != nil {
				c.Close()
				return nil, err
			}
			return tc, nil
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
	var err error
	for try := 0; try < p.o.Tries; try++ {
		start := time.Now()
		err = p.getOnce(ctx, url, h)
		p.m.observe(HTTP, start, err)
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	return err
}

func (p *Prober) getOnce(ctx context.Context, url string, h *policy.HTTPCheck) error {
	if h.Host != "" {
		ctx = context.WithValue(ctx, sniKey{}, h.Host)
	}
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
	// Read a little so a server that writes its body before checking the
	// connection does not see a reset; the rest is of no interest.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	if resp.StatusCode != h.Expect {
		return fmt.Errorf("%w %d, want %d", ErrStatus, resp.StatusCode, h.Expect)
	}
	return nil
}
