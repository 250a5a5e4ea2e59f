package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/miekg/dns"
)

// Listener serves DNS on one address over UDP and TCP.
type Listener struct {
	udp, tcp *dns.Server
	addr     string
	errc     chan error
}

// Listen binds UDP and TCP on addr (port 0: the same free port for both)
// and starts serving h.
func Listen(addr string, h dns.Handler) (*Listener, error) {
	var pc net.PacketConn
	var ln net.Listener
	var err error
	// With port 0 the kernel picks the UDP port; TCP must get the same one,
	// which another process may hold: try a few times.
	for range 20 {
		pc, err = net.ListenPacket("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("dns: listen udp %s: %w", addr, err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		if _, port, _ := net.SplitHostPort(addr); port != "0" {
			return nil, fmt.Errorf("dns: listen tcp %s: %w", addr, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("dns: listen tcp %s: %w", addr, err)
	}
	l := &Listener{addr: pc.LocalAddr().String(), errc: make(chan error, 2)}
	l.udp = &dns.Server{PacketConn: pc, Handler: h, UDPSize: 65535}
	l.tcp = &dns.Server{Listener: ln, Handler: h, IdleTimeout: func() time.Duration { return 10 * time.Second }}
	started := make(chan struct{}, 2)
	l.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	l.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go func() { l.errc <- l.udp.ActivateAndServe() }()
	go func() { l.errc <- l.tcp.ActivateAndServe() }()
	for range 2 {
		select {
		case <-started:
		case err := <-l.errc:
			l.Shutdown(context.Background())
			return nil, fmt.Errorf("dns: serve %s: %w", addr, err)
		}
	}
	return l, nil
}

// Addr is the bound address (host:port), the same for UDP and TCP.
func (l *Listener) Addr() string { return l.addr }

// Shutdown stops accepting queries and waits for those in flight, up to ctx.
func (l *Listener) Shutdown(ctx context.Context) error {
	return errors.Join(l.udp.ShutdownContext(ctx), l.tcp.ShutdownContext(ctx))
}
