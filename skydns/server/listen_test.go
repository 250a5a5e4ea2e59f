package server

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/skydns/skydns/skydns/zone"
)

// The UDP sockets get the receive buffer asked for, or, without the
// privilege to exceed net.core.rmem_max, as much as the kernel allows.
func TestUDPReceiveBuffer(t *testing.T) {
	const want = 1 << 20
	cfg := defaultConfig()
	cfg.UDPReceiveBuffer = want
	l, err := Listen("127.0.0.1:0", NewHandler(cfg, zone.New(zone.Options{}), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Shutdown(context.Background())
	limit := want
	if b, err := os.ReadFile("/proc/sys/net/core/rmem_max"); err == nil && unix.Geteuid() != 0 {
		if m, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && m < limit {
			limit = m
		}
	}
	if got := l.ReceiveBuffer(); got < limit {
		t.Fatalf("receive buffer %d bytes, want at least %d", got, limit)
	}

	cfg.UDPReceiveBuffer = 0
	d, err := Listen("127.0.0.1:0", NewHandler(cfg, zone.New(zone.Options{}), nil))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Shutdown(context.Background())
	if got := d.ReceiveBuffer(); got >= want {
		t.Fatalf("default receive buffer %d bytes; the test cannot tell it from the one asked for", got)
	}
}

// Bound to the wildcard address, a reply leaves from the address the
// query came to (a client on a connected socket drops anything else), and
// building that reply's control message allocates nothing.
func TestWildcardRepliesFromQueriedAddress(t *testing.T) {
	s := newHarness(t, defaultConfig())
	s.addA("w.skydns.local.", "192.0.2.61")
	s.eventually("loaded", "w.skydns.local.", dns.TypeA, sameIPs("192.0.2.61"))
	for _, tc := range []struct{ listen, ask string }{
		{"0.0.0.0:0", "127.0.0.5"},
		{"[::]:0", "::1"},
	} {
		l, err := Listen(tc.listen, s.h)
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(l.Addr())
		m := new(dns.Msg)
		m.SetQuestion("w.skydns.local.", dns.TypeA)
		c := &dns.Client{Timeout: 2 * time.Second}
		r, _, err := c.Exchange(m, net.JoinHostPort(tc.ask, port))
		l.Shutdown(context.Background())
		if err != nil || len(r.Answer) != 1 {
			t.Fatalf("bound to %s, asked at %s: %v %v", tc.listen, tc.ask, r, err)
		}
	}

	// What the kernel hands over for a query to 127.0.0.5 on ifindex 1.
	oob := make([]byte, unix.CmsgSpace(unix.SizeofInet4Pktinfo))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.IPPROTO_IP, unix.IP_PKTINFO
	h.SetLen(unix.CmsgLen(unix.SizeofInet4Pktinfo))
	dst := make([]byte, 0, 128)
	var cm4 ipv4.ControlMessage
	var cm6 ipv6.ControlMessage
	if n := testing.AllocsPerRun(100, func() { dst = replyOOB(dst[:0], true, oob, &cm4, &cm6) }); n != 0 {
		t.Fatalf("replyOOB allocates %v times", n)
	}
	if string(dst) != string(oob) {
		t.Fatal("the packet-info message is not sent back as received")
	}
}
