package agent_test

import (
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"testing"

	mt "github.com/skydns/skydns/internal/monitor/monitortest"
)

type httpBackend struct {
	ip     netip.Addr
	port   int
	status atomic.Int32 // what /health answers
}

func newHTTPBackend(t *testing.T) *httpBackend {
	t.Helper()
	b := &httpBackend{ip: mt.LoopbackIPs(1)[0]}
	b.status.Store(200)
	ln, err := net.Listen("tcp", netip.AddrPortFrom(b.ip, 0).String())
	if err != nil {
		t.Fatal(err)
	}
	b.port = int(netip.MustParseAddrPort(ln.Addr().String()).Port())
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(b.status.Load()))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return b
}
