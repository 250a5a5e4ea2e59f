package config

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"
)

// Default locations of the daemons' files, for RegisterFlags.
const (
	Dir          = "/etc/skydns"
	DNSFile      = Dir + "/skydns.conf"
	APIFile      = Dir + "/skydns-api.conf"
	ScannerFile  = Dir + "/skydns-scanner.conf"
	ScheduleFile = Dir + "/skydns-schedule.conf"
)

// EmbeddedServer as the only etcd-servers entry runs etcd inside the daemon.
const EmbeddedServer = "embedded"

// Etcd is the [Etcd] section every daemon shares.
type Etcd struct {
	Servers         []string      `ini:"etcd-servers" alias:"etcd-machine" sep:"," default:"http://127.0.0.1:2379" help:"etcd client URLs, comma-separated; the single value embedded runs etcd inside the daemon (local stack only)"`
	CAFile          string        `ini:"etcd-cafile" alias:"ca-cert" default:"" help:"CA bundle to verify etcd's server certificate; empty: system roots when a URL is https"`
	CertFile        string        `ini:"etcd-certfile" alias:"tls-pem" default:"" help:"client certificate for etcd; set together with etcd-keyfile; empty: no client certificate"`
	KeyFile         string        `ini:"etcd-keyfile" alias:"tls-key" default:"" help:"private key of etcd-certfile"`
	DialTimeout     time.Duration `ini:"etcd-dial-timeout" unit:"s" default:"5s" help:"how long to wait for a connection to etcd"`
	RequestTimeout  time.Duration `ini:"etcd-request-timeout" unit:"s" default:"5s" help:"how long one etcd request may take"`
	Prefix          string        `ini:"etcd-prefix" default:"/skydns" help:"etcd key prefix under which DNS records are stored"`
	EmbeddedDataDir string        `ini:"embedded-data-dir" default:"/var/lib/skydns/etcd" help:"data directory of the embedded etcd; used only when etcd-servers is embedded"`
	// Other daemons of the local stack reach the embedded etcd here, so it
	// needs a fixed default port rather than a free one.
	EmbeddedClientAddr string `ini:"embedded-client-addr" default:"127.0.0.1:2379" help:"address the embedded etcd serves clients on, host:port; used only when etcd-servers is embedded"`
}

// Embedded reports whether the daemon should run etcd in-process.
func (e Etcd) Embedded() bool {
	return len(e.Servers) == 1 && strings.EqualFold(e.Servers[0], EmbeddedServer)
}

func (e Etcd) check(p *problems, sec string) {
	if len(e.Servers) == 0 {
		p.add(sec, "etcd-servers", "empty, want etcd URLs or %s", EmbeddedServer)
	}
	for _, s := range e.Servers {
		if strings.EqualFold(s, EmbeddedServer) {
			if len(e.Servers) > 1 {
				p.add(sec, "etcd-servers", "%s cannot be combined with other servers", EmbeddedServer)
			}
			continue
		}
		if msg := urlProblem(s); msg != "" {
			p.add(sec, "etcd-servers", "bad server %q: %s", s, msg)
		}
	}
	if e.CertFile != "" && e.KeyFile == "" {
		p.add(sec, "etcd-keyfile", "empty, but etcd-certfile is set")
	}
	if e.KeyFile != "" && e.CertFile == "" {
		p.add(sec, "etcd-certfile", "empty, but etcd-keyfile is set")
	}
	checkPositive(p, sec, "etcd-dial-timeout", e.DialTimeout)
	checkPositive(p, sec, "etcd-request-timeout", e.RequestTimeout)
	checkEtcdPath(p, sec, "etcd-prefix", e.Prefix)
	if e.Embedded() && e.EmbeddedDataDir == "" {
		p.add(sec, "embedded-data-dir", "empty, but etcd-servers is %s", EmbeddedServer)
	}
	// Port 0 (a free port) is allowed for tests that read the endpoint back.
	if _, port, err := net.SplitHostPort(e.EmbeddedClientAddr); err != nil || port != "0" {
		checkAddr(p, sec, "embedded-client-addr", e.EmbeddedClientAddr)
	}
}

// MonitorPaths are the etcd directories the scanner and the scheduler
// share. They are absolute etcd keys, independent of etcd-prefix. Only the
// scheduler uses status-path (the scanner writes reports, not statuses);
// it must match ip-monitor-path in skydns.conf and skydns-api.conf.
type MonitorPaths struct {
	StatusPath string `ini:"status-path" default:"/skydns/monitor/status/" help:"etcd directory of the health status of each IP, written by the skydns-schedule leader; ip-monitor-path of skydns.conf and skydns-api.conf must equal the schedule's. skydns-scanner does not use it"`
	ReportPath string `ini:"report-path" default:"/skydns/monitor/report/" help:"etcd directory where scanners report their probe results"`
	HeartPath  string `ini:"heart-path" alias:"agent-path" default:"/skydns/monitor/agent/" help:"etcd directory of scanner heartbeats"`
	JobPath    string `ini:"job-path" default:"/skydns/monitor/job/" help:"etcd directory of the probe jobs assigned to each scanner"`
}

func (m MonitorPaths) checkPaths(p *problems, sec string) {
	checkEtcdPath(p, sec, "status-path", m.StatusPath)
	checkEtcdPath(p, sec, "report-path", m.ReportPath)
	checkEtcdPath(p, sec, "heart-path", m.HeartPath)
	checkEtcdPath(p, sec, "job-path", m.JobPath)
}

// Log is the [Log] section every daemon shares.
type Log struct {
	Level   string `ini:"log-level" default:"info" help:"debug, info, warn or error; the numbers 0 to 3 of old files mean the same, in that order"`
	Format  string `ini:"log-format" default:"text" help:"text or json"`
	Dir     string `ini:"log-dir" default:"" help:"directory for <program>.log; empty: log to stdout"`
	ToStdio bool   `ini:"log-to-stdio" default:"false" help:"when log-dir is set, also copy every line to stdout"`
}

// ParseLogLevel reads a log-level value.
func ParseLogLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug", "0":
		return slog.LevelDebug, nil
	case "info", "1":
		return slog.LevelInfo, nil
	case "warn", "warning", "2":
		return slog.LevelWarn, nil
	case "error", "3":
		return slog.LevelError, nil
	}
	return slog.LevelInfo, fmt.Errorf("unknown log level %q (want debug, info, warn, error or 0-3)", s)
}

// SlogLevel is Level as a slog level; info if Level is not valid, which
// Validate rules out.
func (l Log) SlogLevel() slog.Level {
	lv, _ := ParseLogLevel(l.Level)
	return lv
}

func (l Log) check(p *problems, sec string) {
	if _, err := ParseLogLevel(l.Level); err != nil {
		p.add(sec, "log-level", "%s", err)
	}
	checkOneOf(p, sec, "log-format", l.Format, "text", "json")
}

// Hostname is configured, or the OS hostname when configured is empty, or
// "localhost" when the OS has none to give.
func Hostname(configured string) string {
	if configured != "" {
		return configured
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

// History holds the keys of the operators' history (<etcd-prefix>/events/),
// in [General] of skydns-schedule.conf and skydns-api.conf: each writer
// keeps what it writes within them.
type History struct {
	EventsRetention time.Duration `ini:"events-retention" unit:"s" default:"168h" help:"how long the history keeps an event (status changes the schedule decides, writes through the API), as an etcd lease shared by the events of an hour (less when the retention is short): an event goes between this time and an hour later; 0: write no events"`
	EventsMax       int           `ini:"events-max" default:"100000" help:"most events kept in the history: beyond it the writer deletes the oldest"`
}

func (h History) check(p *problems, sec string) {
	if h.EventsRetention < 0 {
		p.add(sec, "events-retention", "must not be negative, got %v", h.EventsRetention)
	}
	if h.EventsRetention > 0 && h.EventsRetention < time.Second {
		p.add(sec, "events-retention", "must be 0 (no history) or at least 1s, got %v", h.EventsRetention)
	}
	checkMin(p, sec, "events-max", h.EventsMax, 1)
}
