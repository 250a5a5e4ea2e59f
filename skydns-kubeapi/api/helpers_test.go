package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/apitypes"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

const (
	testToken  = "123456789"
	prefix     = "/skydns"
	statusPath = "/skydns/monitor/status/"
)

// testLog shows the daemon's log only with -v, so failures can be read.
func testLog(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
}

// server is one API instance (a replica) on a real etcd over real HTTP.
type server struct {
	t     testing.TB
	url   string
	store *store.Store
	api   *API
}

// cluster is an etcd with a client for checking what the API wrote.
type cluster struct {
	t    testing.TB
	etcd *etcdtest.Etcd
	cli  *clientv3.Client
	via  *clientv3.Client // if set, the API replicas' client
}

func newCluster(t testing.TB) *cluster {
	e := etcdtest.Start(t)
	return &cluster{t: t, etcd: e, cli: e.Client()}
}

// start runs an API replica; mod adjusts its config.
func (c *cluster) start(mod func(*Config)) *server {
	t := c.t
	t.Helper()
	cfg := Config{
		Domains:        []string{"skydns.local.", "example.org."},
		KubeDomain:     "kube.local.",
		Token:          testToken,
		MaxBody:        64 << 10,
		Cluster:        "test",
		RequestTimeout: 2 * time.Second,
		Logger:         testLog(t),
	}
	if mod != nil {
		mod(&cfg)
	}
	cli := c.via
	if cli == nil {
		cli = c.etcd.Client()
	}
	zones := append(append([]string(nil), cfg.Domains...), "kube.local.")
	st, err := store.New(cli, store.Options{Prefix: prefix, StatusPath: statusPath, Zones: zones,
		Logger: cfg.Logger, ProgressInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, st)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); st.Run(ctx) }()
	go func() { defer wg.Done(); a.Serve(ctx, ln, "", "", time.Second) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case <-st.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("store did not load")
	}
	return &server{t: t, url: "http://" + ln.Addr().String(), store: st, api: a}
}

// do sends a request with the test token as a bearer token (auth "" for
// none) and returns the status and body.
func (s *server) do(method, path, body string, auth string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// ok sends an authorized request that must answer OK.
func (s *server) ok(method, path, body string) {
	s.t.Helper()
	if code, got := s.do(method, path, body, testToken); code != 200 || got != "OK\n" {
		s.t.Fatalf("%s %s %s: %d %q, want 200 OK", method, path, body, code, got)
	}
}

// get fetches one name.
func (s *server) get(name string) apitypes.Name {
	s.t.Helper()
	code, body := s.do("GET", "/skydns/api/"+name, "", testToken)
	if code != 200 {
		s.t.Fatalf("GET %s: %d %s", name, code, body)
	}
	var v apitypes.Name
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		s.t.Fatalf("GET %s: %v in %s", name, err, body)
	}
	return v
}

// stored returns every record under the zone's path, by key, decoded, and
// checks that each key reads back as the name it was written for.
func (c *cluster) stored(zone string) map[string]record.Record {
	c.t.Helper()
	resp, err := c.cli.Get(context.Background(), record.NamePath(prefix, zone), clientv3.WithPrefix())
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string]record.Record{}
	for _, kv := range resp.Kvs {
		r, err := record.Decode(kv.Value)
		if err != nil {
			c.t.Fatalf("%s: %v", kv.Key, err)
		}
		out[string(kv.Key)] = r
	}
	return out
}

// names maps each stored record to the name it serves.
func names(t testing.TB, recs map[string]record.Record) map[string][]record.Record {
	t.Helper()
	out := map[string][]record.Record{}
	for k, r := range recs {
		n, _, err := record.ParseKey(prefix, k, r)
		if err != nil {
			t.Fatalf("ParseKey(%s): %v", k, err)
		}
		out[n] = append(out[n], r)
	}
	return out
}

func (c *cluster) put(key, value string) {
	c.t.Helper()
	if _, err := c.cli.Put(context.Background(), key, value); err != nil {
		c.t.Fatal(err)
	}
}

// eventually retries f for up to 10s.
func eventually(t testing.TB, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
