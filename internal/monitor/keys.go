// Package monitor holds the etcd keys and values that skydns-scanner and
// skydns-schedule exchange, so that both sides read and write one format:
//
//	<heart-path><agent>        = Heartbeat          on the agent's lease
//	<job-path><agent>/<ip>     = Spec               written by the schedule leader
//	<report-path><ip>/<agent>  = health.Status      on the agent's lease
//	<status-path><ip>          = health.Status      written by the schedule leader
//	<override-path><ip>        = health.Override    written by operators (the API)
//
// With the default paths these are /skydns/monitor/agent/a1,
// /skydns/monitor/job/a1/192.0.2.1, /skydns/monitor/report/192.0.2.1/a1,
// /skydns/monitor/status/192.0.2.1 and /skydns/monitor/override/192.0.2.1.
// A job lives under its agent so that an agent watches one prefix for all
// of its work; a report lives under its IP so that the leader finds every
// vote on an IP side by side. The override path is the schedule's and the
// API's alone (the scanner never reads it), so it is not one of Paths but,
// like the lock path, a setting of its own.
package monitor

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"

	"github.com/skydns/skydns/internal/config"
	"github.com/skydns/skydns/internal/health"
)

// Paths are the monitor directories, each ending in "/".
type Paths struct {
	Status, Report, Heart, Job string
}

// PathsFrom normalizes the configured directories.
func PathsFrom(m config.MonitorPaths) Paths {
	return Paths{
		Status: dir(m.StatusPath), Report: dir(m.ReportPath),
		Heart: dir(m.HeartPath), Job: dir(m.JobPath),
	}
}

// DefaultPaths are the paths of an unconfigured installation.
func DefaultPaths() Paths {
	return Paths{
		Status: "/skydns/monitor/status/", Report: "/skydns/monitor/report/",
		Heart: "/skydns/monitor/agent/", Job: "/skydns/monitor/job/",
	}
}

func dir(p string) string { return strings.TrimRight(p, "/") + "/" }

// DefaultOverridePath is override-path of an unconfigured installation.
const DefaultOverridePath = "/skydns/monitor/override/"

// OverrideDir normalizes a configured override path: one trailing "/",
// DefaultOverridePath when empty.
func OverrideDir(path string) string {
	if path == "" {
		return DefaultOverridePath
	}
	return dir(path)
}

// OverrideKey is the override key of ip under the override path.
func OverrideKey(path string, ip netip.Addr) string { return dir(path) + ip.String() }

// ParseOverrideKey returns the IP of an override key. Like the other
// keys, it takes an address without a zone, and reads an IPv4-mapped IPv6
// address as IPv4.
func ParseOverrideKey(path, key string) (netip.Addr, error) {
	rest, ok := strings.CutPrefix(key, dir(path))
	if !ok || strings.Trim(rest, "/") == "" || strings.Contains(strings.TrimSuffix(rest, "/"), "/") {
		return netip.Addr{}, fmt.Errorf("monitor: %q is not <override-path><ip>", key)
	}
	ip, err := parseIP(rest)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("monitor: override key %q: %w", key, err)
	}
	return ip, nil
}

// CheckAgentName says why name cannot name an agent: it is one key segment,
// so it may not be empty or hold a slash, and it is printed in logs and
// metric labels, so no spaces or control characters either.
func CheckAgentName(name string) error {
	if name == "" {
		return errors.New("monitor: agent name is empty")
	}
	if len(name) > 253 {
		return fmt.Errorf("monitor: agent name %.20q... is longer than 253 bytes", name)
	}
	for _, r := range name {
		if r == '/' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("monitor: agent name %q: %q is not allowed", name, r)
		}
	}
	return nil
}

// AgentKey is the heartbeat key of agent.
func (p Paths) AgentKey(agent string) string { return p.Heart + agent }

// ParseAgentKey returns the agent a heartbeat key belongs to.
func (p Paths) ParseAgentKey(key string) (string, error) {
	agent, ok := strings.CutPrefix(key, p.Heart)
	agent = strings.TrimSuffix(agent, "/")
	if !ok || CheckAgentName(agent) != nil {
		return "", fmt.Errorf("monitor: %q is not a heartbeat key under %s", key, p.Heart)
	}
	return agent, nil
}

// JobPrefix holds every job of agent.
func (p Paths) JobPrefix(agent string) string { return p.Job + agent + "/" }

// JobKey is the key of agent's job on ip.
func (p Paths) JobKey(agent string, ip netip.Addr) string { return p.JobPrefix(agent) + ip.String() }

// ParseJobKey returns the agent and the IP of a job key.
func (p Paths) ParseJobKey(key string) (string, netip.Addr, error) {
	rest, ok := strings.CutPrefix(key, p.Job)
	agent, ipText, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || CheckAgentName(agent) != nil {
		return "", netip.Addr{}, fmt.Errorf("monitor: %q is not <job-path><agent>/<ip>", key)
	}
	ip, err := parseIP(ipText)
	if err != nil {
		return "", netip.Addr{}, fmt.Errorf("monitor: job key %q: %w", key, err)
	}
	return agent, ip, nil
}

// ReportKey is the key of agent's verdict on ip.
func (p Paths) ReportKey(ip netip.Addr, agent string) string {
	return p.Report + ip.String() + "/" + agent
}

// ParseReportKey returns the IP and the agent of a report key.
func (p Paths) ParseReportKey(key string) (netip.Addr, string, error) {
	rest, ok := strings.CutPrefix(key, p.Report)
	ipText, agent, ok2 := strings.Cut(rest, "/")
	agent = strings.TrimSuffix(agent, "/")
	if !ok || !ok2 || CheckAgentName(agent) != nil {
		return netip.Addr{}, "", fmt.Errorf("monitor: %q is not <report-path><ip>/<agent>", key)
	}
	ip, err := parseIP(ipText)
	if err != nil {
		return netip.Addr{}, "", fmt.Errorf("monitor: report key %q: %w", key, err)
	}
	return ip, agent, nil
}

// StatusKey is the status key of ip.
func (p Paths) StatusKey(ip netip.Addr) string { return health.Key(p.Status, ip) }

// ParseStatusKey returns the IP of a status key.
func (p Paths) ParseStatusKey(key string) (netip.Addr, error) { return health.ParseKey(p.Status, key) }

// parseIP accepts the canonical text of an address only (no zone), so
// that one IP has one key.
func parseIP(s string) (netip.Addr, error) {
	s = strings.TrimSuffix(s, "/")
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, err
	}
	if ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("zoned address %q", s)
	}
	return ip.Unmap(), nil
}
