package probe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	probing "github.com/prometheus-community/pro-bing"
)

// ICMPMode is how echo requests are sent.
type ICMPMode int

const (
	// ICMPOff: no way to ping here; ICMP checks are skipped.
	ICMPOff ICMPMode = iota
	// ICMPPrivileged: raw sockets (root or CAP_NET_RAW).
	ICMPPrivileged
	// ICMPUnprivileged: datagram ICMP sockets, which Linux allows to the
	// groups in net.ipv4.ping_group_range.
	ICMPUnprivileged
)

func (m ICMPMode) String() string {
	switch m {
	case ICMPPrivileged:
		return "privileged"
	case ICMPUnprivileged:
		return "unprivileged"
	}
	return "off"
}

// DetectICMP finds how this process may ping: datagram ICMP sockets where
// the system allows them (net.ipv4.ping_group_range), else raw sockets
// when it has the privilege (root or CAP_NET_RAW), else not at all, with
// the reason. Datagram sockets come first even for root because they are
// much cheaper per ping: the kernel hands each reply to its own socket,
// while every raw socket sees every ICMP packet and pro-bing must attach
// a BPF filter to each one it opens (about half the cost of a ping).
func DetectICMP() (ICMPMode, error) {
	if canOpen(syscall.SOCK_DGRAM) == nil {
		return ICMPUnprivileged, nil
	}
	err := canOpen(syscall.SOCK_RAW)
	if err == nil {
		return ICMPPrivileged, nil
	}
	return ICMPOff, fmt.Errorf("no datagram ICMP socket (net.ipv4.ping_group_range excludes this group) "+
		"and no raw ICMP socket (not root, no CAP_NET_RAW): %w", err)
}

func canOpen(typ int) error {
	fd, err := syscall.Socket(syscall.AF_INET, typ, syscall.IPPROTO_ICMP)
	if err != nil {
		return err
	}
	return syscall.Close(fd)
}

var errNoReply = errors.New("no echo reply")

// icmp sends up to PingCount echo requests to ip and succeeds on the first
// reply.
func (p *Prober) icmp(ctx context.Context, ip netip.Addr) error {
	start := time.Now()
	err := p.ping(ctx, ip)
	p.m.observe(ICMP, start, err)
	return err
}

func (p *Prober) ping(ctx context.Context, ip netip.Addr) error {
	pg := probing.New("")
	pg.SetIPAddr(&net.IPAddr{IP: ip.AsSlice()})
	pg.SetPrivileged(p.o.ICMPMode == ICMPPrivileged)
	pg.SetLogger(probing.NoopLogger{})
	pg.Count = p.o.PingCount
	pg.Timeout = p.o.PingTimeout
	// Spread the requests over the timeout, so that the last one still has
	// time for its reply.
	pg.Interval = max(p.o.PingTimeout/time.Duration(p.o.PingCount), time.Millisecond)
	pg.OnRecv = func(*probing.Packet) { pg.Stop() }
	err := pg.RunWithContext(ctx)
	if pg.Statistics().PacketsRecv > 0 {
		return nil
	}
	if err != nil {
		return err
	}
	return errNoReply
}
