// Command localstack runs SkyDNS on one machine for trying it out: an
// embedded etcd, the four daemons from bin/, and sample records whose
// backends are small TCP listeners on 127.0.0.x, so health is real.
// `make run` builds the binaries and starts it; Ctrl-C stops everything.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/embedetcd"
	"github.com/skydns/skydns/internal/etcdclient"
	"github.com/skydns/skydns/internal/record"
)

func main() {
	var o options
	flag.StringVar(&o.dir, "dir", ".run", "working `directory` for etcd data and logs")
	flag.StringVar(&o.bin, "bin", "bin", "`directory` of the SkyDNS binaries")
	flag.StringVar(&o.conf, "conf", "conf", "`directory` of the sample configs")
	flag.StringVar(&o.etcdAddr, "etcd-addr", "127.0.0.1:2379", "embedded etcd client address")
	flag.StringVar(&o.dnsAddr, "dns-addr", "127.0.0.1:5353", "DNS listen address")
	flag.StringVar(&o.apiAddr, "api-addr", "127.0.0.1:9001", "API listen address")
	flag.StringVar(&o.statsAddr, "stats-addr", "127.0.0.1:9153", "DNS server's HTTP address (metrics, stats)")
	flag.StringVar(&o.token, "token", "123456789", "API token")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, log); err != nil {
		log.Error("local stack", "err", err)
		os.Exit(1)
	}
}

type options struct {
	dir, bin, conf                        string
	etcdAddr, dnsAddr, apiAddr, statsAddr string
	token                                 string
}

// backends are the sample record's IPs; each gets a TCP listener on port 80
// (or 8080 when 80 is not ours to bind), so the scanner probes something real.
var backends = []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}

func run(ctx context.Context, o options, log *slog.Logger) error {
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	srv, err := embedetcd.Start(ctx, embedetcd.Options{Dir: filepath.Join(o.dir, "etcd"), ClientAddr: o.etcdAddr})
	if err != nil {
		return fmt.Errorf("embedded etcd on %s: %w", o.etcdAddr, err)
	}
	defer srv.Close()
	cli, err := etcdclient.New(etcdclient.Options{Endpoints: srv.Endpoints()})
	if err != nil {
		return err
	}
	defer cli.Close()

	stopBackends, err := startBackends(backends)
	if err != nil {
		return err
	}
	defer stopBackends()
	if err := loadSamples(ctx, cli); err != nil {
		return err
	}

	endpoint := srv.Endpoints()[0]
	common := []string{"-set", "Etcd.etcd-servers=" + endpoint, "-set", "Log.log-dir=" + filepath.Join(o.dir, "log")}
	daemons := []struct {
		name, conf string
		sets       []string
	}{
		{"skydns", "skydns.conf", []string{"Dns.dns-addr=" + o.dnsAddr, "Stats.statsServer=" + o.statsAddr}},
		{"skydns-kubeapi", "skydns-api.conf", []string{"SkydnsApi.api-address=" + o.apiAddr, "SkydnsApi.skydns-auth=" + o.token}},
		{"skydns-schedule", "skydns-schedule.conf", []string{"General.metrics-addr=127.0.0.1:9155"}},
		{"skydns-scanner", "skydns-scanner.conf", []string{"General.metrics-addr=127.0.0.1:9154", "Check.default-scann-ports=80"}},
	}
	var procs []*exec.Cmd
	defer func() { stopAll(procs, log) }()
	for _, d := range daemons {
		args := append([]string{"-config-file", filepath.Join(o.conf, d.conf)}, common...)
		for _, s := range d.sets {
			args = append(args, "-set", s)
		}
		cmd := exec.Command(filepath.Join(o.bin, d.name), args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", d.name, err)
		}
		procs = append(procs, cmd)
	}
	fmt.Printf(`
SkyDNS local stack is up (logs in %[1]s/log/).
  etcd:        %[2]s   (embedded; data in %[1]s/etcd)
  DNS:         %[3]s
  API:         %[4]s   (token %[5]s)
  sample name: cctv2.skydns.local -> %[6]v (TCP listeners on port 80)
Try:
  dig @%[7]s -p %[8]s cctv2.skydns.local A
  etcdctl --endpoints %[2]s get --prefix /skydns/monitor/status/
Ctrl-C stops everything.
`, o.dir, endpoint, o.dnsAddr, o.apiAddr, o.token, backends, host(o.dnsAddr), port(o.dnsAddr))

	exited := make(chan string, len(procs))
	for i, p := range procs {
		go func() { p.Wait(); exited <- daemons[i].name }()
	}
	select {
	case <-ctx.Done():
		return nil
	case name := <-exited:
		return fmt.Errorf("%s exited; see %s/log/%s.log", name, o.dir, name)
	}
}

func stopAll(procs []*exec.Cmd, log *slog.Logger) {
	for _, p := range procs {
		if p.ProcessState == nil {
			p.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range procs {
		for p.ProcessState == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if p.ProcessState == nil {
			log.Warn("killing", "pid", p.Process.Pid)
			p.Process.Kill()
		}
	}
}

func startBackends(ips []string) (func(), error) {
	var ls []net.Listener
	stop := func() {
		for _, l := range ls {
			l.Close()
		}
	}
	for _, ip := range ips {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "80"))
		if err != nil {
			stop()
			return nil, fmt.Errorf("backend %s:80: %w", ip, err)
		}
		ls = append(ls, l)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	return stop, nil
}

// loadSamples writes the sample records as the API would.
func loadSamples(ctx context.Context, cli *clientv3.Client) error {
	name := "cctv2.skydns.local."
	var ops []clientv3.Op
	for _, ip := range backends {
		r := record.Record{Type: record.TypeA, Host: ip, Source: "localstack"}
		v, err := r.Encode()
		if err != nil {
			return err
		}
		ops = append(ops, clientv3.OpPut(record.Key(record.DefaultPrefix, name, record.ID(r)), string(v)))
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := cli.Txn(cctx).Then(ops...).Commit()
	return err
}

func host(addr string) string { h, _, _ := net.SplitHostPort(addr); return h }
func port(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
