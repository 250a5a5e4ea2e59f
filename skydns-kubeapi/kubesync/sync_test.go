package kubesync

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

const (
	prefix = "/skydns"
	domain = "kube.local."
)

func testLog(t testing.TB) *slog.Logger {
	if !testing.Verbose() {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
}

// env is a real etcd and a fake Kubernetes API.
type env struct {
	t    testing.TB
	etcd *etcdtest.Etcd
	cli  *clientv3.Client
	kube kubernetes.Interface
	via  *clientv3.Client // if set, the syncer's etcd client
}

func newEnv(t testing.TB) *env {
	e := etcdtest.Start(t)
	return &env{t: t, etcd: e, cli: e.Client(), kube: fake.NewClientset()}
}

// run starts a syncer (a store and the sync) for cluster; stop ends it.
func (e *env) run(cluster string, mod func(*Config)) (stop func()) {
	e.t.Helper()
	return e.start(cluster, e.via, mod).stop
}

// instance is one running sync, as one skydns-kubeapi runs it.
type instance struct {
	s     *Syncer
	store *store.Store
	stop  func()
}

// start runs a sync for cluster through cli (nil: a direct client).
func (e *env) start(cluster string, cli *clientv3.Client, mod func(*Config)) *instance {
	t := e.t
	t.Helper()
	if cli == nil {
		cli = e.etcd.Client()
	}
	st, err := store.New(cli, store.Options{Prefix: prefix, StatusPath: "/skydns/monitor/status/",
		Zones: []string{domain}, Group: Group(domain, cluster), Logger: testLog(t), ProgressInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Domain: domain, Cluster: cluster, User: "host-1", Logger: testLog(t)}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg, e.kube, st)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); st.Run(ctx) }()
	go func() {
		defer wg.Done()
		if err := s.Run(ctx); err != nil {
			t.Errorf("sync: %v", err)
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return &instance{s: s, store: st, stop: stop}
}

// published returns the records in etcd with source kube as
// "name TYPE value [cluster]" lines, checking that each key reads back as
// its name.
func (e *env) published() []string {
	e.t.Helper()
	resp, err := e.cli.Get(context.Background(), record.NamePath(prefix, domain), clientv3.WithPrefix())
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		r, err := record.Decode(kv.Value)
		if err != nil {
			e.t.Fatalf("%s: %v", kv.Key, err)
		}
		name, _, err := record.ParseKey(prefix, string(kv.Key), r)
		if err != nil {
			e.t.Fatalf("%s: %v", kv.Key, err)
		}
		v := r.Host
		if r.Type == record.TypeSRV {
			v = fmt.Sprintf("%s:%d", r.Host, r.Port)
		}
		line := name + " " + string(r.Type) + " " + v
		if r.Source != store.SourceKube {
			line += " [" + r.Source + "]"
		} else if r.Cluster != "c1" {
			line += " [" + r.Cluster + "]"
		}
		out = append(out, line)
	}
	sort.Strings(out)
	return out
}

// policyOf returns the stored policy of name, or nil.
func (e *env) policyOf(name string) *store.StoredPolicy {
	resp, err := e.cli.Get(context.Background(), policy.Key(prefix, name))
	if err != nil || len(resp.Kvs) == 0 {
		return nil
	}
	if _, err := policy.Decode(resp.Kvs[0].Value); err != nil {
		e.t.Fatalf("policy of %s does not decode: %v", name, err)
	}
	p, _ := store.DecodePolicy(resp.Kvs[0].Value)
	return &p
}

// await waits until the published records are want.
func (e *env) await(what string, want ...string) {
	e.t.Helper()
	sort.Strings(want)
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := e.published()
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: published\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) createService(s *corev1.Service) {
	e.t.Helper()
	if _, err := e.kube.CoreV1().Services(s.Namespace).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) updateService(ns, name string, mod func(*corev1.Service)) {
	e.t.Helper()
	s, err := e.kube.CoreV1().Services(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	mod(s)
	if _, err := e.kube.CoreV1().Services(ns).Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) deleteService(ns, name string) {
	e.t.Helper()
	if err := e.kube.CoreV1().Services(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func lbService(ns, name string, ips ...string) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "198.51.100.220",
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}},
	}
	for _, ip := range ips {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	return s
}

func endpointSlice(ns, svc, name string, ready []string, notReady ...string) *discoveryv1.EndpointSlice {
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("db"), Port: ptr(int32(5432)), Protocol: ptr(corev1.ProtocolTCP)}},
	}
	for _, ip := range ready {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}})
	}
	for _, ip := range notReady {
		sl.Endpoints = append(sl.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}})
	}
	return sl
}

const web = "web.default.svc.kube.local."

// Services are published, changed and unpublished as they change.
func TestSyncFollowsServices(t *testing.T) {
	e := newEnv(t)
	e.run("c1", nil)
	e.createService(lbService("default", "web", "203.0.113.1", "203.0.113.2"))
	e.await("load balancer",
		web+" A 203.0.113.1", web+" A 203.0.113.2", "_https._tcp."+web+" SRV "+web+":443")
	if p := e.policyOf(web); p == nil || p.Source != "kube" || p.Cluster != "c1" || !slices.Equal(p.Check.Ports, []int{443}) {
		t.Fatalf("policy %+v", p)
	}

	e.updateService("default", "web", func(s *corev1.Service) {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.2"}, {IP: "203.0.113.3"}}
		s.Spec.ExternalIPs = []string{"198.51.100.7"}
		s.Spec.Ports = []corev1.ServicePort{{Port: 8443, Protocol: corev1.ProtocolTCP}}
		s.Annotations = map[string]string{"skydns.io/mode": "random"}
	})
	e.await("changed", web+" A 198.51.100.7", web+" A 203.0.113.2", web+" A 203.0.113.3")
	eventually(t, "policy follows", func() bool {
		p := e.policyOf(web)
		return p != nil && p.Mode == policy.ModeRandom && slices.Equal(p.Check.Ports, []int{8443})
	})

	// Headless: ready endpoints, SRV per named port, targets.
	db := "db.data.svc.kube.local."
	e.createService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "data", Name: "db"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "db", Port: 5432}}}})
	sl := endpointSlice("data", "db", "db-x1", []string{"192.0.2.1", "192.0.2.2"}, "192.0.2.3")
	if _, err := e.kube.DiscoveryV1().EndpointSlices("data").Create(context.Background(), sl, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	lbRecs := []string{web + " A 198.51.100.7", web + " A 203.0.113.2", web + " A 203.0.113.3"}
	e.await("headless", append(lbRecs,
		db+" A 192.0.2.1", db+" A 192.0.2.2",
		"192-0-2-1."+db+" A 192.0.2.1", "192-0-2-2."+db+" A 192.0.2.2",
		"_db._tcp."+db+" SRV 192-0-2-1."+db+":5432", "_db._tcp."+db+" SRV 192-0-2-2."+db+":5432")...)
	// An endpoint turns ready, another goes away.
	sl.Endpoints = []discoveryv1.Endpoint{
		{Addresses: []string{"192.0.2.2"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
		{Addresses: []string{"192.0.2.3"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
	}
	if _, err := e.kube.DiscoveryV1().EndpointSlices("data").Update(context.Background(), sl, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.await("endpoints changed", append(lbRecs,
		db+" A 192.0.2.2", db+" A 192.0.2.3",
		"192-0-2-2."+db+" A 192.0.2.2", "192-0-2-3."+db+" A 192.0.2.3",
		"_db._tcp."+db+" SRV 192-0-2-2."+db+":5432", "_db._tcp."+db+" SRV 192-0-2-3."+db+":5432")...)
	if p := e.policyOf(db); p == nil || !slices.Equal(p.Check.Ports, []int{5432}) {
		t.Errorf("headless policy %+v", p)
	}

	// ExternalName becomes a CNAME; switching a name from addresses to a
	// CNAME never leaves both.
	e.updateService("default", "web", func(s *corev1.Service) {
		s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "www.example.com"}
		s.Status = corev1.ServiceStatus{}
		s.Annotations = nil
	})
	dbRecs := []string{db + " A 192.0.2.2", db + " A 192.0.2.3",
		"192-0-2-2." + db + " A 192.0.2.2", "192-0-2-3." + db + " A 192.0.2.3",
		"_db._tcp." + db + " SRV 192-0-2-2." + db + ":5432", "_db._tcp." + db + " SRV 192-0-2-3." + db + ":5432"}
	e.await("external name", append(dbRecs, web+" CNAME www.example.com.")...)
	if p := e.policyOf(web); p != nil {
		t.Errorf("policy left on an ExternalName: %+v", p)
	}

	e.deleteService("default", "web")
	e.deleteService("data", "db")
	e.await("deleted")
	if p := e.policyOf(db); p != nil {
		t.Errorf("policy left: %+v", p)
	}
}

// The sync never touches another writer's records, and yields a name that
// another writer made a CNAME.
func TestSyncOwnership(t *testing.T) {
	e := newEnv(t)
	put := func(key, value string) {
		if _, err := e.cli.Put(context.Background(), key, value); err != nil {
			t.Fatal(err)
		}
	}
	// The API's record beside a service, another cluster's record of the
	// same service, and an API CNAME where a service will be.
	put(record.NamePath(prefix, web)+"/11111111", `{"type":"TXT","text":"owner=ops","source":"api"}`)
	put(record.NamePath(prefix, web)+"/22222222", `{"type":"A","host":"192.0.2.77","source":"kube","cluster":"c2"}`)
	put(record.NamePath(prefix, "mail.default.svc.kube.local."), `{"type":"CNAME","host":"mx.example.com","source":"api"}`)
	put(policy.Key(prefix, web), `{"mode":"priority","source":"api"}`)
	e.run("c1", nil)
	e.createService(lbService("default", "web", "203.0.113.1"))
	e.createService(lbService("default", "mail", "203.0.113.9"))
	foreign := []string{
		web + " A 192.0.2.77 [c2]", web + " TXT  [api]",
		"mail.default.svc.kube.local. CNAME mx.example.com. [api]",
	}
	e.await("beside others", append(foreign, web+" A 203.0.113.1", "_https._tcp."+web+" SRV "+web+":443")...)
	if p := e.policyOf(web); p == nil || p.Source != "api" || p.Mode != policy.ModePriority {
		t.Errorf("the API's policy was changed: %+v", p)
	}
	e.deleteService("default", "web")
	e.deleteService("default", "mail")
	e.await("own records gone, others kept", foreign...)
	if p := e.policyOf(web); p == nil || p.Source != "api" {
		t.Errorf("the API's policy was deleted: %+v", p)
	}
}

// After a restart, or with records edited by hand, the sync converges:
// it deletes what it made for services that are gone, and restores what
// is missing.
func TestSyncConverges(t *testing.T) {
	e := newEnv(t)
	stop := e.run("c1", nil)
	e.createService(lbService("default", "web", "203.0.113.1"))
	e.createService(lbService("default", "gone", "203.0.113.5"))
	gone := "gone.default.svc.kube.local."
	e.await("first run", web+" A 203.0.113.1", "_https._tcp."+web+" SRV "+web+":443",
		gone+" A 203.0.113.5", "_https._tcp."+gone+" SRV "+gone+":443")
	stop()

	// While the sync is down: a service goes, another changes, and a
	// record of ours is deleted by hand.
	e.deleteService("default", "gone")
	e.updateService("default", "web", func(s *corev1.Service) {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.2"}}
	})
	if _, err := e.cli.Delete(context.Background(), record.NamePath(prefix, "_https._tcp."+web), clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	e.run("c1", func(c *Config) { c.Resync = 300 * time.Millisecond })
	e.await("after restart", web+" A 203.0.113.2", "_https._tcp."+web+" SRV "+web+":443")
	if p := e.policyOf(gone); p != nil {
		t.Errorf("policy of a deleted service left: %+v", p)
	}
	// A hand edit while running is repaired by the periodic sweep.
	if _, err := e.cli.Delete(context.Background(), record.NamePath(prefix, web), clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	e.await("repaired", web+" A 203.0.113.2", "_https._tcp."+web+" SRV "+web+":443")
}

// A change larger than one transaction is split, and completes.
func TestSyncLargeService(t *testing.T) {
	e := newEnv(t)
	e.run("c1", func(c *Config) { c.MaxTxnOps = 32 })
	e.createService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "big", Name: "pool"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}})
	var ips []string
	for i := range 150 {
		ips = append(ips, fmt.Sprintf("198.51.100.%d", i+1))
	}
	sl := endpointSlice("big", "pool", "pool-1", ips)
	sl.Ports = nil
	if _, err := e.kube.DiscoveryV1().EndpointSlices("big").Create(context.Background(), sl, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, ip := range ips {
		want = append(want, "pool.big.svc.kube.local. A "+ip)
	}
	e.await("150 endpoints", want...)
	if err := e.kube.DiscoveryV1().EndpointSlices("big").Delete(context.Background(), "pool-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.await("no endpoints")
}

// A change as large as a whole transaction fits one with the leader's
// guard: etcd counts the guards against --max-txn-ops too.
func TestSyncFullTransaction(t *testing.T) {
	e := newEnv(t)
	e.run("c1", nil) // etcd's default limit, as etcdtest runs it
	e.createService(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "big", Name: "pool"},
		Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone}})
	var ips []string
	for i := range store.DefaultMaxTxnOps + 10 {
		ips = append(ips, fmt.Sprintf("198.51.100.%d", i+1))
	}
	sl := endpointSlice("big", "pool", "pool-1", ips)
	sl.Ports = nil
	if _, err := e.kube.DiscoveryV1().EndpointSlices("big").Create(context.Background(), sl, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, ip := range ips {
		want = append(want, "pool.big.svc.kube.local. A "+ip)
	}
	e.await("138 endpoints", want...)
}

// Changes made while etcd is unreachable are written once it is back.
func TestSyncEtcdAway(t *testing.T) {
	e := newEnv(t)
	proxy := e.etcd.Proxy()
	e.via = proxy.Client(t)
	e.run("c1", func(c *Config) { c.RequestTimeout = 300 * time.Millisecond })
	e.createService(lbService("default", "web", "203.0.113.1"))
	e.await("before", web+" A 203.0.113.1", "_https._tcp."+web+" SRV "+web+":443")
	proxy.Cut()
	e.updateService("default", "web", func(s *corev1.Service) {
		s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.2"}}
	})
	time.Sleep(time.Second) // a few failed attempts
	proxy.Restore()
	e.await("after etcd is back", web+" A 203.0.113.2", "_https._tcp."+web+" SRV "+web+":443")
}

func eventually(t testing.TB, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Records whose ids collide (issue 15, item 2) are all published, beside
// another writer's record at the colliding key and beside each other, and
// stay put from one pass to the next.
func TestSyncCollidingIDs(t *testing.T) {
	// Two addresses of 2001:db8::/32 whose AAAA ids collide, by brute force.
	var ip1, ip2 string
	seen := map[string]string{}
	for i := 0; ip2 == "" && i < 1<<22; i++ {
		ip := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}).String()
		id := record.ID(record.Record{Type: record.TypeAAAA, Host: ip})
		if other, ok := seen[id]; ok {
			ip1, ip2 = other, ip
		}
		seen[id] = ip
	}
	if ip2 == "" {
		t.Fatal("no colliding pair found")
	}
	e := newEnv(t)
	api := fmt.Sprintf(`{"type":"AAAA","host":%q,"source":"api"}`, ip1)
	apiKey := record.Key(prefix, web, record.ID(record.Record{Type: record.TypeAAAA, Host: ip1}))
	if _, err := e.cli.Put(context.Background(), apiKey, api); err != nil {
		t.Fatal(err)
	}
	e.run("c1", nil)
	e.createService(lbService("default", "web", ip2))
	both := "both.default.svc.kube.local."
	e.createService(lbService("default", "both", ip1, ip2))
	want := []string{
		web + " AAAA " + ip1 + " [api]", web + " AAAA " + ip2, "_https._tcp." + web + " SRV " + web + ":443",
		both + " AAAA " + ip1, both + " AAAA " + ip2, "_https._tcp." + both + " SRV " + both + ":443",
	}
	e.await("colliding records side by side", want...)
	resp, err := e.cli.Get(context.Background(), apiKey)
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != api {
		t.Fatalf("the API's record at %s became %v, %v", apiKey, resp.Kvs, err)
	}
	// Another pass (a policy annotation, seen once the policy is written)
	// moves no record.
	rev := resp.Header.Revision
	for _, svc := range []string{"both", "web"} {
		e.updateService("default", svc, func(s *corev1.Service) { s.Annotations = map[string]string{"skydns.io/mode": "random"} })
		name := svc + ".default.svc.kube.local."
		eventually(t, "policy of "+svc, func() bool { p := e.policyOf(name); return p != nil && p.Mode == policy.ModeRandom })
	}
	e.await("still side by side", want...)
	moved, err := e.cli.Get(context.Background(), record.NamePath(prefix, domain), clientv3.WithPrefix(), clientv3.WithMinModRev(rev+1))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range moved.Kvs {
		if r, _ := record.Decode(kv.Value); r.Type == record.TypeAAAA {
			t.Errorf("another pass rewrote %s = %s", kv.Key, kv.Value)
		}
	}
}

// [Kube2Skydns] site names the site of the whole cluster: it is the site
// field of every address record the sync writes (and of no other record,
// where it would mean nothing), and a sync started with another site, or
// none, rewrites them.
func TestSyncSite(t *testing.T) {
	e := newEnv(t)
	sites := func() []string {
		resp, err := e.cli.Get(context.Background(), record.NamePath(prefix, domain), clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, kv := range resp.Kvs {
			r, err := record.Decode(kv.Value)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, string(r.Type)+" "+r.Host+" site="+r.Site)
		}
		sort.Strings(out)
		return out
	}
	srv := "_https._tcp." + web
	e.createService(lbService("default", "web", "203.0.113.1", "2001:db8::1"))
	for _, tc := range []struct{ site, want string }{
		{"sh", "sh"},
		{"gz", "gz"},
		{"", ""},
	} {
		stop := e.run("c1", func(c *Config) { c.Site = tc.site })
		want := []string{"A 203.0.113.1 site=" + tc.want, "AAAA 2001:db8::1 site=" + tc.want, "SRV " + web + " site="}
		deadline := time.Now().Add(15 * time.Second)
		for !slices.Equal(sites(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("site %q: stored %v, want %v", tc.site, sites(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
		e.await("site "+tc.site, web+" A 203.0.113.1", web+" AAAA 2001:db8::1", srv+" SRV "+web+":443")
		stop()
	}

	st, err := store.New(e.cli, store.Options{Prefix: prefix, StatusPath: "/skydns/monitor/status/", Zones: []string{domain}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Domain: domain, Cluster: "c1", Site: "Data Centre"}, e.kube, st); err == nil {
		t.Error("a site that is not a label was accepted")
	}
}
