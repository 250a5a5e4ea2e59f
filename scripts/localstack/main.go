// Command localstack runs SkyDNS on one machine for trying it out: an
// embedded etcd, the four daemons from bin/, and sample records whose
// backends are small TCP listeners on 127.0.0.x, so health is real.
// `make run` builds the binaries and starts it; Ctrl-C stops everything.
//
// The README's walkthrough is written against this stack, and the newcomer
// test (e2e/newcomer_test.go) runs that walkthrough against it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/embedetcd"
	"github.com/skydns/skydns/internal/etcdclient"
	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/internal/topology"
)

// The sample name and its backends, and the spare backends that listen
// but are in no record until the walkthrough adds them.
const sampleName = "cctv2.skydns.local."

var (
	sampleBackends = []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}
	spareBackends  = []string{"127.0.0.21", "127.0.0.22"}
)

// The sample sites, two data centres that split the sample name's
// backends, so that a newcomer sees a client of each get its own and a site
// fail over to the other. Each site holds one loopback network for its
// backends and one documentation network for its clients: the README's
// `dig +subnet=` puts those client addresses only into the EDNS Client
// Subnet option, nothing is ever sent to them. 127.0.0.1, where the
// README's plain dig queries come from, is in no site on purpose: those
// clients get every healthy backend, as without sites, so the rest of the
// walkthrough reads the same with sites or without.
var sampleSites = []sampleSite{
	{name: "dc1", backends: "127.0.0.8/30", clients: "198.51.100.0/24", fallback: "dc2"},
	{name: "dc2", backends: "127.0.0.12/30", clients: "203.0.113.0/24", fallback: "dc1"},
}

type sampleSite struct {
	name, backends, clients, fallback string
}

func (s sampleSite) site() topology.Site {
	return topology.Site{Networks: []string{s.backends, s.clients}, Fallback: []string{s.fallback}}
}

// members are the sample backends in the site's backend network.
func (s sampleSite) members() []string {
	p := netip.MustParsePrefix(s.backends)
	var in []string
	for _, ip := range sampleBackends {
		if p.Contains(netip.MustParseAddr(ip)) {
			in = append(in, ip)
		}
	}
	return in
}

type options struct {
	dir, bin, conf                        string
	etcdAddr, dnsAddr, apiAddr, statsAddr string
	controlAddr, scannerAddr, schedAddr   string
	backendPort                           string
	checkInterval                         time.Duration
	token                                 string
	readyTimeout                          time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.dir, "dir", ".run", "working `directory` for etcd data and logs")
	flag.StringVar(&o.bin, "bin", "bin", "`directory` of the SkyDNS binaries")
	flag.StringVar(&o.conf, "conf", "conf", "`directory` of the sample configs")
	flag.StringVar(&o.etcdAddr, "etcd-addr", "127.0.0.1:2379", "embedded etcd's client address")
	flag.StringVar(&o.dnsAddr, "dns-addr", "127.0.0.1:5353", "DNS server's UDP and TCP address")
	flag.StringVar(&o.apiAddr, "api-addr", "127.0.0.1:9001", "REST API's address")
	flag.StringVar(&o.statsAddr, "stats-addr", "127.0.0.1:9153", "DNS server's HTTP address (/metrics, /readyz)")
	flag.StringVar(&o.controlAddr, "control-addr", "127.0.0.1:9002", "this stack's own HTTP address, to stop and start backends")
	flag.StringVar(&o.scannerAddr, "scanner-metrics-addr", "127.0.0.1:9154", "scanner's /metrics address")
	flag.StringVar(&o.schedAddr, "schedule-metrics-addr", "127.0.0.1:9155", "schedule's /metrics address")
	flag.StringVar(&o.backendPort, "backend-port", "80", "TCP `port` the sample backends listen on and the scanner probes")
	flag.DurationVar(&o.checkInterval, "check-interval", time.Second, "scanner's check interval (shorter than production, so a killed backend leaves the answers quickly)")
	flag.StringVar(&o.token, "token", "123456789", "API token")
	flag.DurationVar(&o.readyTimeout, "ready-timeout", time.Minute, "how long to wait for the stack to answer with healthy backends")
	flag.Parse()

	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, log); err != nil {
		log.Error("local stack", "err", err)
		os.Exit(1)
	}
	log.Info("local stack stopped")
}

// run starts everything, prints what to try, and stops everything in the
// reverse order when ctx ends or a daemon dies.
func run(ctx context.Context, o options, log *slog.Logger) error {
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	for _, p := range []string{"skydns", "skydns-kubeapi", "skydns-schedule", "skydns-scanner", "skydns-apicmd"} {
		if _, err := os.Stat(filepath.Join(o.bin, p)); err != nil {
			return fmt.Errorf("%w (run `make build` first, or `make run`)", err)
		}
	}

	bs := newBackends(o.backendPort)
	defer bs.closeAll()
	for _, ip := range append(append([]string(nil), sampleBackends...), spareBackends...) {
		if err := bs.start(ip); err != nil {
			if errors.Is(err, os.ErrPermission) {
				return fmt.Errorf("%w: ports below 1024 need root here; try `make run ARGS=-backend-port=8080`", err)
			}
			return err
		}
	}
	control := &http.Server{Handler: bs.handler(), ReadHeaderTimeout: 5 * time.Second}
	cl, err := net.Listen("tcp", o.controlAddr)
	if err != nil {
		return fmt.Errorf("control address: %w", err)
	}
	go control.Serve(cl)
	defer control.Close()

	srv, err := embedetcd.Start(ctx, embedetcd.Options{Dir: filepath.Join(o.dir, "etcd"), ClientAddr: o.etcdAddr})
	if err != nil {
		return fmt.Errorf("embedded etcd on %s: %w", o.etcdAddr, err)
	}
	defer srv.Close()
	endpoint := srv.Endpoints()[0]
	cli, err := etcdclient.New(etcdclient.Options{Endpoints: []string{endpoint}})
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := loadSamples(ctx, cli); err != nil {
		return fmt.Errorf("sample records: %w", err)
	}

	logDir := filepath.Join(o.dir, "log")
	daemons := []daemon{
		// The stats listener takes the API's token too, so that the
		// console's explain page (and skydns-apicmd -explain) work.
		{"skydns", "skydns.conf", []string{"Dns.dns-addr=" + o.dnsAddr, "Stats.statsServer=" + o.statsAddr,
			"Stats.statsServerAuthToken=" + o.token}},
		{"skydns-kubeapi", "skydns-api.conf", []string{"SkydnsApi.api-address=" + o.apiAddr, "SkydnsApi.skydns-auth=" + o.token,
			"SkydnsApi.explain-addr=" + o.statsAddr, "SkydnsApi.explain-token=" + o.token}},
		{"skydns-schedule", "skydns-schedule.conf", []string{"General.metrics-addr=" + o.schedAddr}},
		{"skydns-scanner", "skydns-scanner.conf", []string{"General.metrics-addr=" + o.scannerAddr,
			"Check.default-scann-ports=" + o.backendPort, "Check.check-interval=" + o.checkInterval.String()}},
	}
	var procs []*exec.Cmd
	defer func() { stopAll(procs, log) }()
	exited := make(chan string, len(daemons))
	for _, d := range daemons {
		cmd, err := d.start(o, endpoint, logDir)
		if err != nil {
			return err
		}
		procs = append(procs, cmd)
		go func() { cmd.Wait(); exited <- d.name }()
	}

	rctx, cancel := context.WithTimeout(ctx, o.readyTimeout)
	err = waitReady(rctx, o, cli, exited)
	cancel()
	if ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w; the daemons' logs are in %s", err, logDir)
	}
	printWelcome(o, endpoint, logDir)

	select {
	case <-ctx.Done():
		fmt.Println("\nstopping ...")
		return nil
	case name := <-exited:
		return fmt.Errorf("%s exited; see %s", name, filepath.Join(logDir, name+".log"))
	}
}

// daemon is one SkyDNS program, its sample config and the keys the stack
// overrides.
type daemon struct {
	name, conf string
	sets       []string
}

func (d daemon) start(o options, etcd, logDir string) (*exec.Cmd, error) {
	args := []string{"-config-file", filepath.Join(o.conf, d.conf),
		"-set", "Etcd.etcd-servers=" + etcd, "-set", "Log.log-dir=" + logDir}
	for _, s := range d.sets {
		args = append(args, "-set", s)
	}
	cmd := exec.Command(filepath.Join(o.bin, d.name), args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// Ctrl-C reaches this process only, which then stops the daemons
		// in order; and if this process is killed outright, the kernel
		// sends each daemon SIGTERM, so nothing outlives the stack.
		Setpgid:   true,
		Pdeathsig: syscall.SIGTERM,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", d.name, err)
	}
	return cmd, nil
}

// stopAll sends SIGTERM to every daemon still running and waits for them,
// killing any that take longer than 10 s.
func stopAll(procs []*exec.Cmd, log *slog.Logger) {
	for _, p := range procs {
		p.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range procs {
		for processAlive(p) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if processAlive(p) {
			log.Warn("killing", "pid", p.Process.Pid, "program", filepath.Base(p.Path))
			p.Process.Kill()
		}
	}
}

// processAlive reports whether p has not been reaped yet. Signal 0 to a
// reaped pid fails, and the Wait goroutine reaps it as soon as it exits.
func processAlive(p *exec.Cmd) bool {
	return p.Process.Signal(syscall.Signal(0)) == nil
}

// waitReady waits until the API and the DNS server are ready, every sample
// backend is UP in etcd, and the DNS server answers the sample name with
// all of them: the state the walkthrough starts from.
func waitReady(ctx context.Context, o options, cli *clientv3.Client, exited <-chan string) error {
	hc := &http.Client{Timeout: time.Second}
	ready := func(url string) bool {
		resp, err := hc.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}
	var missing string
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready within the timeout: %s", missing)
		case name := <-exited:
			return fmt.Errorf("%s exited while starting", name)
		case <-time.After(200 * time.Millisecond):
		}
		switch {
		case !ready("http://" + o.apiAddr + "/readyz"):
			missing = "the API is not ready"
		case !ready("http://" + o.statsAddr + "/readyz"):
			missing = "the DNS server is not ready"
		case !allUp(ctx, cli):
			missing = "the scanner has not found every sample backend UP"
		case len(resolve(o.dnsAddr, sampleName)) != len(sampleBackends):
			missing = "the DNS server does not answer with every sample backend"
		default:
			return nil
		}
	}
}

func allUp(ctx context.Context, cli *clientv3.Client) bool {
	for _, ip := range sampleBackends {
		resp, err := cli.Get(ctx, statusKey(ip))
		if err != nil || len(resp.Kvs) == 0 {
			return false
		}
		st, err := health.Decode(resp.Kvs[0].Value)
		if err != nil {
			return false
		}
		if state, _ := st.State(); state != health.Up {
			return false
		}
	}
	return true
}

func statusKey(ip string) string {
	// The status-path of the sample configs, which the stack does not move.
	return health.Key("/skydns/monitor/status/", netip.MustParseAddr(ip))
}

func resolve(server, name string) []string {
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	c := &dns.Client{Timeout: time.Second}
	r, _, err := c.Exchange(m, server)
	if err != nil {
		return nil
	}
	var ips []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			ips = append(ips, a.A.String())
		}
	}
	return ips
}

// loadSamples writes the sample records straight into etcd, marked as the
// stack's own, and the sample sites. The sites are written as plain
// topology keys, the contract every writer shares, so the stack needs no
// API for them.
func loadSamples(ctx context.Context, cli *clientv3.Client) error {
	var ops []clientv3.Op
	for _, s := range sampleSites {
		v, err := s.site().Encode(s.name)
		if err != nil {
			return err
		}
		ops = append(ops, clientv3.OpPut(topology.Key(record.DefaultPrefix, s.name), string(v)))
	}
	for _, ip := range sampleBackends {
		r := record.Record{Type: record.TypeA, Host: ip, Source: "localstack"}
		v, err := r.Encode()
		if err != nil {
			return err
		}
		ops = append(ops, clientv3.OpPut(record.Key(record.DefaultPrefix, sampleName, record.ID(r)), string(v)))
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := cli.Txn(cctx).Then(ops...).Commit()
	return err
}

func printWelcome(o options, etcd, logDir string) {
	dnsHost, dnsPort, _ := net.SplitHostPort(o.dnsAddr)
	r := strings.NewReplacer(
		"{etcd}", etcd, "{dns}", o.dnsAddr, "{dnshost}", dnsHost, "{dnsport}", dnsPort,
		"{api}", o.apiAddr, "{token}", o.token, "{control}", o.controlAddr,
		"{logs}", logDir, "{data}", filepath.Join(o.dir, "etcd"), "{bin}", o.bin,
		"{port}", o.backendPort, "{interval}", o.checkInterval.String(),
		"{name}", strings.TrimSuffix(sampleName, "."),
		"{backends}", strings.Join(sampleBackends, " "), "{spare}", strings.Join(spareBackends, " "))
	// The sites' lines, built from sampleSites so that they cannot
	// disagree with what is in etcd.
	var sites, digs, stops strings.Builder
	for i, s := range sampleSites {
		label := "  sites     "
		if i > 0 {
			label = "            "
		}
		fmt.Fprintf(&sites, "%s%s: %s (%s %s) and clients %s, falls back to %s\n",
			label, s.name, s.backends, plural(len(s.members()), "backend"), strings.Join(s.members(), " "), s.clients, s.fallback)
		fmt.Fprintf(&digs, "  dig @{dnshost} -p {dnsport} {name} +subnet=%s +short    # a client of %s\n", s.clients, s.name)
	}
	first := sampleSites[0]
	for _, ip := range first.members() {
		fmt.Fprintf(&stops, "  curl -X POST http://{control}/backends/%s/stop\n", ip)
	}
	stops.WriteString("  dig @{dnshost} -p {dnsport} {name} +subnet=" + first.clients + " +short\n")
	for _, ip := range first.members() {
		fmt.Fprintf(&stops, "  curl -X POST http://{control}/backends/%s/start\n", ip)
	}
	fmt.Print(r.Replace(`
SkyDNS local stack is ready.
  etcd      {etcd} (embedded, data in {data})
  DNS       {dns} (udp and tcp)
  API       http://{api} (token {token})
  logs      {logs}/
  backends  {backends} (sample name {name}) and {spare} (spare),
            TCP on port {port}, probed every {interval}
` + sites.String() + `
Try, in another terminal (README.md walks through more):
  dig @{dnshost} -p {dnsport} {name} +short
  {bin}/skydns-apicmd -addr {api} -token {token} -list
  etcdctl --endpoints {etcd} get --prefix /skydns/monitor/status/
  {bin}/skydns-apicmd -addr {api} -token {token} -status {name}
Kill a backend and watch it leave the answers within a few seconds:
  curl -X POST http://{control}/backends/127.0.0.12/stop
  dig @{dnshost} -p {dnsport} {name} +short
  curl -X POST http://{control}/backends/127.0.0.12/start
Take a healthy backend out by hand (maintenance), then hand it back:
  {bin}/skydns-apicmd -addr {api} -token {token} -drain 127.0.0.13 -reason "kernel upgrade"
  {bin}/skydns-apicmd -addr {api} -token {token} -undrain 127.0.0.13
Ask as a client of each site (an EDNS Client Subnet option; a plain dig, from 127.0.0.1,
is in no site and gets every healthy backend):
  etcdctl --endpoints {etcd} get --prefix /skydns/topology/
` + digs.String() + `Fail ` + first.name + ` over and back: its clients get ` + first.fallback + `'s backends while it has none UP:
` + stops.String() + `
Ctrl-C stops everything.
`))
}

// plural is noun for a count of n: as is for one, with an s otherwise.
func plural(n int, noun string) string {
	if n == 1 {
		return noun
	}
	return noun + "s"
}
