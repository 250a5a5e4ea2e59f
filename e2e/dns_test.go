package e2e

import (
	"context"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/internal/etcdtest"
)

// startDNS runs the skydns binary with its sample config against etcd.
func startDNS(t *testing.T, etcd *etcdtest.Etcd, extra ...string) (p *proc, dnsAddr, httpAddr string) {
	t.Helper()
	args := []string{"-config-file", repoFile("conf/skydns.conf"),
		"-set", "Etcd.etcd-servers=" + etcd.Endpoints()[0],
		"-set", "Dns.dns-addr=127.0.0.1:0", "-set", "Stats.statsServer=127.0.0.1:0",
		"-set", "Dns.allow-recursion=", // nothing in a test may leave this machine
		"-set", "Stats.statsServerAuthToken=tok"}
	for _, e := range extra {
		args = append(args, "-set", e)
	}
	p = start(t, filepath.Join(binaries(t), "skydns"), args...)
	return p, p.logValue("serving DNS", "addr"), p.logValue("serving HTTP", "addr")
}

func answerIPs(t *testing.T, addr, name string) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	r, err := dns.Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s: %v", name, err)
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	slices.Sort(out)
	return out
}

func eventuallyIPs(t *testing.T, addr, name string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := answerIPs(t, addr, name)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s answers %v, want %v", name, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDNSServerBinary(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	ctx := context.Background()
	for k, v := range map[string]string{
		"/skydns/local/skydns/cctv2/4af19cb2/":   `{"host":"192.0.2.1","type":"A"}`,
		"/skydns/local/skydns/cctv2/5bf19cb3/":   `{"host":"192.0.2.2","type":"A"}`,
		"/skydns/local/skydns/tv1/":              `{"type":"CNAME","host":"cctv2.skydns.local"}`,
		"/skydns/monitor/status/192.0.2.2":       `{"status":"DOWN"}`,
		"/skydns/local/skydns/other/0000000a":    `{"host":"192.0.2.9"}`,
		"/skydns/monitor/status/192.0.2.9":       `{"status":"UP"}`,
		"/skydns/monitor/status/198.51.100.200":  `{"status":"DOWN"}`,
		"/skydns/policy/cctv2.skydns.local":      `{"mode":"all"}`,
		"/skydns/local/skydns/svc/ns/x/0a0b0c0d": `{"host":"198.51.100.7"}`,
	} {
		if _, err := cli.Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
	}
	p, dnsAddr, httpAddr := startDNS(t, etcd)
	p.waitLog("ready", 20*time.Second)

	eventuallyIPs(t, dnsAddr, "cctv2.skydns.local.", "192.0.2.1")
	eventuallyIPs(t, dnsAddr, "tv1.skydns.local.", "192.0.2.1")
	eventuallyIPs(t, dnsAddr, "x.ns.svc.skydns.local.", "198.51.100.7")
	if _, err := cli.Put(ctx, "/skydns/monitor/status/192.0.2.2", `{"status":"UP"}`); err != nil {
		t.Fatal(err)
	}
	eventuallyIPs(t, dnsAddr, "cctv2.skydns.local.", "192.0.2.1", "192.0.2.2")

	for path, want := range map[string]string{
		"/readyz":                       `"ready": true`,
		"/metrics":                      "skydns_dns_requests_total",
		"/skydns/stats?token=tok":       `"names": 4`,
		"/skydns/stats/top/1?token=tok": "cctv2.skydns.local.",
	} {
		resp, err := http.Get("http://" + httpAddr + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s = %d, want 200 with %q:\n%s", path, resp.StatusCode, want, b)
		}
	}
	p.stop(10 * time.Second)
}

// With shutdown-delay, SIGTERM first turns /readyz to 503 while DNS is
// still answered, so a load balancer drains the replica; then it stops.
func TestDrainOnSIGTERM(t *testing.T) {
	etcd := etcdtest.Start(t)
	if _, err := etcd.Client().Put(context.Background(), "/skydns/local/skydns/web/0000000a", `{"host":"192.0.2.10"}`); err != nil {
		t.Fatal(err)
	}
	const delay = 2 * time.Second
	p, dnsAddr, httpAddr := startDNS(t, etcd, "Dns.shutdown-delay="+delay.String())
	p.waitLog("ready", 20*time.Second)
	eventuallyIPs(t, dnsAddr, "web.skydns.local.", "192.0.2.10")
	readyz := func() int {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := readyz(); code != http.StatusOK {
		t.Fatalf("/readyz = %d before SIGTERM", code)
	}

	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitLog("draining", 5*time.Second)
	if code := readyz(); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz = %d while draining, want 503", code)
	}
	if got := answerIPs(t, dnsAddr, "web.skydns.local."); !slices.Equal(got, []string{"192.0.2.10"}) {
		t.Fatalf("answer while draining = %v", got)
	}
	select {
	case <-p.done:
	case <-time.After(delay + 10*time.Second):
		t.Fatalf("still running %s after SIGTERM", delay+10*time.Second)
	}
	if p.err != nil {
		t.Fatalf("exit: %v\n%s", p.err, p.output())
	}
	if took := time.Since(sent); took < delay {
		t.Fatalf("stopped %s after SIGTERM, before the %s delay", took, delay)
	}
}
