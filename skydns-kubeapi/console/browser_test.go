package console_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/etcdview"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
	"github.com/skydns/skydns/skydns-kubeapi/api"
	"github.com/skydns/skydns/skydns-kubeapi/console"
	"github.com/skydns/skydns/skydns-kubeapi/store"
	"github.com/skydns/skydns/skydns/server"
	"github.com/skydns/skydns/skydns/stats"
	"github.com/skydns/skydns/skydns/zone"
)

const (
	apiToken   = "console-test-token"
	statsToken = "stats-test-token"
	chromium   = "/usr/bin/chromium"
)

// stack is everything real, in one process, on one embedded etcd: backends
// on 127.0.0.x, a schedule and a scanner agent probing them, the DNS
// server's store and its stats listener (for explain), and the API with
// its console.
type stack struct {
	cli      *clientv3.Client
	backends []*mt.Backend
	st       *store.Store
	url      string // the API's, http://127.0.0.1:port
}

func startStack(t *testing.T) *stack {
	t.Helper()
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	s := &stack{cli: cli, backends: mt.NewBackends(t, 2)}
	for i, b := range s.backends {
		if _, err := cli.Put(context.Background(), fmt.Sprintf("%s/local/skydns/app/%08x", mt.Prefix, i),
			fmt.Sprintf(`{"host":%q}`, b.IP())); err != nil {
			t.Fatal(err)
		}
	}
	mt.StartSchedule(t, cli, mt.ScheduleConfig(t, "sched1"))
	mt.StartAgent(t, cli, mt.AgentConfig(t, "agent1", s.backends[0].Port()))

	// The DNS server, for explain: its store and its stats listener.
	zs := zone.New(zone.Options{Prefix: mt.Prefix, Zones: []string{"skydns.local."}, StatusPath: mt.Paths.Status,
		View: etcdview.Options{ProgressInterval: 200 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	wait := zs.Start(ctx, cli)
	t.Cleanup(func() { cancel(); wait() })
	h := server.NewHandler(server.Config{HealthTTLCap: 10, ServeUnchecked: true}, zs, nil)
	statsSrv := httptest.NewServer(stats.Handler(stats.Options{Store: zs, Handler: h, Token: statsToken, Start: time.Now()}))
	t.Cleanup(statsSrv.Close)

	s.url, s.st = startAPI(t, cli, false, statsSrv.URL)
	mt.Eventually(t, 30*time.Second, "both backends UP in the API's store", func() bool {
		for _, b := range s.backends {
			if state(s.st, b.IP()) != "UP" {
				return false
			}
		}
		return true
	})
	return s
}

// state is the status of ip in the API's store: UP, DOWN or UNKNOWN.
func state(st *store.Store, ip netip.Addr) string {
	h, ok := st.Health(ip)
	if !ok {
		return "UNKNOWN"
	}
	s, _ := h.State()
	return s.String()
}

// startAPI runs the API's store and the API with its console on cli,
// and returns the API's URL.
func startAPI(t testing.TB, cli *clientv3.Client, openReads bool, explainURL string) (string, *store.Store) {
	t.Helper()
	st, err := store.New(cli, store.Options{Prefix: mt.Prefix, StatusPath: mt.Paths.Status,
		Zones: []string{"skydns.local."}, ProgressInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a, err := api.New(api.Config{
		Domains: []string{"skydns.local."}, Token: apiToken, OpenReads: openReads, Cluster: "test",
		RequestTimeout: 3 * time.Second,
		UI: func(routes http.Handler, authorize func(*http.Request, bool) error) http.Handler {
			c, err := console.New(console.Options{API: routes, Authorize: authorize, Names: st.Names,
				Etcd: cli, Paths: mt.Paths, LockKey: console.DefaultLockKey,
				ExplainURL: explainURL, ExplainToken: statsToken})
			if err != nil {
				t.Fatal(err)
			}
			return c
		},
	}, st)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); st.Run(ctx) }()
	go func() { defer wg.Done(); a.Serve(ctx, ln, "", "", time.Second) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	select {
	case <-st.Ready():
	case <-time.After(30 * time.Second):
		t.Fatal("the API's store did not load")
	}
	return "http://" + ln.Addr().String(), st
}

// browser starts headless Chromium. Under CI=true a missing Chromium fails
// the test: `make test` installs it (scripts/chromium/install.sh).
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := exec.LookPath(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: `make test` installs it (scripts/chromium/install.sh)", chromium)
		}
		t.Skipf("%s is missing; run scripts/chromium/install.sh (as root), as `make test` does", chromium)
	}
	// A fresh profile, removed after the browser has exited: its helper
	// processes may still write there for a moment after it is told to go,
	// which t.TempDir's cleanup would report as a failure.
	profile, err := os.MkdirTemp("", "skydns-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1100, 700),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() {
		chromedp.Cancel(ctx) // closes the browser and waits for it
		cancelC()
		cancelA()
		deadline := time.Now().Add(10 * time.Second)
		for os.RemoveAll(profile) != nil && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
	})
	// The first Run starts the browser and binds it to the context it is
	// given: this one, not a step's, whose end would close the browser.
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	return ctx
}

// shots is where screenshots go: $SKYDNS_SCREENSHOT_DIR, else a temporary
// directory of the test.
func shots(t *testing.T) string {
	if d := os.Getenv("SKYDNS_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// run runs browser actions, each step bounded so that a missing element
// fails the test with the step's name instead of hanging it.
func run(t *testing.T, ctx context.Context, step string, timeout time.Duration, actions ...chromedp.Action) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chromedp.Run(sctx, actions...); err != nil {
		var where, body string
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = chromedp.Run(dctx, chromedp.Location(&where), chromedp.Evaluate(`document.body ? document.body.innerText : ""`, &body))
		t.Fatalf("%s: %v\nat %s the page reads:\n%s", step, err, where, body)
	}
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	var png []byte
	run(t, ctx, "screenshot "+name, 20*time.Second, chromedp.CaptureScreenshot(&png))
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", filepath.Join(dir, name))
}

// The console in a real browser, against the real stack: the token is
// entered once; the name shows its IPs UP; a backend killed turns DOWN on
// the open page without a reload; an IP is drained and undrained through
// the page's buttons; explain shows the chosen IP.
func TestConsoleInBrowser(t *testing.T) {
	ctx := browser(t)
	s := startStack(t)
	dir := shots(t)
	ip0, ip1 := s.backends[0].IP().String(), s.backends[1].IP().String()
	row := func(ip string) string { return `tr[data-ip="` + ip + `"]` }

	// Reading needs the token: the console asks for it once.
	run(t, ctx, "the token form", 30*time.Second,
		chromedp.Navigate(s.url+"/ui/"),
		chromedp.WaitVisible(`input[name="token"]`, chromedp.ByQuery),
		chromedp.SendKeys(`input[name="token"]`, apiToken, chromedp.ByQuery),
		chromedp.Click(`form[action="/ui/login"] button`, chromedp.ByQuery),
		chromedp.WaitVisible(`a[href="/ui/name/app.skydns.local."]`, chromedp.ByQuery),
	)
	screenshot(t, ctx, dir, "console-names.png")

	run(t, ctx, "the name with its IPs UP", 30*time.Second,
		chromedp.Click(`a[href="/ui/name/app.skydns.local."]`, chromedp.ByQuery),
		chromedp.WaitVisible(row(ip0)+` .st-UP`, chromedp.ByQuery),
		chromedp.WaitVisible(row(ip1)+` .st-UP`, chromedp.ByQuery),
		// A reload would lose this mark.
		chromedp.Evaluate(`window.noReload = true`, nil),
	)

	// Kill a backend: the scanner sees it fail, the schedule writes DOWN,
	// and the open page shows it within 2 s of the API knowing it.
	s.backends[0].Kill()
	var knownDown time.Time
	mt.Eventually(t, 30*time.Second, "the API's store has "+ip0+" DOWN", func() bool {
		if state(s.st, s.backends[0].IP()) == "DOWN" {
			knownDown = time.Now()
			return true
		}
		return false
	})
	run(t, ctx, "the page shows DOWN", 20*time.Second,
		chromedp.WaitVisible(row(ip0)+` .st-DOWN`, chromedp.ByQuery))
	shown := time.Since(knownDown)
	var same bool
	run(t, ctx, "no reload", 10*time.Second, chromedp.Evaluate(`window.noReload === true`, &same))
	if !same {
		t.Fatal("the page was reloaded; the change must show without a reload")
	}
	t.Logf("%s DOWN on the open page %v after the API's store had it", ip0, shown.Round(time.Millisecond))
	if shown > 2*time.Second {
		t.Errorf("the page showed DOWN %v after the API knew it, over 2 s", shown)
	}
	screenshot(t, ctx, dir, "console-name.png")

	// Drain and undrain the other IP through the page.
	run(t, ctx, "drain", 30*time.Second,
		chromedp.Click(row(ip1)+` button.drain`, chromedp.ByQuery),
		chromedp.WaitVisible(row(ip1)+` .ovr`, chromedp.ByQuery),
		chromedp.WaitVisible(row(ip1)+` button.undrain`, chromedp.ByQuery),
	)
	if n := mt.Count(t, s.cli, "/skydns/monitor/override/"+ip1); n != 1 {
		t.Fatalf("after drain: %d override keys of %s in etcd, want 1", n, ip1)
	}
	run(t, ctx, "undrain", 30*time.Second,
		chromedp.Click(row(ip1)+` button.undrain`, chromedp.ByQuery),
		chromedp.WaitVisible(row(ip1)+` button.drain`, chromedp.ByQuery),
	)
	if n := mt.Count(t, s.cli, "/skydns/monitor/override/"+ip1); n != 0 {
		t.Fatalf("after undrain: %d override keys of %s in etcd, want 0", n, ip1)
	}

	// Explain: the DNS server chose the one IP that is UP.
	var answer string
	run(t, ctx, "explain", 30*time.Second,
		chromedp.Navigate(s.url+"/ui/explain?name=app.skydns.local.&client=127.0.0.1"),
		chromedp.WaitVisible(`#answer`, chromedp.ByQuery),
		chromedp.Text(`#answer`, &answer, chromedp.ByQuery),
	)
	if !strings.Contains(answer, ip1) || strings.Contains(answer, ip0) {
		t.Errorf("explain answers %q, want %s and not the dead %s", answer, ip1, ip0)
	}
	screenshot(t, ctx, dir, "console-explain.png")

	run(t, ctx, "agents and leader", 30*time.Second,
		chromedp.Navigate(s.url+"/ui/agents"),
		chromedp.WaitVisible(`.leader`, chromedp.ByQuery),
	)
}
