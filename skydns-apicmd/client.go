package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
)

// client talks to the API, or to the DNS server's stats listener.
type client struct {
	base  string // e.g. http://127.0.0.1:9001/skydns/api/
	token string
	http  *http.Client
	// peer and program name the server in errors; addrFrom and tokenFrom
	// say where its address and token are set.
	peer, program, addrFrom, tokenFrom string
}

// newClient accepts host:port, a URL of the server, or the API's URL as
// the original command line took it.
func newClient(addr, token, caFile string, timeout time.Duration) (*client, error) {
	if addr == "" {
		return nil, usagef("no API address: set -addr or SKYDNS_API_ADDR")
	}
	u, err := serverURL(addr, "API")
	if err != nil {
		return nil, err
	}
	if !strings.HasSuffix(u.Path+"/", apitypes.PathPrefix) {
		u.Path += strings.TrimSuffix(apitypes.PathPrefix, "/")
	}
	u.Path += "/"
	return httpClient(u, token, caFile, timeout, "the API", "skydns-kubeapi", "-addr or SKYDNS_API_ADDR", "-token or SKYDNS_API_TOKEN")
}

// newStatsClient talks to the DNS server's stats listener ([Stats]
// statsServer of skydns.conf), at host:port or a URL of it; base is the
// URL below which /skydns/explain is.
func newStatsClient(addr, token, caFile string, timeout time.Duration) (*client, error) {
	if addr == "" {
		return nil, usagef("no address of the DNS server's stats listener: set -dns-stats-addr or SKYDNS_STATS_ADDR")
	}
	u, err := serverURL(addr, "stats")
	if err != nil {
		return nil, err
	}
	u.Path += "/"
	return httpClient(u, token, caFile, timeout, "the DNS server's stats listener", "skydns", "-dns-stats-addr or SKYDNS_STATS_ADDR", "-stats-token or SKYDNS_STATS_TOKEN")
}

func serverURL(addr, what string) (*url.URL, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, usagef("bad %s address %q: want host:port or http(s)://host:port", what, addr)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawQuery, u.Fragment = "", ""
	return u, nil
}

func httpClient(u *url.URL, token, caFile string, timeout time.Duration, peer, program, addrFrom, tokenFrom string) (*client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("-cacert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-cacert %s: no PEM certificate in it", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &client{base: u.String(), token: token, http: &http.Client{Transport: tr, Timeout: timeout},
		peer: peer, program: program, addrFrom: addrFrom, tokenFrom: tokenFrom}, nil
}

// apiError is an error answer of the API.
type apiError struct {
	status    int
	msg       string
	tokenFrom string
}

func (e *apiError) Error() string {
	hint := ""
	switch e.status {
	case http.StatusUnauthorized:
		hint = " (set " + e.tokenFrom + ")"
	}
	return fmt.Sprintf("%s (HTTP %d %s)%s", e.msg, e.status, http.StatusText(e.status), hint)
}

// call sends one request; path is below /skydns/api/, in is sent as JSON,
// and a JSON answer is decoded into out. It returns the raw body.
func (c *client) call(method, path string, query url.Values, in, out any) ([]byte, error) {
	return c.send(method, c.base+path, query, in, out)
}

// overrides is call for a path below /skydns/overrides/, which sits next
// to /skydns/api/ (behind the same proxy prefix, if any).
func (c *client) overrides(method, path string, in, out any) ([]byte, error) {
	base := strings.TrimSuffix(c.base, strings.TrimPrefix(apitypes.PathPrefix, "/skydns/")) +
		strings.TrimPrefix(apitypes.OverridesPrefix, "/skydns/")
	return c.send(method, base+path, nil, in, out)
}

// sites is call for a path below /skydns/sites/, next to /skydns/api/ as
// the overrides are.
func (c *client) sites(method, path string, in, out any) ([]byte, error) {
	base := strings.TrimSuffix(c.base, strings.TrimPrefix(apitypes.PathPrefix, "/skydns/")) +
		strings.TrimPrefix(apitypes.SitesPrefix, "/skydns/")
	return c.send(method, base+path, nil, in, out)
}

// send is call with the whole URL.
func (c *client) send(method, u string, query url.Values, in, out any) ([]byte, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.reachError(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer of %s: %w", c.server(), err)
	}
	if resp.StatusCode != http.StatusOK {
		var e apitypes.Error
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return raw, &apiError{status: resp.StatusCode, msg: e.Error, tokenFrom: c.tokenFrom}
		}
		return raw, &apiError{status: resp.StatusCode, msg: strings.TrimSpace(string(raw)), tokenFrom: c.tokenFrom}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return raw, fmt.Errorf("the answer of %s is not what %s sends: %v", c.server(), c.program, err)
		}
	}
	return raw, nil
}

func (c *client) server() string {
	u, _ := url.Parse(c.base)
	return u.Scheme + "://" + u.Host
}

// reachError says plainly why the API could not be reached.
func (c *client) reachError(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("cannot reach %s at %s: connection refused; is %s running there? (set %s)", c.peer, c.server(), c.program, c.addrFrom)
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%s at %s did not answer in time (-timeout)", capital(c.peer), c.server())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("cannot reach %s at %s: %v", c.peer, c.server(), err)
}

// ok sends a write and expects the API's OK.
func (c *client) ok(method, path string, in any) (string, error) {
	raw, err := c.call(method, path, nil, in, nil)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(raw)), nil
}

func capital(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
