package monitor

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
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
