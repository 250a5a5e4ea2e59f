package kubee2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/etcdview"
	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/kubesync"
	"github.com/skydns/skydns/skydns-kubeapi/store"
	"github.com/skydns/skydns/skydns/server"
	"github.com/skydns/skydns/skydns/zone"
)

// externalDNS builds (or finds cached) ExternalDNS.
func externalDNS(t *testing.T) string { return pinnedTool(t, "external-dns") }

// TestExternalDNS runs a real ExternalDNS (CoreDNS provider) against
// SkyDNS's etcd, publishing Services of a real kube-apiserver, while
// skydns-schedule runs on its default paths (its election key, jobs and
// statuses under /skydns/) and the Kubernetes sync runs too (its election
// key, records and policies under /skydns/). ExternalDNS must not die on
// anything SkyDNS wrote, and its records must be answered by the DNS
// server as it meant them.
func TestExternalDNS(t *testing.T) {
	if testing.Short() {
		t.Skip("runs kube-apiserver and external-dns")
	}
	xdns := externalDNS(t)
	kapi := kubeAPIServer(t)
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	kubeconfig := apiserver(t, kapi, etcd.Endpoints()[0])
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.WarningHandler = rest.NoWarnings{}
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	// skydns-schedule on its default paths, and an agent that probes
	// nothing: its heartbeat and reports are written here, so that jobs,
	// reports and statuses exist under /skydns/ without any traffic to
	// the served addresses.
	sc := mt.ScheduleConfig(t, "schedule-1")
	sc.LockTTL = 10 * time.Second // the default: a loaded machine must not cost it the lead
	mt.StartSchedule(t, cli, sc)
	lease, err := cli.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	ka, err := cli.KeepAlive(ctx, lease.ID)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range ka {
		}
	}()
	putKey(t, cli, mt.Paths.AgentKey("agent-1"), string(monitor.Heartbeat{TTL: 30, Version: "e2e"}.Encode()), clientv3.WithLease(lease.ID))

	// The Kubernetes sync, with its own election key under /skydns/.
	st, err := store.New(cli, store.Options{Prefix: prefix, StatusPath: mt.Paths.Status,
		Zones: []string{domain}, Group: kubesync.Group(domain, "e2e"), ProgressInterval: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sy, err := kubesync.New(kubesync.Config{Domain: domain, Cluster: "e2e", User: "e2e-host", Logger: slog.New(slog.DiscardHandler)}, kc, st)
	if err != nil {
		t.Fatal(err)
	}
	wg.Add(2)
	go func() { defer wg.Done(); st.Run(ctx) }()
	go func() { defer wg.Done(); _ = sy.Run(ctx) }()

	// The DNS server.
	zs := zone.New(zone.Options{Prefix: prefix, Zones: []string{"skydns.local.", domain}, StatusPath: mt.Paths.Status,
		View: etcdview.Options{ProgressInterval: 200 * time.Millisecond}})
	zctx, zcancel := context.WithCancel(context.Background())
	wait := zs.Start(zctx, cli)
	t.Cleanup(func() { zcancel(); wait() })
	l, err := server.Listen("127.0.0.1:0", server.NewHandler(server.Config{HealthTTLCap: 10, ServeUnchecked: true}, zs, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Shutdown(context.Background()) })
	dnsAddr := l.Addr()

	// Both election keys exist before ExternalDNS first runs.
	mt.Eventually(t, 30*time.Second, "the schedule's and the sync's election keys", func() bool {
		return mt.Count(t, cli, "/skydns/monitor/lock/") == 1 && mt.Count(t, cli, kubesync.LockKey(prefix, "e2e")+"/") == 1
	})

	services := kc.CoreV1().Services("default")
	create := func(svc *corev1.Service) *corev1.Service {
		t.Helper()
		// Right after start the apiserver may still be setting up the
		// service IP range; retry briefly.
		for i := 0; ; i++ {
			got, err := services.Create(ctx, svc, metav1.CreateOptions{})
			if err == nil {
				return got
			}
			if i >= 100 {
				t.Fatalf("create service %s: %v", svc.Name, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	setIngress := func(name string, ips ...string) {
		t.Helper()
		svc, err := services.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		svc.Status.LoadBalancer.Ingress = nil
		for _, ip := range ips {
			svc.Status.LoadBalancer.Ingress = append(svc.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
		}
		if _, err := services.UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	hostname := func(name string) map[string]string {
		return map[string]string{"external-dns.alpha.kubernetes.io/hostname": name}
	}
	create(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: hostname("web.skydns.local")},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}})
	setIngress("web", "192.0.2.10", "192.0.2.11")
	create(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "alias", Annotations: hostname("alias.skydns.local")},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "web.skydns.local"}})

	run := func(what string) (string, error) {
		t.Helper()
		metrics := freeAddr(t)
		cmd := exec.CommandContext(ctx, xdns,
			"--source=service", "--provider=coredns", "--coredns-prefix=/skydns/",
			"--registry=txt", "--txt-owner-id=skydns-e2e", "--domain-filter=skydns.local",
			"--kubeconfig="+kubeconfig, "--once", "--log-level=debug", "--metrics-address="+metrics)
		cmd.Env = append(os.Environ(), "ETCD_URLS="+etcd.Endpoints()[0])
		cmd.WaitDelay = 5 * time.Second
		done := make(chan struct{})
		var out []byte
		var err error
		go func() { out, err = cmd.CombinedOutput(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Minute):
			cmd.Process.Kill()
			<-done
			t.Fatalf("external-dns (%s) still running after 2m:\n%s", what, tail(out, 4000))
		}
		return string(out), err
	}
	var lastRun string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("external-dns, last run (tail):\n%s", tail([]byte(lastRun), 6000))
			if resp, err := cli.Get(context.Background(), "/skydns/local/skydns/", clientv3.WithPrefix()); err == nil {
				for _, kv := range resp.Kvs {
					t.Logf("etcd: %s = %s", kv.Key, kv.Value)
				}
			}
		}
	})
	mustRun := func(what string) {
		t.Helper()
		out, err := run(what)
		lastRun = out
		if err != nil {
			t.Fatalf("external-dns died (%s): %v\n%s", what, err, tail([]byte(out), 4000))
		}
	}

	q := func(name string, qtype uint16, tr string) *dns.Msg {
		t.Helper()
		m := new(dns.Msg)
		m.SetQuestion(name, qtype)
		m.SetEdns0(1232, false)
		c := &dns.Client{Net: tr, Timeout: 2 * time.Second}
		r, _, err := c.Exchange(m, dnsAddr)
		if err != nil {
			t.Fatalf("query %s over %s: %v", name, tr, err)
		}
		return r
	}
	answer := func(r *dns.Msg) []string {
		var out []string
		for _, rr := range r.Answer {
			out = append(out, strings.TrimPrefix(rr.String(), rr.Header().String()))
		}
		slices.Sort(out)
		return out
	}
	// eventually polls over UDP until the answer is want, then checks
	// the same over TCP.
	eventually := func(what, name string, qtype uint16, want ...string) {
		t.Helper()
		slices.Sort(want)
		deadline := time.Now().Add(30 * time.Second)
		for {
			r := q(name, qtype, "udp")
			if slices.Equal(answer(r), want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s answers\n%v\nwant %q", what, name, r, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if got := answer(q(name, qtype, "tcp")); !slices.Equal(got, want) {
			t.Errorf("%s: %s over TCP %q, want %q", what, name, got, want)
		}
	}

	// settle returns once the DNS server has every record written before
	// it: the server applies etcd's changes in order, so once a marker
	// written afterwards is answered, the rest is loaded too.
	markers := 0
	settle := func() {
		t.Helper()
		markers++
		ip := fmt.Sprintf("192.0.2.%d", 100+markers)
		putKey(t, cli, "/skydns/local/skydns/marker/0000000a", `{"host":"`+ip+`"}`)
		eventually("marker", "marker.skydns.local.", dns.TypeA, ip)
	}

	mustRun("first sync")
	settle()
	eventually("A, several IPs", "web.skydns.local.", dns.TypeA, "192.0.2.10", "192.0.2.11")
	eventually("CNAME followed", "alias.skydns.local.", dns.TypeA, "web.skydns.local.", "192.0.2.10", "192.0.2.11")

	// ExternalDNS's ownership record of web's A records, and an identical
	// one under another id, as an older ExternalDNS leaves it beside the
	// new one: answered once.
	txtName, txtKey, txtValue := ownershipRecord(t, cli, "web.skydns.local")
	owner := answer(q(txtName, dns.TypeTXT, "udp"))
	if len(owner) != 1 || !strings.Contains(owner[0], "heritage=external-dns") {
		t.Fatalf("ownership TXT of %s: %q", txtName, owner)
	}
	dupKey := txtKey[:strings.LastIndexByte(txtKey, '/')+1] + "0ddba11a"
	putKey(t, cli, dupKey, txtValue)
	settle()
	eventually("identical TXT answered once", txtName, dns.TypeTXT, owner...)
	mustRun("with an identical TXT beside its own")

	// Updates.
	setIngress("web", "192.0.2.11", "192.0.2.12")
	mustRun("after an update")
	eventually("A updated", "web.skydns.local.", dns.TypeA, "192.0.2.11", "192.0.2.12")

	// Health filtering of its records: the schedule assigns them to the
	// agent; the agent's DOWN report makes the schedule write a status
	// that the DNS server reads.
	downIP := netip.MustParseAddr("192.0.2.12")
	mt.Eventually(t, 30*time.Second, "a job for "+downIP.String(), func() bool {
		return slices.Contains(mt.Jobs(t, cli)["agent-1"], downIP)
	})
	down, _ := health.Encode(health.Status{Status: "DOWN", Reason: "e2e"})
	putKey(t, cli, mt.Paths.ReportKey(downIP, "agent-1"), string(down), clientv3.WithLease(lease.ID))
	eventually("a DOWN address filtered", "web.skydns.local.", dns.TypeA, "192.0.2.11")
	mustRun("with statuses, jobs and reports under the prefix")

	// Everything SkyDNS wrote under the prefix reads as the message
	// format, as ExternalDNS reads it.
	resp, err := cli.Get(ctx, "/skydns/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, kv := range resp.Kvs {
		var m record.Foreign
		if err := json.Unmarshal(kv.Value, &m); err != nil {
			t.Errorf("%s = %s: not the message format: %v", kv.Key, kv.Value, err)
		}
		k := string(kv.Key)
		for _, p := range []string{"/skydns/monitor/lock/", "/skydns/monitor/kubeapi-lock/", "/skydns/monitor/agent/",
			"/skydns/monitor/job/", "/skydns/monitor/report/", "/skydns/monitor/status/", "/skydns/policy/"} {
			if strings.HasPrefix(k, p) {
				kinds[p] = true
				if m.Host != "" || m.Text != "" {
					t.Errorf("%s = %s reads as a record", kv.Key, kv.Value)
				}
			}
		}
	}
	if len(kinds) != 7 {
		t.Errorf("only %d kinds of SkyDNS keys under /skydns/ (%v): the check above proves less than it says", len(kinds), kinds)
	}

	// What an installation upgraded halfway looks like: an old schedule's
	// plain-text election value stops ExternalDNS (migration.md says so).
	old, err := cli.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	putKey(t, cli, fmt.Sprintf("/skydns/monitor/lock/%x", old.ID), "old-schedule-host", clientv3.WithLease(old.ID))
	if out, err := run("with an old plain-text election value"); err == nil || !strings.Contains(out, "invalid character") {
		t.Errorf("external-dns with a plain-text value under /skydns/: %v, want a failure on it:\n%s", err, tail([]byte(out), 2000))
	}
	if _, err := cli.Revoke(ctx, old.ID); err != nil {
		t.Fatal(err)
	}

	// Deletes. ExternalDNS v0.18's CoreDNS provider deletes one etcd key
	// per name when a Service goes (that of its last address; the other
	// addresses' keys stay, their owner record gone), so the Service goes
	// down to one address first, which it removes as an update.
	setIngress("web", "192.0.2.11")
	mustRun("down to one address")
	eventually("one address left", "web.skydns.local.", dns.TypeA, "192.0.2.11")
	if err := services.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := services.Delete(ctx, "alias", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	mustRun("after the deletes")
	eventually("deleted", "web.skydns.local.", dns.TypeA)
	eventually("CNAME deleted", "alias.skydns.local.", dns.TypeA)
}

// ownershipRecord finds the TXT record in which ExternalDNS's TXT registry
// claims name: its DNS name, etcd key and value.
func ownershipRecord(t *testing.T, cli *clientv3.Client, name string) (dnsName, key, value string) {
	t.Helper()
	resp, err := cli.Get(context.Background(), "/skydns/local/skydns/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range resp.Kvs {
		var m record.Foreign
		if json.Unmarshal(kv.Value, &m) != nil || !strings.Contains(m.Text, "heritage=external-dns") {
			continue
		}
		labels := strings.Split(strings.TrimPrefix(string(kv.Key), "/skydns/"), "/")
		labels = labels[:len(labels)-m.TargetStrip]
		slices.Reverse(labels)
		n := strings.Join(labels, ".")
		// The new format's name is "<type>-<name>" (a-web.skydns.local).
		if strings.HasSuffix(n, "-"+name) || n == name {
			if strings.HasPrefix(n, "a-") {
				return n + ".", string(kv.Key), string(kv.Value)
			}
		}
	}
	t.Fatalf("no ownership TXT record of %s under /skydns/", name)
	return "", "", ""
}

func putKey(t *testing.T, cli *clientv3.Client, key, value string, opts ...clientv3.OpOption) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, key, value, opts...); err != nil {
		t.Fatal(err)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
