package config

import "time"

// Scanner is the configuration of skydns-scanner (skydns-scanner.conf).
type Scanner struct {
	General ScannerGeneral `ini:"General"`
	Check   CheckSection   `ini:"Check"`
	Etcd    ScannerEtcd    `ini:"Etcd"`
	Log     Log            `ini:"Log" alias:"log-dir=General.log-dir,log-level=General.log-level"`
}

// ScannerGeneral is [General] of skydns-scanner.conf.
type ScannerGeneral struct {
	Hostname          string        `ini:"hostname" default:"" help:"name this scanner registers and receives jobs under; empty: the OS hostname"`
	HeartbeatInterval time.Duration `ini:"heartbeat-interval" unit:"s" default:"5s" help:"how often the scanner writes its heartbeat; keep it well under the scheduler's agent-downtime"`
	EnableCheck       bool          `ini:"enable-check" default:"true" help:"run the probes; false: only send heartbeats"`
	Cores             int           `ini:"core" default:"0" help:"CPUs to use (GOMAXPROCS); 0: all"`
	MetricsAddr       string        `ini:"metrics-addr" default:"127.0.0.1:9154" help:"address of the Prometheus /metrics listener, host:port; empty: no listener"`
	Site              string        `ini:"site" default:"" help:"the site (a lower-case DNS label, a key under <etcd-prefix>/topology/) this scanner probes from, registered in its heartbeat; the schedule gives it the targets of its own site first. Empty: no site, the scanner checks targets anywhere"`
}

// CheckSection is [Check] of skydns-scanner.conf.
type CheckSection struct {
	Interval     time.Duration `ini:"check-interval" unit:"s" default:"2s" help:"time between two probes of one IP"`
	Timeout      time.Duration `ini:"check-timeout" unit:"s" default:"1s" help:"how long a TCP connect may take before the try fails"`
	RetryCount   int           `ini:"check-retry-count" default:"1" help:"TCP connects tried in one probe before it counts as failed; 1: no retry"`
	Ports        []string      `ini:"scann-ports" sep:"," default:"" help:"TCP ports probed on every IP, comma-separated; empty: only the ports the job names"`
	DefaultPorts []string      `ini:"default-scann-ports" sep:"," default:"80" help:"TCP ports probed on an IP whose job names none, comma-separated"`
	EnableICMP   bool          `ini:"enable-icmp" default:"true" help:"also probe each IP with ICMP echo (ping)"`
	PingTimeout  time.Duration `ini:"ping-timeout" unit:"ms" default:"1000ms" help:"how long to wait for the echo replies of one probe"`
	PingCount    int           `ini:"ping-count" default:"1" help:"echo requests sent per probe; one reply is enough"`
	MaxThreads   int           `ini:"max-thread" default:"256" help:"most probes running at once"`
	Rise         int           `ini:"rise" default:"2" help:"consecutive successful probes before a down IP is reported up"`
	Fall         int           `ini:"fall" default:"3" help:"consecutive failed probes before an up IP is reported down"`
	CAFile       string        `ini:"ca-file" default:"" help:"PEM file of the CA certificates that HTTPS checks with tls-verify trust, instead of the system's roots; empty: the system's roots"`
}

// ScannerEtcd is [Etcd] of skydns-scanner.conf: the shared keys and the
// monitor directories.
type ScannerEtcd struct {
	Etcd
	MonitorPaths
}

// Validate checks values that parse but cannot work.
func (c Scanner) Validate() error {
	var p problems
	g := c.General
	checkPositive(&p, "General", "heartbeat-interval", g.HeartbeatInterval)
	checkMin(&p, "General", "core", g.Cores, 0)
	checkOptionalAddr(&p, "General", "metrics-addr", g.MetricsAddr)
	checkSite(&p, "General", "site", g.Site)
	const sec = "Check"
	k := c.Check
	checkPositive(&p, sec, "check-interval", k.Interval)
	checkPositive(&p, sec, "check-timeout", k.Timeout)
	checkMin(&p, sec, "check-retry-count", k.RetryCount, 1)
	checkPorts(&p, sec, "scann-ports", k.Ports)
	checkPorts(&p, sec, "default-scann-ports", k.DefaultPorts)
	checkPositive(&p, sec, "ping-timeout", k.PingTimeout)
	checkMin(&p, sec, "ping-count", k.PingCount, 1)
	checkMin(&p, sec, "max-thread", k.MaxThreads, 1)
	checkMin(&p, sec, "rise", k.Rise, 1)
	checkMin(&p, sec, "fall", k.Fall, 1)
	c.Etcd.check(&p, "Etcd")
	c.Etcd.checkPaths(&p, "Etcd")
	c.Log.check(&p, "Log")
	return p.err()
}
