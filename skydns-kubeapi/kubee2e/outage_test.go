package kubee2e

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/skydns-kubeapi/kubesync"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

// After a kube-apiserver outage of any length, a change reaches etcd
// within 5 s of the apiserver serving again: client-go's reflectors would
// otherwise sleep out a backoff grown during the outage (up to 30-60 s)
// before they watch or list again. The outage is logged at warn and shown
// by skydns_kubeapi_sync_apiserver_up.
func TestKubeAPIServerOutage(t *testing.T) {
	const outage = 20 * time.Second // the reflectors' backoff has grown past 10 s by then
	const bound = 5 * time.Second
	bin := kubeAPIServer(t)
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	api := startAPIServer(t, bin, etcd.Endpoints()[0])

	rc, err := clientcmd.BuildConfigFromFlags("", api.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.WarningHandler = rest.NoWarnings{}
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(etcd.Client(), store.Options{Prefix: prefix, StatusPath: "/skydns/monitor/status/",
		Zones: []string{domain}, Group: kubesync.Group(domain, "e2e"), ProgressInterval: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	var w io.Writer = &logs
	if testing.Verbose() {
		w = io.MultiWriter(&logs, os.Stderr)
	}
	reg := prometheus.NewRegistry()
	s, err := kubesync.New(kubesync.Config{Domain: domain, Cluster: "e2e", User: "e2e-host", Registry: reg,
		Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))}, kc, st)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); st.Run(ctx) }()
	go func() { defer wg.Done(); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	up := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "skydns_kubeapi_sync_apiserver_up" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return -1 // not there: the checks below say so
	}
	services := kc.CoreV1().Services("default")
	create := func(name, ip string) {
		t.Helper()
		// Right after a start the apiserver may still be setting up the
		// service IP range; retry briefly.
		for i := 0; ; i++ {
			_, err := services.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: corev1.ServiceSpec{ExternalIPs: []string{ip}, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
			if err == nil {
				return
			}
			if i >= 100 {
				t.Fatalf("create service %s: %v", name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	create("before", "198.51.100.30")
	before := "before.default.svc.kube.local. A 198.51.100.30"
	await(t, cli, "service before the outage", before)
	if up() != 1 {
		t.Errorf("skydns_kubeapi_sync_apiserver_up = %v with the apiserver serving, want 1", up())
	}

	api.stop()
	stopped := time.Now()
	deadline := stopped.Add(30 * time.Second)
	for up() != 0 {
		if time.Now().After(deadline) {
			t.Error("skydns_kubeapi_sync_apiserver_up not 0 30 s into the outage")
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Until(stopped.Add(outage))) // the outage: its length is the point
	if !strings.Contains(logs.String(), "level=WARN msg=\"kubernetes sync: kube-apiserver unreachable") {
		t.Errorf("no warning logged during the outage:\n%s", logs.tail(3000))
	}

	api.start()
	serving := time.Now()
	create("after", "198.51.100.31")
	after := "after.default.svc.kube.local. A 198.51.100.31"
	for {
		got := published(t, cli)
		if len(got) == 2 && got[0] == after && got[1] == before {
			break
		}
		if time.Since(serving) > 60*time.Second {
			t.Fatalf("service created after the outage not in etcd 60 s after the apiserver served again: %v", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(serving)
	t.Logf("service in etcd %s after the apiserver served again (outage %s)", took.Round(time.Millisecond), outage)
	if took > bound {
		t.Errorf("service reached etcd %s after the apiserver served again, want < %s", took.Round(time.Millisecond), bound)
	}
	if up() != 1 {
		t.Errorf("skydns_kubeapi_sync_apiserver_up = %v after the outage, want 1", up())
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
