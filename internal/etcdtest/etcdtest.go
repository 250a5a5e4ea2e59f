// Package etcdtest starts a real, embedded etcd for a test and tears it down
// when the test ends. Nothing in SkyDNS tests mocks etcd: they all come here.
package etcdtest

import (
	"context"
	"net/url"
	"os"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/embedetcd"
	"github.com/skydns/skydns/internal/etcdclient"
)

// Etcd is one running test member. Stop and Start let a test take it away
// and bring it back on the same address with the same data.
type Etcd struct {
	t      testing.TB
	dir    string
	addr   string
	server *embedetcd.Server
	// member is set for a member of a Cluster.
	member embedetcd.Options
}

// Start starts a member in a temporary directory on 127.0.0.1 and registers
// its shutdown with t.Cleanup.
func Start(t testing.TB) *Etcd {
	t.Helper()
	e := &Etcd{t: t, dir: t.TempDir(), addr: "127.0.0.1:0"}
	e.Start()
	// Registered before any client's cleanup, so it runs after them:
	// Cleanup is LIFO, and etcd stalls on close while clients are open.
	t.Cleanup(e.Stop)
	return e
}

// Start (re)starts the member if it is stopped.
func (e *Etcd) Start() {
	e.t.Helper()
	if e.server != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var s *embedetcd.Server
	var err error
	// A restart reuses the old port, which the kernel may briefly still hold.
	for range 50 {
		o := e.member
		o.Dir, o.ClientAddr, o.Fast, o.LogLevel = e.dir, e.addr, true, "panic"
		s, err = embedetcd.Start(ctx, o)
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		e.t.Fatalf("etcdtest: start etcd: %v", err)
	}
	e.server = s
	u, err := url.Parse(s.Endpoints()[0])
	if err != nil {
		e.t.Fatalf("etcdtest: %v", err)
	}
	e.addr = u.Host
}

// Stop stops the member; its data stays for the next Start.
func (e *Etcd) Stop() {
	if e.server == nil {
		return
	}
	e.server.Close()
	e.server = nil
}

// Kill stops the member as kill -9 would: a leader hands nothing over.
// Its data stays for the next Start.
func (e *Etcd) Kill() {
	if e.server == nil {
		return
	}
	e.server.Kill()
	e.server = nil
}

// Snapshot copies the member's data as it is now (stopping and starting it
// around the copy) and returns a function that puts that copy back, as an
// operator's restore from an older backup would: the member restarts on
// the same address with the old keys and a lower revision.
func (e *Etcd) Snapshot() (restore func()) {
	e.t.Helper()
	e.Stop()
	snap := e.t.TempDir()
	if err := os.CopyFS(snap, os.DirFS(e.dir)); err != nil {
		e.t.Fatalf("etcdtest: snapshot: %v", err)
	}
	e.Start()
	return func() {
		e.t.Helper()
		e.Stop()
		if err := os.RemoveAll(e.dir); err != nil {
			e.t.Fatalf("etcdtest: restore: %v", err)
		}
		if err := os.CopyFS(e.dir, os.DirFS(snap)); err != nil {
			e.t.Fatalf("etcdtest: restore: %v", err)
		}
		e.Start()
	}
}

// Endpoints returns the client URL (stable across Stop and Start).
func (e *Etcd) Endpoints() []string { return []string{"http://" + e.addr} }

// Client returns a new client, closed when the test ends.
func (e *Etcd) Client() *clientv3.Client {
	e.t.Helper()
	return newClient(e.t, e.Endpoints())
}

func newClient(t testing.TB, endpoints []string) *clientv3.Client {
	t.Helper()
	c, err := etcdclient.New(etcdclient.Options{Endpoints: endpoints, DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("etcdtest: client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
