package chaos

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// member is one etcd member process behind a client proxy and a peer proxy.
type member struct {
	name     string
	proc     *proc
	client   *proxy // what the daemons dial
	peer     *proxy // what the other members dial
	direct   string // the member's own client URL, for the suite's admin calls
	id       string // raft member id, hex, as in X-Server-From
	isolated bool
}

// cluster is a 3-member etcd cluster on loopback.
type cluster struct {
	t       *testing.T
	members []*member
	admin   *clientv3.Client // through the members' own ports: never cut
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func startCluster(t *testing.T, bin, dir string) *cluster {
	t.Helper()
	c := &cluster{t: t}
	var initial []string
	type ports struct{ client, peer string }
	var ps []ports
	for i := range 3 {
		m := &member{name: fmt.Sprintf("m%d", i)}
		p := ports{freeAddr(t), freeAddr(t)}
		var err error
		if m.client, err = newProxy(p.client, false); err != nil {
			t.Fatal(err)
		}
		if m.peer, err = newProxy(p.peer, true); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.client.close)
		t.Cleanup(m.peer.close)
		m.direct = "http://" + p.client
		initial = append(initial, m.name+"="+m.peer.url())
		ps = append(ps, p)
		c.members = append(c.members, m)
	}
	for i, m := range c.members {
		m.proc = &proc{name: "etcd-" + m.name, bin: filepath.Join(bin, "member"), log: filepath.Join(dir, "etcd-"+m.name+".log"),
			args: []string{"-name", m.name, "-dir", filepath.Join(dir, "etcd-"+m.name),
				"-listen-client", "http://" + ps[i].client, "-advertise-client", m.client.url(),
				"-listen-peer", "http://" + ps[i].peer, "-advertise-peer", m.peer.url(),
				"-initial-cluster", strings.Join(initial, ",")}}
		if err := m.proc.start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.proc.kill)
	}
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.direct)
	}
	var err error
	c.admin, err = clientv3.New(clientv3.Config{Endpoints: eps, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.admin.Close() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.admin.Put(ctx, "/chaos/hello", "1")
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd cluster not serving within 60s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, m := range c.members {
		st := c.status(m)
		if st == nil {
			t.Fatalf("no status from %s", m.name)
		}
		m.id = fmt.Sprintf("%x", st.Header.MemberId)
	}
	return c
}

// endpoints are the client URLs the daemons get: the three proxies.
func (c *cluster) endpoints() string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.client.url())
	}
	return strings.Join(eps, ",")
}

func (c *cluster) status(m *member) *clientv3.StatusResponse {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.admin.Status(ctx, m.direct)
	if err != nil {
		return nil
	}
	return st
}

// leader is the member that a running, non-isolated member names leader,
// or nil.
func (c *cluster) leader() *member {
	for _, m := range c.members {
		if !m.proc.running() || m.isolated {
			continue
		}
		st := c.status(m)
		if st == nil || st.Leader == 0 {
			continue
		}
		for _, l := range c.members {
			if l.id == fmt.Sprintf("%x", st.Leader) {
				return l
			}
		}
	}
	return nil
}

// waitLeader waits for a leader other than not (nil: any) and returns it
// with how long it took.
func (c *cluster) waitLeader(not *member, limit time.Duration) (*member, time.Duration) {
	start := time.Now()
	for time.Since(start) < limit {
		if l := c.leader(); l != nil && l != not && !l.isolated && l.proc.running() {
			return l, time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, time.Since(start)
}

// isolate cuts m from clients and from its peers (both directions).
func (c *cluster) isolate(m *member, cut bool) {
	m.isolated = cut
	m.client.setCut(cut)
	m.peer.setCut(cut)
	for _, o := range c.members {
		if o != m {
			o.peer.setDeny(m.id, cut)
		}
	}
}

// compactDefrag compacts to the current revision and defragments every
// running member, under load.
func (c *cluster) compactDefrag() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.admin.Get(ctx, "/chaos/hello")
	if err != nil {
		return err
	}
	if _, err := c.admin.Compact(ctx, resp.Header.Revision); err != nil {
		return err
	}
	for _, m := range c.members {
		if m.proc.running() && !m.isolated {
			if _, err := c.admin.Defragment(ctx, m.direct); err != nil {
				return fmt.Errorf("defragment %s: %w", m.name, err)
			}
		}
	}
	return nil
}
