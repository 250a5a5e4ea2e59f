package kubesync

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"

	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
)

// value reads a gauge or a counter.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	if d.Gauge != nil {
		return d.Gauge.GetValue()
	}
	return d.Counter.GetValue()
}

// as configures a sync of the election tests: its host, a short lease.
func as(host string, ttl time.Duration, more ...func(*Config)) func(*Config) {
	return func(c *Config) {
		c.User, c.LockTTL, c.RequestTimeout = host, ttl, time.Second
		for _, m := range more {
			m(c)
		}
	}
}

// within waits up to d for f.
func within(t testing.TB, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// warm waits until i has its informers synced (it sees n services) and
// stands by.
func (i *instance) warm(t testing.TB, n int) {
	t.Helper()
	within(t, 15*time.Second, "standby warm", func() bool {
		return i.store.IsReady() && value(i.s.m.services) == float64(n)
	})
	// Long enough for it to have campaigned, had it been able to win.
	time.Sleep(300 * time.Millisecond)
	if i.s.Leading() {
		t.Fatal("the second sync leads beside the first")
	}
}

// write is one put or delete of a record or policy key, as a watch saw it.
type write struct {
	rev  int64
	key  string
	user string // of a put
}

// writes watches the sync's keys (records of the domain and policies)
// from revision rev on; collect returns what it saw up to now.
func (e *env) writes(rev int64) (collect func() []write) {
	t := e.t
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// The sentinel is written under the watched prefix but outside what
	// the syncs read, so that collect knows the watch has caught up.
	sentinel := prefix + "/zz-test-sentinel"
	wc := e.cli.Watch(ctx, prefix+"/", clientv3.WithPrefix(), clientv3.WithRev(rev))
	ch := make(chan write, 1000)
	go func() {
		defer close(ch)
		for resp := range wc {
			for _, ev := range resp.Events {
				w := write{rev: ev.Kv.ModRevision, key: string(ev.Kv.Key)}
				if ev.Type == clientv3.EventTypePut {
					// Records and policies both keep the writer's host in
					// "user".
					var v struct {
						User string `json:"user"`
					}
					_ = json.Unmarshal(ev.Kv.Value, &v)
					w.user = v.User
				}
				ch <- w
			}
		}
	}()
	return func() []write {
		t.Helper()
		resp, err := e.cli.Put(context.Background(), sentinel, "x")
		if err != nil {
			t.Fatal(err)
		}
		var out []write
		timeout := time.After(10 * time.Second)
		for {
			select {
			case w := <-ch:
				if w.key == sentinel && w.rev == resp.Header.Revision {
					return out
				}
				if strings.HasPrefix(w.key, record.NamePath(prefix, domain)) || strings.HasPrefix(w.key, policy.Prefix(prefix)) {
					out = append(out, w)
				}
			case <-timeout:
				t.Fatal("the watch did not catch up")
			}
		}
	}
}

func (e *env) revision() int64 {
	e.t.Helper()
	resp, err := e.cli.Get(context.Background(), "/")
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.Header.Revision
}

func setIngress(ip string) func(*corev1.Service) {
	return func(s *corev1.Service) {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
	}
}

// Two syncs of one cluster: one leads and writes, the other stands by
// and writes nothing. They are configured differently on purpose (the
// standby would also publish the ClusterIP, as during a rolling change of
// kube-publish-cluster-ip), so that any write of the standby's would
// show, and two writers would undo each other at every sweep.
func TestElectionOneWriter(t *testing.T) {
	e := newEnv(t)
	e.createService(lbService("default", "web", "203.0.113.1"))
	fast := func(c *Config) { c.Resync = 100 * time.Millisecond }
	a := e.start("c1", nil, as("host-a", 5*time.Second, fast))
	within(t, 15*time.Second, "the first sync leads", a.s.Leading)
	srv := "_https._tcp." + web + " SRV " + web + ":443"
	e.await("published by the leader", web+" A 203.0.113.1", srv)
	b := e.start("c1", nil, as("host-b", 5*time.Second, fast, func(c *Config) { c.PublishClusterIP = true }))
	b.warm(t, 1)

	collect := e.writes(e.revision() + 1)
	for i := 2; i <= 6; i++ {
		ip := "203.0.113." + string(rune('0'+i))
		e.updateService("default", "web", setIngress(ip))
		e.await("update "+ip, web+" A "+ip, srv)
	}
	time.Sleep(time.Second) // ten sweeps of each: a standby's writes would show
	got := collect()
	revs := map[int64]bool{}
	for _, w := range got {
		revs[w.rev] = true
		if w.user != "" && w.user != "host-a" {
			t.Errorf("written by %s, not the leader: %+v", w.user, w)
		}
	}
	// Each update is one transaction: the new address in, the old out.
	if len(revs) != 5 || len(got) != 10 {
		t.Errorf("5 updates made %d revisions, %d writes, want 5 and 10: %+v", len(revs), len(got), got)
	}
	if !a.s.Leading() || b.s.Leading() {
		t.Errorf("leading: a %v, b %v", a.s.Leading(), b.s.Leading())
	}
	// The metrics say the same: the standby wrote nothing.
	for _, c := range []struct {
		what string
		got  float64
		want float64
	}{
		{"a leader", value(a.s.m.leader), 1},
		{"b leader", value(b.s.m.leader), 0},
		{"a records written", value(a.s.m.recordsWritten), 2 + 5},
		{"a records deleted", value(a.s.m.recordsDeleted), 5},
		{"a policies written", value(a.s.m.policiesWritten), 1},
		{"b records written", value(b.s.m.recordsWritten), 0},
		{"b records deleted", value(b.s.m.recordsDeleted), 0},
		{"b policies written", value(b.s.m.policiesWritten), 0},
		{"a elections", value(a.s.m.elections), 1},
		{"b elections", value(b.s.m.elections), 0},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if v := value(a.s.m.converged); v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("leader's last converged time %v", v)
	}
	if v := value(b.s.m.converged); v != 0 {
		t.Errorf("standby's last converged time %v, want 0", v)
	}
}

// A leader that dies without a word (its etcd connection cut, then the
// process gone: no resign, no revoke) is replaced once its lease expires,
// and the new leader applies what changed meanwhile.
func TestElectionLeaderKilled(t *testing.T) {
	e := newEnv(t)
	e.createService(lbService("default", "web", "203.0.113.1"))
	const ttl = 2 * time.Second
	proxy := e.etcd.Proxy()
	a := e.start("c1", proxy.Client(t), as("host-a", ttl))
	within(t, 15*time.Second, "the first sync leads", a.s.Leading)
	srv := "_https._tcp." + web + " SRV " + web + ":443"
	e.await("published by the leader", web+" A 203.0.113.1", srv)
	b := e.start("c1", nil, as("host-b", ttl))
	b.warm(t, 1)

	killed := time.Now()
	proxy.Cut()
	go a.stop() // its resign and revoke cannot reach etcd
	e.updateService("default", "web", setIngress("203.0.113.2"))
	within(t, ttl+3*time.Second, "the standby takes over", b.s.Leading)
	t.Logf("took over %v after the leader died (lease %v)", time.Since(killed).Round(time.Millisecond), ttl)
	e.await("the change made meanwhile", web+" A 203.0.113.2", srv)
	if got := e.published(); len(got) != 2 {
		t.Fatalf("published %v", got)
	}
	resp, err := e.cli.Get(context.Background(), record.NamePath(prefix, web), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		if r, _ := record.Decode(kv.Value); strings.Contains(r.Host, "203.0.113.2") && r.User != "host-b" {
			t.Errorf("%s written by %q, want the new leader", kv.Key, r.User)
		}
	}
}

// A leader that stops cleanly resigns: the standby takes over at once,
// not after the lease's TTL, and does not rewrite records that are right
// only because another host wrote them.
func TestElectionCleanHandover(t *testing.T) {
	e := newEnv(t)
	e.createService(lbService("default", "web", "203.0.113.1"))
	e.createService(lbService("default", "api", "203.0.113.7"))
	const ttl = 20 * time.Second
	a := e.start("c1", nil, as("host-a", ttl))
	within(t, 15*time.Second, "the first sync leads", a.s.Leading)
	apiName := "api.default.svc.kube.local."
	srv := "_https._tcp." + web + " SRV " + web + ":443"
	apiSRV := "_https._tcp." + apiName + " SRV " + apiName + ":443"
	e.await("published by the leader", web+" A 203.0.113.1", srv, apiName+" A 203.0.113.7", apiSRV)
	b := e.start("c1", nil, as("host-b", ttl))
	b.warm(t, 2)

	collect := e.writes(e.revision() + 1)
	stopped := time.Now()
	a.stop()
	within(t, 3*time.Second, "the standby takes over at once", b.s.Leading)
	t.Logf("took over %v after the leader stopped (lease %v)", time.Since(stopped).Round(time.Millisecond), ttl)
	// Once the new leader has been through every service, nothing was
	// written: the records differ from its own only in user.
	within(t, 10*time.Second, "the new leader converged", func() bool { return value(b.s.m.converged) > 0 })
	if got := collect(); len(got) != 0 {
		t.Errorf("the new leader rewrote %d keys: %+v", len(got), got)
	}
	if p := e.policyOf(web); p == nil || p.User != "host-a" {
		t.Errorf("policy %+v, want it left as host-a wrote it", p)
	}
	// It writes what changes, as itself.
	e.updateService("default", "web", setIngress("203.0.113.2"))
	e.await("after the handover", web+" A 203.0.113.2", srv, apiName+" A 203.0.113.7", apiSRV)
	for _, w := range collect() {
		if w.user != "" && w.user != "host-b" {
			t.Errorf("written by %s after the handover: %+v", w.user, w)
		}
	}
}

// A leader cut off from etcd for longer than its lease stops writing and
// campaigns again; when it is back it stands by, and the sync that took
// over keeps the lead.
func TestElectionLeaseLost(t *testing.T) {
	e := newEnv(t)
	e.createService(lbService("default", "web", "203.0.113.1"))
	const ttl = 2 * time.Second
	proxy := e.etcd.Proxy()
	a := e.start("c1", proxy.Client(t), as("host-a", ttl))
	within(t, 15*time.Second, "the first sync leads", a.s.Leading)
	srv := "_https._tcp." + web + " SRV " + web + ":443"
	e.await("published by the leader", web+" A 203.0.113.1", srv)
	// Only the cut-off leader's lease needs to run out quickly. The one
	// that takes over holds a longer one: with the same 2 s, a keep-alive
	// starved for 2 s on a loaded machine let host-a take the lead back
	// (failed once in a clean-clone CI run).
	b := e.start("c1", nil, as("host-b", 5*ttl))
	b.warm(t, 1)

	proxy.Cut()
	within(t, ttl+3*time.Second, "the cut-off leader steps down", func() bool { return !a.s.Leading() })
	within(t, ttl+3*time.Second, "the standby takes over", b.s.Leading)
	proxy.Restore()
	e.updateService("default", "web", setIngress("203.0.113.2"))
	e.await("applied by the new leader", web+" A 203.0.113.2", srv)
	// Time for the old leader to reconnect and campaign (its backoff is at
	// most 5 s; it is back within a second or two here).
	collect := e.writes(e.revision() + 1)
	within(t, 15*time.Second, "the old leader campaigns again", func() bool {
		resp, err := e.cli.Get(context.Background(), LockKey(prefix, "c1")+"/", clientv3.WithPrefix())
		return err == nil && len(resp.Kvs) == 2
	})
	e.updateService("default", "web", setIngress("203.0.113.3"))
	e.await("applied by the new leader again", web+" A 203.0.113.3", srv)
	for _, w := range collect() {
		if w.user != "" && w.user != "host-b" {
			t.Errorf("written by %s: %+v", w.user, w)
		}
	}
	if a.s.Leading() || !b.s.Leading() {
		t.Errorf("leading: a %v, b %v", a.s.Leading(), b.s.Leading())
	}
	if v := value(a.s.m.leader); v != 0 {
		t.Errorf("old leader's gauge %v", v)
	}
}

// Syncs of different clusters do not wait on each other, even when one
// cluster's name is a prefix of the other's.
func TestElectionPerCluster(t *testing.T) {
	e := newEnv(t)
	a := e.start("c1", nil, as("host-a", 5*time.Second))
	b := e.start("c11", nil, as("host-b", 5*time.Second))
	within(t, 15*time.Second, "both lead", func() bool { return a.s.Leading() && b.s.Leading() })
	if k := LockKey("/skydns/", "c1"); k != "/skydns/monitor/kubeapi-lock/c1" {
		t.Errorf("lock key %s", k)
	}
}

// Every write of a term holds only while the term's election key is
// there. When the key is gone (deleted by hand here; in real life, a lease
// that expired while the leader did not notice), the leader's next write
// is refused, the leader ends its term and campaigns again, and the new
// term writes what the refused one could not.
func TestElectionKeyGone(t *testing.T) {
	e := newEnv(t)
	e.createService(lbService("default", "web", "203.0.113.1"))
	a := e.start("c1", nil, as("host-a", 5*time.Second))
	within(t, 15*time.Second, "the sync leads", a.s.Leading)
	srv := "_https._tcp." + web + " SRV " + web + ":443"
	e.await("published", web+" A 203.0.113.1", srv)
	if _, err := e.cli.Delete(context.Background(), LockKey(prefix, "c1")+"/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	e.updateService("default", "web", setIngress("203.0.113.2"))
	e.await("written in a new term", web+" A 203.0.113.2", srv)
	if v := value(a.s.m.elections); v != 2 {
		t.Errorf("elections won %v, want 2", v)
	}
}
