package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/miekg/dns"
)

// Listener serves DNS on one address over UDP and TCP.
type Listener struct {
	udp       *udpServer
	tcp       *dns.Server
	tcpReader *tcpReader
	addr      string
	errc      chan error
}

// Listen binds UDP and TCP on addr (port 0: the same free port for both)
// and starts serving h, with one UDP socket per CPU the process may use.
func Listen(addr string, h *Handler) (*Listener, error) {
	var conns []*net.UDPConn
	var ln net.Listener
	var err error
	// With port 0 the kernel picks the UDP port; TCP must get the same one,
	// which another process may hold: try a few times.
	for range 20 {
		conns, err = listenUDP(addr, runtime.GOMAXPROCS(0), h.cfg.UDPReceiveBuffer)
		if err != nil {
			return nil, fmt.Errorf("dns: listen udp %s: %w", addr, err)
		}
		ln, err = net.Listen("tcp", conns[0].LocalAddr().String())
		if err == nil {
			break
		}
		for _, c := range conns {
			c.Close()
		}
		if _, port, _ := net.SplitHostPort(addr); port != "0" {
			return nil, fmt.Errorf("dns: listen tcp %s: %w", addr, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("dns: listen tcp %s: %w", addr, err)
	}
	l := &Listener{addr: conns[0].LocalAddr().String(), errc: make(chan error, 1)}
	l.udp = newUDPServer(h, conns)
	l.udp.start()
	l.tcpReader = &tcpReader{}
	l.tcp = &dns.Server{
		Listener: newTCPListener(ln, h.cfg.MaxTCPConns, h.cfg.TCPWriteTimeout, h.metrics), Handler: h,
		ReadTimeout: h.cfg.TCPReadTimeout, IdleTimeout: func() time.Duration { return h.cfg.TCPIdleTimeout },
		DecorateReader: func(dns.Reader) dns.Reader { return l.tcpReader },
	}
	started := make(chan struct{}, 1)
	l.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go func() { l.errc <- l.tcp.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-l.errc:
		l.Shutdown(context.Background())
		return nil, fmt.Errorf("dns: serve %s: %w", addr, err)
	}
	return l, nil
}

// Addr is the bound address (host:port), the same for UDP and TCP.
func (l *Listener) Addr() string { return l.addr }

// Shutdown stops accepting queries and waits for those in flight, up to ctx.
func (l *Listener) Shutdown(ctx context.Context) error {
	l.tcpReader.stop()
	err := l.tcp.ShutdownContext(ctx)
	done := make(chan struct{})
	go func() { l.udp.shutdown(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, ctx.Err())
	}
	return err
}
