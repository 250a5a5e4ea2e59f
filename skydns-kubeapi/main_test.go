package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skydns/skydns/internal/config"
	"github.com/skydns/skydns/internal/daemon"
	"github.com/skydns/skydns/internal/etcdtest"
)

// logBuffer collects the daemon's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// field returns the value of key in the first line with message msg.
func (b *logBuffer) field(msg, key string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for line := range strings.SplitSeq(b.buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["msg"] != msg {
			continue
		}
		v, _ := m[key].(string)
		return v, true
	}
	return "", false
}

// start runs the daemon's run with settings over the defaults, on a test
// etcd, and returns the address it logged under msg.
func start(t *testing.T, msg string, settings ...string) (addr string, logs *logBuffer) {
	t.Helper()
	e := etcdtest.Start(t)
	var cfg config.API
	settings = append([]string{"Etcd.etcd-servers=" + e.Endpoints()[0]}, settings...)
	if _, err := config.Load("", &cfg, settings); err != nil {
		t.Fatal(err)
	}
	logs = &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, &cfg, daemon.Env{Log: log, Etcd: e.Client()}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("run did not stop")
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		if a, ok := logs.field(msg, "addr"); ok {
			return a, logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log", msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// With the API on, /metrics is served on the API's listener, without the
// token, and metrics-addr opens nothing.
func TestMetricsOnAPIListener(t *testing.T) {
	addr, logs := start(t, "api listening", "SkydnsApi.api-address=127.0.0.1:0", "SkydnsApi.skydns-auth=secret")
	code, body := get(t, "http://"+addr+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	for _, m := range []string{"skydns_kubeapi_api_writes_rejected_total", "skydns_kubeapi_etcd_ready", "go_goroutines", "process_resident_memory_bytes"} {
		if !strings.Contains(body, "\n"+m) {
			t.Errorf("no %s in /metrics", m)
		}
	}
	if strings.Contains(body, "skydns_kubeapi_sync_") {
		t.Error("sync metrics without the sync")
	}
	if _, ok := logs.field("metrics listening", "addr"); ok {
		t.Error("a metrics listener beside the API")
	}
}

// A sync without the API serves /metrics, /healthz and /readyz on
// metrics-addr. (The Kubernetes API here is unreachable: the sync waits
// for its caches and does not campaign, which the metrics show.)
func TestMetricsListenerWithoutAPI(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(`apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: "http://127.0.0.1:1"}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
users: [{name: none, user: {}}]
current-context: none
`), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, _ := start(t, "metrics listening", "SkydnsApi.api-enable=false", "Kube2Skydns.kube-enable=true",
		"Kube2Skydns.kube-config-file="+kubeconfig, "General.metrics-addr=127.0.0.1:0")
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := get(t, "http://"+addr+"/metrics")
		if code != 200 {
			t.Fatalf("/metrics: %d %s", code, body)
		}
		if strings.Contains(body, "\nskydns_kubeapi_etcd_ready 1") {
			for _, m := range []string{`skydns_kubeapi_sync_leader{cluster="default"} 0`, `skydns_kubeapi_sync_services{cluster="default"} 0`,
				`skydns_kubeapi_sync_errors_total{cluster="default",reason="etcd"} 0`, "go_goroutines"} {
				if !strings.Contains(body, "\n"+m) {
					t.Errorf("no %s in /metrics", m)
				}
			}
			if strings.Contains(body, "skydns_kubeapi_api_") {
				t.Error("API metrics without the API")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd_ready never 1:\n%s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, body := get(t, "http://"+addr+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, "http://"+addr+"/readyz"); code != 200 || body != "ready\n" {
		t.Errorf("/readyz: %d %q", code, body)
	}
}
