package etcdtest

import (
	"io"
	"net"
	"sync"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Proxy is a TCP relay between clients and the member that a test can cut
// and restore: a network partition, while etcd itself keeps running and
// accepting writes (and compactions) from clients that go around it.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
}

// Proxy starts a relay to the member on 127.0.0.1, closed when the test ends.
func (e *Etcd) Proxy() *Proxy {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatalf("etcdtest: proxy: %v", err)
	}
	p := &Proxy{ln: ln, target: e.addr, conns: map[net.Conn]struct{}{}}
	go p.serve()
	e.t.Cleanup(func() { ln.Close(); p.Cut() })
	return p
}

// Endpoints returns the proxy's client URL.
func (p *Proxy) Endpoints() []string { return []string{"http://" + p.ln.Addr().String()} }

// Client returns a client that goes through the proxy.
func (p *Proxy) Client(t testing.TB) *clientv3.Client { return newClient(t, p.Endpoints()) }

// Cut drops every relayed connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// Restore lets connections through again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

func (p *Proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.relay(in)
	}
}

func (p *Proxy) relay(in net.Conn) {
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		in.Close()
		return
	}
	p.mu.Unlock()
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		in.Close()
		return
	}
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		in.Close()
		out.Close()
		return
	}
	p.conns[in], p.conns[out] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go pipe(out, in)
	go pipe(in, out)
	<-done
	<-done
	p.mu.Lock()
	delete(p.conns, in)
	delete(p.conns, out)
	p.mu.Unlock()
}
