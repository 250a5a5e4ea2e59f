package chaos

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/election"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
)

// The stack's timing, shorter than production's so that a run sees many
// failovers; the invariants are stated in these terms.
const (
	checkInterval = time.Second
	fall          = 3 // the scanner's sample default
	rise          = 2
	lockTTL       = 3 * time.Second
	// requestTimeout is every daemon's etcd-request-timeout (the default).
	requestTimeout = 5 * time.Second
	token          = "chaos-token"
	lockPath       = "/skydns/monitor/lock"
	overridePath   = "/skydns/monitor/override/"
)

// stack is the whole of SkyDNS on a 3-member cluster.
type stack struct {
	t            *testing.T
	dir          string
	etcd         *cluster
	dns          []*proc
	dnsAddrs     []string
	dnsStats     []string
	api          *proc
	apiAddr      string
	scheds       []*proc
	schedMetrics []string // each schedule's metrics address
	scanners     []*proc
	backends     []*mt.Backend
	names        map[string][]*mt.Backend // load names -> their backends
}

func repoConf(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(filepath.Dir(filepath.Dir(file))), "conf", name)
}

func (s *stack) daemon(name, bin, conf string, sets ...string) *proc {
	args := []string{"-config-file", repoConf(conf), "-set", "Etcd.etcd-servers=" + s.etcd.endpoints(),
		"-set", "Etcd.etcd-dial-timeout=2s", "-set", "Etcd.etcd-request-timeout=" + requestTimeout.String()}
	for _, v := range sets {
		args = append(args, "-set", v)
	}
	p := &proc{name: name, bin: filepath.Join(binaries(s.t), bin), args: args, log: filepath.Join(s.dir, name+".log")}
	if err := p.start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(p.kill)
	return p
}

// startStack starts the cluster and nScheds schedules, 2 DNS replicas, the
// API and nScanners scanners, with nNames load names of two backends each.
func startStack(t *testing.T, nScheds, nScanners, nNames int) *stack {
	t.Helper()
	bin := binaries(t)
	dir := os.Getenv("CHAOS_DIR")
	if dir == "" {
		dir = t.TempDir()
	} else {
		os.RemoveAll(dir)
		os.MkdirAll(dir, 0o755)
	}
	s := &stack{t: t, dir: dir, names: map[string][]*mt.Backend{}}
	s.etcd = startCluster(t, bin, dir)
	s.backends = mt.NewBackends(t, 2*nNames)
	port := fmt.Sprint(s.backends[0].Port())

	for i := range 2 {
		s.dnsAddrs = append(s.dnsAddrs, freeAddr(t))
		s.dnsStats = append(s.dnsStats, freeAddr(t))
		s.dns = append(s.dns, s.daemon(fmt.Sprintf("dns%d", i), "skydns", "skydns.conf",
			"Dns.dns-addr="+s.dnsAddrs[i], "Stats.statsServer="+s.dnsStats[i], "Dns.ex-nameservers="))
	}
	s.apiAddr = freeAddr(t)
	s.api = s.daemon("api", "skydns-kubeapi", "skydns-api.conf", "SkydnsApi.api-address="+s.apiAddr,
		"SkydnsApi.skydns-auth="+token, "General.metrics-addr="+freeAddr(t))
	for i := range nScheds {
		metrics := freeAddr(t)
		s.schedMetrics = append(s.schedMetrics, metrics)
		s.scheds = append(s.scheds, s.daemon(fmt.Sprintf("sched%d", i), "skydns-schedule", "skydns-schedule.conf",
			fmt.Sprintf("General.hostname=sched%d", i), "General.metrics-addr="+metrics,
			"General.schedule-interval=1s", "General.agent-downtime=4s", "Etcd.lock-ttl="+lockTTL.String()))
	}
	for i := range nScanners {
		s.scanners = append(s.scanners, s.daemon(fmt.Sprintf("scanner%d", i), "skydns-scanner", "skydns-scanner.conf",
			fmt.Sprintf("General.hostname=scanner%d", i), "General.metrics-addr="+freeAddr(t),
			"General.heartbeat-interval=1s", "Check.default-scann-ports="+port, "Check.enable-icmp=false",
			"Check.check-interval="+checkInterval.String(), "Check.check-timeout=500ms"))
	}
	waitFor(t, 60*time.Second, "the API ready", func() bool { return httpOK("http://" + s.apiAddr + "/readyz") })
	for i := range nNames {
		name := fmt.Sprintf("n%d", i)
		bs := s.backends[2*i : 2*i+2]
		s.names[name] = bs
		body := fmt.Sprintf(`{"type":"A","ips":[%q,%q]}`, bs[0].IP(), bs[1].IP())
		waitFor(t, 30*time.Second, "create "+name, func() bool { c, _ := s.call("POST", "/skydns/api/"+name, body); return c == 200 })
	}
	for i := range s.dns {
		for name, bs := range s.names {
			waitFor(t, 60*time.Second, name+" answered with both backends by dns"+fmt.Sprint(i), func() bool {
				ips, _ := query(s.dnsAddrs[i], "udp", name+".skydns.local.", time.Second)
				return len(ips) == len(bs)
			})
		}
	}
	// Every backend UP in etcd: the checks run end to end.
	waitFor(t, 60*time.Second, "every backend UP", func() bool {
		for _, b := range s.backends {
			if s.status(b.IP()) != "UP" {
				return false
			}
		}
		return true
	})
	return s
}

func (s *stack) status(ip netip.Addr) string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := s.etcd.admin.Get(ctx, "/skydns/monitor/status/"+ip.String())
	if err != nil || len(r.Kvs) == 0 {
		return ""
	}
	v := string(r.Kvs[0].Value)
	switch {
	case strings.Contains(v, `"status":"UP"`):
		return "UP"
	case strings.Contains(v, `"status":"DOWN"`):
		return "DOWN"
	}
	return "?"
}

// schedLeader is the holder of the schedule's election key ("" if none).
func (s *stack) schedLeader() (string, string, int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := s.etcd.admin.Get(ctx, lockPath+"/", clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend), clientv3.WithLimit(1))
	if err != nil || len(r.Kvs) == 0 {
		return "", "", 0
	}
	return election.Holder(r.Kvs[0].Value), string(r.Kvs[0].Key), r.Kvs[0].CreateRevision
}

// schedLeading reports whether a live schedule says it leads (its
// skydns_schedule_leader gauge). The lock key alone is no proof: the key
// of a leader from before a quorum loss outlives it while its lease does.
func (s *stack) schedLeading() bool {
	for _, addr := range s.schedMetrics {
		resp, err := apiClient.Get("http://" + addr + "/metrics")
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(b), "\n") {
			if line == "skydns_schedule_leader 1" {
				return true
			}
		}
	}
	return false
}

// agents is how many scanners have a heartbeat in etcd.
func (s *stack) agents() int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := s.etcd.admin.Get(ctx, "/skydns/monitor/agent/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		return 0
	}
	return int(r.Count)
}

var apiClient = &http.Client{Timeout: 10 * time.Second}

// call sends one API request; code 0 is a transport error.
func (s *stack) call(method, path, body string) (int, error) {
	req, err := http.NewRequest(method, "http://"+s.apiAddr+path, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := apiClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func httpOK(url string) bool {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// query asks server for name's A records over net; nil, err when it does
// not answer or answers with an error code.
func query(server, net, name string, timeout time.Duration) ([]string, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	c := &dns.Client{Net: net, Timeout: timeout}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
	}
	var ips []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			ips = append(ips, a.A.String())
		}
	}
	slices.Sort(ips)
	return ips, nil
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("not within %s: %s", limit, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// exits lists every exit that the suite did not cause.
func (s *stack) exits() []string {
	var out []string
	var all []*proc
	all = append(all, s.dns...)
	all = append(all, s.api)
	all = append(all, s.scheds...)
	all = append(all, s.scanners...)
	for _, m := range s.etcd.members {
		all = append(all, m.proc)
	}
	for _, p := range all {
		out = append(out, p.exits()...)
	}
	return out
}
