package agent

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skydns/skydns/internal/config"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/skydns-scanner/probe"
)

// Config is what an Agent needs; FromConfig builds it from
// skydns-scanner.conf, tests build it directly.
type Config struct {
	Name  string // agent name: its heartbeat key and job directory
	Paths monitor.Paths

	HeartbeatInterval time.Duration // lease keep-alive period; the lease TTL is 3x this
	EnableCheck       bool          // false: heartbeat only, take no jobs
	Site              string        // the site it probes from, registered in its heartbeat; "" for none

	Interval     time.Duration // between two probes of one target
	Timeout      time.Duration // one TCP connect or HTTP request
	Tries        int           // TCP/HTTP attempts per check
	ExtraPorts   []int         // probed on every target (scann-ports)
	DefaultPorts []int         // probed when the job names no check (no port, no HTTP, no ICMP)
	ICMP         bool          // ping targets whose job does not say
	PingTimeout  time.Duration
	PingCount    int
	// RootCAs verify HTTPS checks with tls-verify (ca-file); nil: the
	// system's roots.
	RootCAs    *x509.CertPool
	MaxThreads int // probes running at once
	Rise, Fall int // consecutive results that change a verdict

	RequestTimeout time.Duration // one etcd request
	// ViewProgress is how often the job view proves etcd answers (and
	// notices an etcd restored from an older backup); 0: etcdview's default.
	ViewProgress time.Duration
	Log          *slog.Logger
	Registry     prometheus.Registerer // nil: metrics not registered
}

// FromConfig turns the scanner's file into a Config.
func FromConfig(c *config.Scanner) (Config, error) {
	extra, err := ports(c.Check.Ports)
	if err != nil {
		return Config{}, fmt.Errorf("[Check] scann-ports: %w", err)
	}
	def, err := ports(c.Check.DefaultPorts)
	if err != nil {
		return Config{}, fmt.Errorf("[Check] default-scann-ports: %w", err)
	}
	name := config.Hostname(c.General.Hostname)
	if err := monitor.CheckAgentName(name); err != nil {
		return Config{}, fmt.Errorf("[General] hostname: %w", err)
	}
	k := c.Check
	var roots *x509.CertPool
	if k.CAFile != "" {
		pem, err := os.ReadFile(k.CAFile)
		if err != nil {
			return Config{}, fmt.Errorf("[Check] ca-file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return Config{}, fmt.Errorf("[Check] ca-file %s: no PEM certificate in it", k.CAFile)
		}
	}
	return Config{
		Name:              name,
		Paths:             monitor.PathsFrom(c.Etcd.MonitorPaths),
		HeartbeatInterval: c.General.HeartbeatInterval,
		EnableCheck:       c.General.EnableCheck,
		Site:              c.General.Site,
		Interval:          k.Interval, Timeout: k.Timeout, Tries: k.RetryCount,
		ExtraPorts: extra, DefaultPorts: def,
		ICMP: k.EnableICMP, PingTimeout: k.PingTimeout, PingCount: k.PingCount,
		RootCAs:    roots,
		MaxThreads: k.MaxThreads, Rise: k.Rise, Fall: k.Fall,
		RequestTimeout: c.Etcd.RequestTimeout,
	}, nil
}

func ports(list []string) ([]int, error) {
	var out []int
	for _, s := range list {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %q: want 1-65535", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func (c *Config) defaults() error {
	if err := monitor.CheckAgentName(c.Name); err != nil {
		return err
	}
	if c.Paths == (monitor.Paths{}) {
		c.Paths = monitor.DefaultPaths()
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 5 * time.Second
	}
	if c.Interval <= 0 {
		c.Interval = 2 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = time.Second
	}
	c.Tries = max(c.Tries, 1)
	c.PingCount = max(c.PingCount, 1)
	if c.MaxThreads <= 0 {
		c.MaxThreads = 256
	}
	if c.Rise <= 0 {
		c.Rise = 2
	}
	if c.Fall <= 0 {
		c.Fall = 3
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// leaseTTL is three heartbeats, in whole seconds as etcd wants them: one
// lost heartbeat never costs an agent its jobs, three do.
func (c *Config) leaseTTL() int64 {
	return max(1, int64(math.Ceil((3 * c.HeartbeatInterval).Seconds())))
}

// plan resolves a job's spec against the agent's defaults.
func (c *Config) plan(s monitor.Spec) probe.Plan {
	p := probe.Plan{ICMP: c.ICMP, RequireAll: s.Require == policy.RequireAll}
	if s.ICMP != nil {
		p.ICMP = *s.ICMP
	}
	p.Ports = s.Ports
	// A spec that names a check (ports, HTTP, DNS, gRPC, or ICMP asked
	// for outright) is complete; the default ports fill only a spec that
	// names none. Without them, {"icmp":false} would check nothing at all.
	if len(p.Ports) == 0 && s.HTTP == nil && s.DNS == nil && s.GRPC == nil && (s.ICMP == nil || !*s.ICMP) {
		p.Ports = c.DefaultPorts
	}
	if len(c.ExtraPorts) > 0 {
		all := append(slices.Clone(p.Ports), c.ExtraPorts...)
		slices.Sort(all)
		p.Ports = slices.Compact(all)
	}
	if s.HTTP != nil {
		h := probe.HTTPDefaults(*s.HTTP)
		p.HTTP = &h
	}
	if s.DNS != nil {
		d := probe.DNSDefaults(*s.DNS)
		p.DNS = &d
	}
	p.GRPC = s.GRPC
	return p
}
