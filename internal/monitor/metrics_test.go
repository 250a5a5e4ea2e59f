package monitor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestServeMetricsRoutes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var ready atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = ServeMetrics(ctx, addr, NewRegistry(), func() (bool, string) { return ready.Load(), "jobs not loaded yet" },
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		path  string
		ready bool
		code  int
		body  string
	}{
		{"/healthz", false, 200, "ok"},
		{"/readyz", false, 503, "not ready: jobs not loaded yet"},
		{"/readyz", true, 200, "ready"},
		{"/metrics", true, 200, "go_goroutines"},
	} {
		ready.Store(tc.ready)
		if code, body := get(tc.path); code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("GET %s (ready %v) = %d %q, want %d with %q", tc.path, tc.ready, code, body, tc.code, tc.body)
		}
	}
}

// The daemons' own HTTP listeners cut off clients that hold connections:
// idle keep-alive ones and those that send their headers slowly. The
// production timeouts are checked for being set; the behaviour runs with
// them shortened, over real connections on 127.0.0.1.
func TestHTTPServerCutsIdleAndSlowClients(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	srv := NewHTTPServer(mux, slog.New(slog.DiscardHandler))
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		if d <= 0 || d > time.Minute {
			t.Errorf("%s = %v, want between 0 and 1m", name, d)
		}
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 64<<10 {
		t.Errorf("MaxHeaderBytes = %d", srv.MaxHeaderBytes)
	}
	srv.IdleTimeout = 300 * time.Millisecond
	srv.ReadHeaderTimeout = 300 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	for _, tc := range []struct {
		name string
		send string // what each client sends, then it waits
	}{
		{"idle after one request", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"half a header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "},
		{"nothing at all", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const clients = 50
			var conns []net.Conn
			defer func() {
				for _, c := range conns {
					c.Close()
				}
			}()
			for range clients {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
				if _, err := io.WriteString(c, tc.send); err != nil {
					t.Fatal(err)
				}
			}
			// Each connection must end (EOF or reset) long before the
			// deadline; a response, if any, is read past.
			for i, c := range conns {
				c.SetReadDeadline(time.Now().Add(20 * time.Second))
				_, err := io.Copy(io.Discard, c)
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("connection %d still open after 20 s", i)
				}
			}
		})
	}
}
