package etcdtest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/embedetcd"
)

// Members is a real etcd cluster of embedded members on 127.0.0.1, each
// reached by clients through its own Proxy, as production runs 3 or 5:
// tests kill the leader, isolate a member or take quorum away with it.
type Members struct {
	t       testing.TB
	members []*Etcd
	proxies []*Proxy
}

// electionMs is the members' election timeout: long enough that a loaded
// test machine does not hold elections on its own, short enough that a
// test waits well under a second for a new leader.
const electionMs = 500

// Cluster starts n members (and their proxies), waits until they have a
// leader, and stops them when the test ends.
func Cluster(t testing.TB, n int) *Members {
	t.Helper()
	c := &Members{t: t}
	names := make([]string, n)
	peers := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("m%d", i)
		peers[i] = freeAddr(t)
	}
	var initial []string
	for i := range n {
		initial = append(initial, names[i]+"=http://"+peers[i])
	}
	for i := range n {
		e := &Etcd{t: t, dir: t.TempDir(), addr: freeAddr(t), member: embedetcd.Options{
			Name: names[i], PeerAddr: peers[i], InitialCluster: strings.Join(initial, ","), ElectionMs: electionMs}}
		c.members = append(c.members, e)
	}
	// A member is ready only once a quorum has met: start them together.
	var wg sync.WaitGroup
	for _, e := range c.members {
		wg.Add(1)
		go func() { defer wg.Done(); e.Start() }()
	}
	wg.Wait()
	for _, e := range c.members {
		t.Cleanup(e.Stop) // before the proxies' and the clients' cleanups: runs after them
	}
	for _, e := range c.members {
		c.proxies = append(c.proxies, e.Proxy())
	}
	c.Leader()
	return c
}

// freeAddr is a free host:port on 127.0.0.1. (A member's address must be
// known before any member starts, since each lists all.)
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Member returns member i, to Stop, Kill or Start.
func (c *Members) Member(i int) *Etcd { return c.members[i] }

// Proxy returns the proxy in front of member i, to Cut or Restore.
func (c *Members) Proxy(i int) *Proxy { return c.proxies[i] }

// Endpoints returns every member's proxy URL: what a daemon under test is
// given.
func (c *Members) Endpoints() []string {
	var out []string
	for _, p := range c.proxies {
		out = append(out, p.Endpoints()...)
	}
	return out
}

// Client returns a client of every member through the proxies, closed when
// the test ends.
func (c *Members) Client() *clientv3.Client {
	c.t.Helper()
	return newClient(c.t, c.Endpoints())
}

// Leader waits (up to 20 s) until a running member is the leader and
// returns its index.
func (c *Members) Leader() int {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		for i, e := range c.members {
			if e.server != nil && e.server.IsLeader() {
				return i
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatal("etcdtest: no leader after 20s")
	return -1
}
