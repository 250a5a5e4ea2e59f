// Command burst measures how many queries a DNS server loses when a burst
// arrives while it is off its CPU: it stops the server (SIGSTOP), sends
// -n queries over UDP to a loopback address, resumes it (SIGCONT) and
// counts the answers. What is lost overflowed the socket's receive buffer.
//
//	burst -server 127.0.0.1:5353 -pid PID -name cctv2.skydns.local. -n 20000
package main

import (
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

func main() {
	server := flag.String("server", "127.0.0.1:5353", "DNS server, loopback host:port")
	pid := flag.Int("pid", 0, "the server's process id, stopped during the burst")
	name := flag.String("name", "cctv2.skydns.local.", "name to ask for (A)")
	n := flag.Int("n", 20000, "queries in the burst (at most 65536)")
	wait := flag.Duration("wait", 2*time.Second, "how long to collect answers after resuming")
	flag.Parse()
	ap, err := netip.ParseAddrPort(*server)
	if err != nil || !ap.Addr().IsLoopback() || *pid <= 0 || *n < 1 || *n > 65536 {
		fmt.Fprintln(os.Stderr, "burst: need -server on loopback, -pid, and 1 <= -n <= 65536")
		os.Exit(2)
	}
	if err := run(ap, *pid, *name, *n, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "burst:", err)
		os.Exit(1)
	}
}

func run(server netip.AddrPort, pid int, name string, n int, wait time.Duration) error {
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(server))
	if err != nil {
		return err
	}
	defer c.Close()
	// The answers wait in our own buffer while we send: make it big enough
	// that only the server's buffer is measured.
	c.SetReadBuffer(64 << 20)
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeA)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		return err
	}
	resumed := false
	defer func() {
		if !resumed {
			syscall.Kill(pid, syscall.SIGCONT)
		}
	}()
	for i := range n {
		m.Id = uint16(i)
		b, err := m.Pack()
		if err != nil {
			return err
		}
		if _, err := c.Write(b); err != nil {
			return err
		}
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		return err
	}
	resumed = true
	seen := make([]bool, 65536)
	got := 0
	buf := make([]byte, 4096)
	deadline := time.Now().Add(wait)
	for got < n {
		c.SetReadDeadline(deadline)
		k, err := c.Read(buf)
		if err != nil {
			break // the deadline: whatever has not come is lost
		}
		var r dns.Msg
		if r.Unpack(buf[:k]) != nil || seen[r.Id] {
			continue
		}
		seen[r.Id] = true
		got++
	}
	fmt.Printf("sent=%d answered=%d lost=%d\n", n, got, n-got)
	return nil
}
