// Package monitortest has what tests of health checking need, for the
// scanner and schedule packages and for anyone who wants a real
// health-checked stack in a test (the DNS server's failover test): TCP
// backends on loopback that can be killed and restarted, a recorder of
// every status change in etcd, helpers to write records and policies, and
// in-process schedules and agents with test-sized intervals.
//
// Backends live on 127.0.0.0/8 only (all of it is on lo), at random
// addresses, so that test packages running at the same time do not meet.
package monitortest

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Backend is a TCP listener on a loopback address that accepts and closes
// connections: a service the scanner can find up or down.
type Backend struct {
	t    testing.TB
	addr netip.AddrPort

	mu sync.Mutex
	ln net.Listener
}

// LoopbackIPs returns n distinct random addresses in 127.64.0.0/10, away
// from 127.0.0.1 and the small numbers other tests and the local stack use.
func LoopbackIPs(n int) []netip.Addr {
	seen := map[netip.Addr]bool{}
	var out []netip.Addr
	for len(out) < n {
		ip := netip.AddrFrom4([4]byte{127, byte(64 + rand.IntN(192)), byte(rand.IntN(256)), byte(1 + rand.IntN(254))})
		if !seen[ip] {
			seen[ip] = true
			out = append(out, ip)
		}
	}
	return out
}

// NewBackends starts n backends on distinct loopback addresses, all on one
// port (so that one check spec covers them), and stops them when the test
// ends.
func NewBackends(t testing.TB, n int) []*Backend {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		ips := LoopbackIPs(n)
		first, err := listen(netip.AddrPortFrom(ips[0], 0))
		if err != nil {
			continue
		}
		port := netip.MustParseAddrPort(first.Addr().String()).Port()
		bs := []*Backend{newBackend(t, netip.AddrPortFrom(ips[0], port), first)}
		ok := true
		for _, ip := range ips[1:] {
			ln, err := listen(netip.AddrPortFrom(ip, port))
			if err != nil {
				ok = false
				break
			}
			bs = append(bs, newBackend(t, netip.AddrPortFrom(ip, port), ln))
		}
		if ok {
			return bs
		}
		for _, b := range bs {
			b.Kill()
		}
	}
	t.Fatalf("monitortest: could not bind %d loopback backends", n)
	return nil
}

func newBackend(t testing.TB, addr netip.AddrPort, ln net.Listener) *Backend {
	b := &Backend{t: t, addr: addr, ln: ln}
	go serve(ln)
	t.Cleanup(b.Kill)
	return b
}

func listen(addr netip.AddrPort) (net.Listener, error) {
	return net.Listen("tcp", addr.String())
}

// serve accepts and closes until the listener closes.
func serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return
		}
		c.Close()
	}
}

// IP is the backend's address.
func (b *Backend) IP() netip.Addr { return b.addr.Addr() }

// Port is the backend's port.
func (b *Backend) Port() int { return int(b.addr.Port()) }

// Addr is IP and port.
func (b *Backend) Addr() netip.AddrPort { return b.addr }

// Up reports whether the backend is listening.
func (b *Backend) Up() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ln != nil
}

// Kill stops listening: connects are refused from now on.
func (b *Backend) Kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ln != nil {
		b.ln.Close()
		b.ln = nil
	}
}

// Restart listens again on the same address.
func (b *Backend) Restart() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ln != nil {
		return
	}
	var err error
	// The port is ours, but the kernel may take a moment to free it.
	for range 50 {
		var ln net.Listener
		ln, err = listen(b.addr)
		if err == nil {
			b.ln = ln
			go serve(ln)
			return
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.t.Fatalf("monitortest: restart %s: %v", b.addr, err)
}

// Failover kills each victim in turn and returns, for each, how long it
// took until gone(ip) returned: gone waits until the IP is seen gone
// (status DOWN in etcd, or out of the DNS answer) and returns when that
// was seen. Each victim is restarted and back(ip) waited for before the
// next. Targets have random phases in their probe rounds, so a kill lands
// anywhere in a round.
func Failover(victims []*Backend, gone, back func(ip netip.Addr) time.Time) []time.Duration {
	took := make([]time.Duration, 0, len(victims))
	for _, v := range victims {
		killed := time.Now()
		v.Kill()
		took = append(took, gone(v.IP()).Sub(killed))
		v.Restart()
		back(v.IP())
	}
	return took
}
