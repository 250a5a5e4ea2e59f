// Command gendata writes the benchmark data set: N names
// n<i>.bench.skydns.local. with three A records each into etcd, as SkyDNS
// writes records, a health status key for every address (about 10% DOWN),
// the same names as a zone file for Knot DNS, and a dnsperf query file.
//
// It is part of scripts/bench (see run.sh and docs/benchmarks.md). The
// addresses come from the documentation and benchmarking ranges: they are
// served, never contacted.
//
// With -sites on|off it writes nothing of the above: it puts (or deletes)
// the sites benchmark's topology, 1,000 networks over 10 sites built from
// the same plan (give the same -names, -seed and -spread), and waits until
// the DNS server at -dns answers as the sites say (sites.go).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/skydns/skydns/internal/etcdclient"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gendata:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("gendata", flag.ContinueOnError)
	var s Spec
	fs.StringVar(&s.Prefix, "prefix", "/skydns", "etcd record prefix")
	fs.StringVar(&s.StatusPath, "status-path", "/skydns/monitor/status/", "etcd health status directory")
	fs.StringVar(&s.Zone, "zone", "bench.skydns.local.", "zone the names are in")
	fs.IntVar(&s.Names, "names", 10000, "number of names")
	fs.IntVar(&s.IPsPerName, "ips", 3, "A records per name")
	fs.IntVar(&s.DownPct, "down-pct", 10, "percentage of addresses whose status is DOWN")
	fs.Uint64Var(&s.Seed, "seed", 1, "seed of the DOWN choice, the query order and the sites")
	fs.BoolVar(&s.Spread, "spread", false, "take a name's addresses far apart in the pool (for -sites)")
	sites := fs.String("sites", "", "on: write the 1,000 networks over 10 sites and wait until -dns serves them; off: delete them and wait; then exit (no data, no files)")
	dnsAddr := fs.String("dns", "", "with -sites: the skydns to poll, host:port on loopback")
	client := fs.String("client", "127.0.0.1", "with -sites: the client whose /24 is put in site0 and as whom the probes ask (ECS); another than dnsperf's 127.0.0.1 leaves dnsperf in no site")
	wait := fs.Duration("wait", time.Minute, "with -sites: how long to wait for the server")
	endpoints := fs.String("etcd", "", "etcd endpoints, comma-separated; empty: write no etcd data")
	out := fs.String("out", "", "directory for <zone>zone and queries.txt; empty: write no files")
	queries := fs.Int("queries", 0, "lines of the query file; 0: min(names, 1000000)")
	ttl := fs.Uint("ttl", 30, "TTL of the zone file's records (match skydns's ttl)")
	txnOps := fs.Int("txn-ops", 128, "puts per etcd transaction (at most 128)")
	workers := fs.Int("workers", 16, "concurrent etcd transactions")
	timeout := fs.Duration("timeout", 15*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return err
	}
	p, err := NewPlan(s)
	if err != nil {
		return err
	}
	if *sites != "" {
		return runSites(p, *sites, *endpoints, *dnsAddr, *client, *wait)
	}
	if *queries <= 0 {
		*queries = min(p.Names, 1_000_000)
	}

	if *out != "" {
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		t0 := time.Now()
		if err := writeFile(filepath.Join(*out, p.Zone+"zone"), func(f *os.File) error { return p.WriteZone(f, uint32(*ttl)) }); err != nil {
			return err
		}
		if err := writeFile(filepath.Join(*out, "queries.txt"), func(f *os.File) error { return p.WriteQueries(f, *queries) }); err != nil {
			return err
		}
		fmt.Printf("gendata: zone file and %d queries in %s (%.1fs)\n", *queries, *out, time.Since(t0).Seconds())
	}

	if *endpoints != "" {
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		cli, err := etcdclient.New(etcdclient.Options{Endpoints: strings.Split(*endpoints, ","), DialTimeout: 10 * time.Second})
		if err != nil {
			return err
		}
		defer cli.Close()
		t0 := time.Now()
		st, err := p.Load(ctx, cli, *txnOps, *workers, func(st Stats) {
			fmt.Printf("gendata: %d txns, %d records, %.0fs\n", st.Txns, st.Records, time.Since(t0).Seconds())
		})
		if err != nil {
			return err
		}
		d := time.Since(t0)
		fmt.Printf("gendata: etcd: %d records of %d names, %d status keys (%d DOWN) in %d txns, %.1fs (%.0f puts/s)\n",
			st.Records, p.Names, st.Statuses, st.Down, st.Txns, d.Seconds(), float64(st.Records+st.Statuses)/d.Seconds())
	}
	return nil
}

// writeFile writes through a temporary file and renames, so a reader never
// sees a half-written file.
func writeFile(path string, write func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".gendata-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// runSites writes (on) or deletes (off) the benchmark's sites and waits
// until the server answers accordingly.
func runSites(p *Plan, mode, endpoints, dnsAddr, client string, wait time.Duration) error {
	if mode != "on" && mode != "off" {
		return fmt.Errorf("-sites on|off, got %q", mode)
	}
	if endpoints == "" || dnsAddr == "" {
		return fmt.Errorf("-sites needs -etcd and -dns")
	}
	ap, err := netip.ParseAddrPort(dnsAddr)
	if err != nil || !ap.Addr().IsLoopback() {
		return fmt.Errorf("-dns %q: want a loopback host:port", dnsAddr)
	}
	cl, err := netip.ParseAddr(client)
	if err != nil {
		return fmt.Errorf("-client: %w", err)
	}
	set, err := p.Sites(cl)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	cli, err := etcdclient.New(etcdclient.Options{Endpoints: strings.Split(endpoints, ","), DialTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer cli.Close()
	t0 := time.Now()
	if mode == "on" {
		err = set.Put(ctx, cli, p.Prefix)
	} else {
		err = DeleteSites(ctx, cli, p.Prefix)
	}
	if err != nil {
		return err
	}
	if err := set.WaitApplied(ctx, dnsAddr, mode == "on"); err != nil {
		return err
	}
	if mode == "off" {
		fmt.Printf("gendata: sites off, served after %d ms\n", time.Since(t0).Milliseconds())
		return nil
	}
	fmt.Printf("gendata: sites on, served after %d ms: %d sites, %d networks (%d /%d around the backends, %d /24s of 127/8); "+
		"client %s in %s; %d of %d names have an address there\n",
		time.Since(t0).Milliseconds(), len(set.Sites), set.BackendNets+set.ClientNets, set.BackendNets, set.BackendBits,
		set.ClientNets, cl, clientSite, set.InClientSite, p.Names)
	return nil
}
