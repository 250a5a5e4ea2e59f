// Package kubee2e tests the Kubernetes sync against a real kube-apiserver,
// built from the Go module proxy by scripts/kube-apiserver/build.sh and
// cached outside the clone, on a real (embedded) etcd; and sharing that etcd
// with a real ExternalDNS, built the same way by scripts/external-dns. It
// has only tests.
package kubee2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/kubesync"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

const (
	prefix = "/skydns"
	domain = "kube.local."
	token  = "e2e-admin-token"
)

// kubeAPIServer builds (or finds cached) the binary.
func kubeAPIServer(t *testing.T) string { return pinnedTool(t, "kube-apiserver") }

// pinnedTool builds (or finds cached) a tool the tests run beside SkyDNS
// with scripts/<name>/build.sh and returns its path. It skips the test only
// when go or the module proxy cannot be used at all.
func pinnedTool(t *testing.T, name string) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "..", "scripts", name, "build.sh")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("sh", script)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) && (ee.ExitCode() == 3 || ee.ExitCode() == 4) {
		t.Skipf("%s cannot be built here (no go command or no module proxy): %s", name, strings.TrimSpace(stderr.String()))
	}
	if err != nil {
		t.Fatalf("building %s: %v\n%s", name, err, stderr.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Logf("built %s in %s", name, d.Round(time.Second))
	}
	return strings.TrimSpace(stdout.String())
}

// apiserver runs kube-apiserver against etcd and returns a kubeconfig
// file for it.
func apiserver(t *testing.T, bin string, etcdURL string) string {
	t.Helper()
	return startAPIServer(t, bin, etcdURL).kubeconfig
}

// apiServerProc is a running kube-apiserver that a test can stop and start
// again on the same address, with the same etcd and certificates.
type apiServerProc struct {
	t          *testing.T
	bin        string
	args       []string
	url        string
	kubeconfig string

	cmd    *exec.Cmd
	exited chan error
	out    *syncBuffer
}

func startAPIServer(t *testing.T, bin string, etcdURL string) *apiServerProc {
	t.Helper()
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	saKey := write("sa.key", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	saPub := write("sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	tokens := write("tokens.csv", []byte(token+`,admin,admin-uid,"system:masters"`+"\n"))
	certDir := filepath.Join(dir, "certs")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	p := &apiServerProc{t: t, bin: bin, url: fmt.Sprintf("https://127.0.0.1:%d", port), args: []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port), "--cert-dir=" + certDir,
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + saPub, "--service-account-signing-key-file=" + saKey,
		"--authorization-mode=AlwaysAllow", "--token-auth-file=" + tokens,
		"--service-cluster-ip-range=203.0.113.0/24", "--endpoint-reconciler-type=none",
	}}
	p.start()
	t.Cleanup(p.stop)
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: e2e
  context: {cluster: e2e, user: admin}
current-context: e2e
`, p.url, filepath.Join(certDir, "apiserver.crt"), token)
	p.kubeconfig = write("kubeconfig", []byte(kubeconfig))
	return p
}

// start runs the process and waits until it serves.
func (p *apiServerProc) start() {
	t := p.t
	t.Helper()
	cmd := exec.Command(p.bin, p.args...)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	p.cmd, p.exited, p.out = cmd, exited, out

	// Ready when /readyz answers ok; the serving certificate is made at
	// start, so it is only read afterwards.
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		// Only until it is up: the kubeconfig verifies the certificate
		// the server generated.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		select {
		case err := <-exited:
			t.Fatalf("kube-apiserver exited: %v\n%s", err, out.tail(4000))
		default:
		}
		req, _ := http.NewRequest("GET", p.url+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver not ready after 3m:\n%s", out.tail(4000))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// stop ends the process (SIGTERM, then kill after 20 s); a no-op when it
// is not running.
func (p *apiServerProc) stop() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
	if p.t.Failed() {
		p.t.Logf("kube-apiserver output (tail):\n%s", p.out.tail(4000))
	}
	p.cmd = nil
}

// syncBuffer is a bytes.Buffer safe for the process's output goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.b.Bytes()
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// published is what the sync wrote, as "name TYPE value" lines.
func published(t *testing.T, cli *clientv3.Client) []string {
	t.Helper()
	resp, err := cli.Get(context.Background(), record.NamePath(prefix, domain), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kv := range resp.Kvs {
		r, err := record.Decode(kv.Value)
		if err != nil {
			t.Fatalf("%s: %v", kv.Key, err)
		}
		name, _, err := record.ParseKey(prefix, string(kv.Key), r)
		if err != nil {
			t.Fatalf("%s: %v", kv.Key, err)
		}
		if r.Source != store.SourceKube || r.Cluster != "e2e" {
			t.Errorf("%s: provenance %+v", kv.Key, r)
		}
		v := r.Host
		if r.Type == record.TypeSRV {
			v = fmt.Sprintf("%s:%d", r.Host, r.Port)
		}
		out = append(out, name+" "+string(r.Type)+" "+v)
	}
	sort.Strings(out)
	return out
}

func await(t *testing.T, cli *clientv3.Client, what string, want ...string) {
	t.Helper()
	sort.Strings(want)
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := published(t, cli)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: published\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func checkPorts(t *testing.T, cli *clientv3.Client, name string) []int {
	t.Helper()
	resp, err := cli.Get(context.Background(), policy.Key(prefix, name))
	if err != nil || len(resp.Kvs) == 0 {
		return nil
	}
	p, err := policy.Decode(resp.Kvs[0].Value)
	if err != nil || p.Check == nil {
		return nil
	}
	return p.Check.Ports
}

func ptr[T any](v T) *T { return &v }

func TestKubeAPIServer(t *testing.T) {
	bin := kubeAPIServer(t)
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	kubeconfig := apiserver(t, bin, etcd.Endpoints()[0])

	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	rc.WarningHandler = rest.NoWarnings{} // externalIPs is deprecated; it is what we test
	kc, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.New(etcd.Client(), store.Options{Prefix: prefix, StatusPath: "/skydns/monitor/status/",
		Zones: []string{domain}, Group: kubesync.Group(domain, "e2e"), ProgressInterval: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s, err := kubesync.New(kubesync.Config{Domain: domain, Cluster: "e2e", User: "e2e-host", Logger: log}, kc, st)
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
	t.Cleanup(func() { cancel(); wg.Wait() })

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
	// The apiserver's own "kubernetes" service has only a ClusterIP,
	// which is not published by default.
	await(t, cli, "nothing published at start")

	// A LoadBalancer service: its ingress IPs, set as a cloud controller
	// would, through the status subresource.
	lb := "lb.default.svc.kube.local."
	svc := create(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lb"}, Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Name: "https", Port: 443}}}})
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.10"}, {IP: "203.0.113.11"}}
	if svc, err = services.UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	lbRecs := func(ips ...string) []string {
		out := []string{"_https._tcp." + lb + " SRV " + lb + ":443"}
		for _, ip := range ips {
			out = append(out, lb+" A "+ip)
		}
		return out
	}
	await(t, cli, "load balancer", lbRecs("203.0.113.10", "203.0.113.11")...)
	if p := checkPorts(t, cli, lb); !slices.Equal(p, []int{443}) {
		t.Errorf("probed ports %v, want [443]", p)
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.11"}, {IP: "203.0.113.12"}}
	if _, err = services.UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	await(t, cli, "load balancer changed", lbRecs("203.0.113.11", "203.0.113.12")...)

	// A service with external IPs, changed, with an annotation.
	ext := "ext.default.svc.kube.local."
	create(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ext", Annotations: map[string]string{"skydns.io/check-ports": "8080"}},
		Spec: corev1.ServiceSpec{ExternalIPs: []string{"198.51.100.20"}, Ports: []corev1.ServicePort{{Port: 80}}}})
	all := append(lbRecs("203.0.113.11", "203.0.113.12"), ext+" A 198.51.100.20")
	await(t, cli, "external IPs", all...)
	if p := checkPorts(t, cli, ext); !slices.Equal(p, []int{8080}) {
		t.Errorf("annotated probe ports %v, want [8080]", p)
	}
	e, err := services.Get(ctx, "ext", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e.Spec.ExternalIPs = []string{"198.51.100.21", "198.51.100.22"}
	if _, err := services.Update(ctx, e, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	all = append(lbRecs("203.0.113.11", "203.0.113.12"), ext+" A 198.51.100.21", ext+" A 198.51.100.22")
	await(t, cli, "external IPs changed", all...)

	// A headless service; with no controller-manager running, its
	// EndpointSlice is made here as the endpoint-slice controller would.
	db := "db.default.svc.kube.local."
	create(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "db"}, Spec: corev1.ServiceSpec{
		ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Name: "pg", Port: 5432}}}})
	slices_ := kc.DiscoveryV1().EndpointSlices("default")
	sl := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "db-1", Labels: map[string]string{
			discoveryv1.LabelServiceName: "db", discoveryv1.LabelManagedBy: "skydns-e2e"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("pg"), Port: ptr(int32(5432)), Protocol: ptr(corev1.ProtocolTCP)}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"192.0.2.31"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
			{Addresses: []string{"192.0.2.32"}, Hostname: ptr("db-0"), Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
			{Addresses: []string{"192.0.2.33"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}},
		},
	}
	if sl, err = slices_.Create(ctx, sl, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	dbRecs := []string{
		db + " A 192.0.2.31", db + " A 192.0.2.32",
		"192-0-2-31." + db + " A 192.0.2.31", "db-0." + db + " A 192.0.2.32",
		"_pg._tcp." + db + " SRV 192-0-2-31." + db + ":5432", "_pg._tcp." + db + " SRV db-0." + db + ":5432",
	}
	await(t, cli, "headless", append(slices.Clone(all), dbRecs...)...)
	if p := checkPorts(t, cli, db); !slices.Equal(p, []int{5432}) {
		t.Errorf("headless probe ports %v", p)
	}
	sl.Endpoints[0].Conditions.Ready = ptr(false)
	sl.Endpoints[2].Conditions.Ready = ptr(true)
	if _, err := slices_.Update(ctx, sl, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	dbRecs = []string{
		db + " A 192.0.2.32", db + " A 192.0.2.33",
		"db-0." + db + " A 192.0.2.32", "192-0-2-33." + db + " A 192.0.2.33",
		"_pg._tcp." + db + " SRV db-0." + db + ":5432", "_pg._tcp." + db + " SRV 192-0-2-33." + db + ":5432",
	}
	await(t, cli, "endpoints changed", append(slices.Clone(all), dbRecs...)...)

	// Deleting the services removes exactly what the sync made.
	for _, n := range []string{"lb", "ext", "db"} {
		if err := services.Delete(ctx, n, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	await(t, cli, "all deleted")
	for _, n := range []string{lb, ext, db} {
		if p := checkPorts(t, cli, n); p != nil {
			t.Errorf("policy of %s left: %v", n, p)
		}
	}
}
