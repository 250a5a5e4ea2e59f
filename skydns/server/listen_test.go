package server

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

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
