package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/etcdview"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
	"github.com/skydns/skydns/skydns-kubeapi/api"
	apistore "github.com/skydns/skydns/skydns-kubeapi/store"
	"github.com/skydns/skydns/skydns/server"
	"github.com/skydns/skydns/skydns/zone"
)

// A backend that dies leaves the DNS answer within fall x check-interval
// + 1 s and comes back after it recovers: the scanner agents probe it,
// the schedule turns their reports into a status, and the DNS server
// drops the IP from its answers. Everything real, in one process.
func TestFailoverReachesDNSAnswers(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 3)
	want := make([]string, len(bs))
	for i, b := range bs {
		want[i] = b.IP().String()
		if _, err := cli.Put(context.Background(), fmt.Sprintf("%s/local/skydns/app/%08x", mt.Prefix, i),
			fmt.Sprintf(`{"host":%q}`, b.IP())); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(want)

	mt.StartSchedule(t, cli, mt.ScheduleConfig(t, "s1"))
	for _, name := range []string{"a1", "a2"} {
		mt.StartAgent(t, cli, mt.AgentConfig(t, name, bs[0].Port()))
	}

	store, answer := inProcessDNS(t, cli, "app.skydns.local.")
	mt.Eventually(t, 30*time.Second, "all backends UP and answered", func() bool {
		return slices.Equal(answer(), want) && store.State(bs[0].IP()) == 1 && store.State(bs[2].IP()) == 1
	})

	bound := time.Duration(mt.Fall)*mt.Interval + time.Second
	until := func(cond func([]string) bool) time.Time {
		deadline := time.Now().Add(bound + 10*time.Second)
		for time.Now().Before(deadline) {
			if cond(answer()) {
				return time.Now()
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("DNS answer did not change within %s: %v", bound+10*time.Second, answer())
		return time.Time{}
	}
	took := mt.Failover(bs,
		func(ip netip.Addr) time.Time {
			return until(func(a []string) bool { return len(a) > 0 && !slices.Contains(a, ip.String()) })
		},
		func(ip netip.Addr) time.Time {
			return until(func(a []string) bool { return slices.Contains(a, ip.String()) })
		})
	for i, d := range took {
		t.Logf("backend %s killed -> gone from the DNS answer in %v (bound %v)", bs[i].IP(), d.Round(time.Millisecond), bound)
		if d > bound {
			t.Errorf("backend %s left the answer after %v, over fall x interval + 1s = %v", bs[i].IP(), d, bound)
		}
	}
}

// inProcessDNS runs the DNS server in-process on cli and returns its store and
// a function that asks it for name's A records, sorted.
func inProcessDNS(t *testing.T, cli *clientv3.Client, name string) (*zone.Store, func() []string) {
	t.Helper()
	store := zone.New(zone.Options{Prefix: mt.Prefix, Zones: []string{"skydns.local."}, StatusPath: mt.Paths.Status,
		View: etcdview.Options{ProgressInterval: 200 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	wait := store.Start(ctx, cli)
	t.Cleanup(func() { cancel(); wait() })
	l, err := server.Listen("127.0.0.1:0", server.NewHandler(server.Config{HealthTTLCap: 10, ServeUnchecked: true}, store, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Shutdown(context.Background()) })
	return store, func() []string {
		m := new(dns.Msg)
		m.SetQuestion(name, dns.TypeA)
		r, err := dns.Exchange(m, l.Addr())
		if err != nil {
			return nil
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
}

// An operator drains a healthy backend through the REST API: it leaves
// the DNS answer within a second although every check passes, and comes
// back the moment the override is deleted. A dead backend forced UP is
// answered while it fails its checks, and leaves again when the override
// goes. The API, the schedule, the agents and the DNS server are real, in
// one process.
func TestOverrideReachesDNSAnswers(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	bs := mt.NewBackends(t, 3)
	want := make([]string, len(bs))
	for i, b := range bs {
		want[i] = b.IP().String()
	}
	slices.Sort(want)

	const token = "123456789"
	st, err := apistore.New(cli, apistore.Options{Prefix: mt.Prefix, StatusPath: mt.Paths.Status,
		Zones: []string{"skydns.local."}, ProgressInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Config{Domains: []string{"skydns.local."}, Token: token, Cluster: "e2e"}, st)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { st.Run(ctx) })
	wg.Go(func() { a.Serve(ctx, ln, "", "", time.Second) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	<-st.Ready()
	call := func(method, path, body string) string {
		t.Helper()
		req, err := http.NewRequest(method, "http://"+ln.Addr().String()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		return string(b)
	}
	call("POST", "/skydns/api/app", fmt.Sprintf(`{"type":"A","ips":["%s","%s","%s"]}`, bs[0].IP(), bs[1].IP(), bs[2].IP()))

	mt.StartSchedule(t, cli, mt.ScheduleConfig(t, "s1"))
	for _, name := range []string{"a1", "a2"} {
		mt.StartAgent(t, cli, mt.AgentConfig(t, name, bs[0].Port()))
	}
	_, answer := inProcessDNS(t, cli, "app.skydns.local.")
	mt.Eventually(t, 30*time.Second, "all backends UP and answered", func() bool {
		s, ok := st.Health(bs[0].IP())
		return slices.Equal(answer(), want) && ok && s.Status == "UP"
	})

	const bound = time.Second
	until := func(what string, cond func([]string) bool) time.Duration {
		t.Helper()
		start := time.Now()
		for time.Since(start) < bound+10*time.Second {
			if cond(answer()) {
				return time.Since(start)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("%s: the DNS answer did not change within %v: %v", what, bound+10*time.Second, answer())
		return 0
	}
	without := func(ip string) func([]string) bool {
		return func(a []string) bool { return len(a) > 0 && !slices.Contains(a, ip) }
	}
	with := func(ip string) func([]string) bool {
		return func(a []string) bool { return slices.Contains(a, ip) }
	}
	check := func(what string, d time.Duration) {
		t.Helper()
		t.Logf("%s: %v (bound %v)", what, d.Round(time.Millisecond), bound)
		if d > bound {
			t.Errorf("%s took %v, over %v", what, d, bound)
		}
	}

	drained := bs[0].IP().String()
	call("PUT", "/skydns/overrides/"+drained, `{"status":"DOWN","reason":"kernel upgrade","user":"alice"}`)
	check("healthy backend drained -> gone from the DNS answer", until("drain", without(drained)))
	// The checks keep passing; the backend stays out.
	time.Sleep(10 * mt.Interval)
	if a := answer(); slices.Contains(a, drained) {
		t.Fatalf("drained backend back in the answer while the override holds: %v", a)
	}
	if body := call("GET", "/skydns/api/app", ""); !strings.Contains(body, `"override"`) || !strings.Contains(body, "override: kernel upgrade (by alice)") {
		t.Errorf("GET of the name does not show the override: %s", body)
	}
	call("DELETE", "/skydns/overrides/"+drained, "")
	check("override deleted -> back in the DNS answer", until("undrain", with(drained)))

	dead := bs[1].IP().String()
	bs[1].Kill()
	until("kill", without(dead))
	call("PUT", "/skydns/overrides/"+dead, `{"status":"UP","reason":"checks are wrong"}`)
	check("dead backend forced UP -> in the DNS answer", until("force up", with(dead)))
	time.Sleep(10 * mt.Interval)
	if a := answer(); !slices.Contains(a, dead) {
		t.Fatalf("forced-up backend left the answer while the override holds: %v", a)
	}
	call("DELETE", "/skydns/overrides/"+dead, "")
	check("override deleted -> dead backend gone again", until("force up removed", without(dead)))
}
