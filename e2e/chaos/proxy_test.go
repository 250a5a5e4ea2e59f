package chaos

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// proxy relays TCP to one etcd member, for its clients or its peers. Cut
// refuses everything (the member is unreachable); deny refuses the peer
// connections that one member opens (rafthttp names its sender in
// X-Server-From), so that isolating a member cuts both directions while
// the other two keep talking.
type proxy struct {
	ln     net.Listener
	target string
	peer   bool

	mu    sync.Mutex
	cut   bool
	deny  map[string]bool
	conns map[net.Conn]string // relayed connection -> sender (peers only)
}

func newProxy(target string, peer bool) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, target: target, peer: peer, deny: map[string]bool{}, conns: map[net.Conn]string{}}
	go p.serve()
	return p, nil
}

func (p *proxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) close() { p.ln.Close(); p.setCut(true) }

func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

func (p *proxy) setDeny(sender string, deny bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.deny[sender] = deny
	if deny {
		for c, s := range p.conns {
			if s == sender {
				c.Close()
				delete(p.conns, c)
			}
		}
	}
}

func (p *proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.relay(in)
	}
}

func (p *proxy) relay(in net.Conn) {
	var head []byte
	sender := ""
	if p.peer {
		// Read the first request's header to learn the sender; every byte
		// read is kept and forwarded.
		var buf bytes.Buffer
		in.SetReadDeadline(time.Now().Add(5 * time.Second))
		req, err := http.ReadRequest(bufio.NewReader(io.TeeReader(in, &buf)))
		in.SetReadDeadline(time.Time{})
		if err != nil {
			in.Close()
			return
		}
		sender = req.Header.Get("X-Server-From")
		head = buf.Bytes()
	}
	p.mu.Lock()
	refused := p.cut || p.deny[sender]
	p.mu.Unlock()
	if refused {
		in.Close()
		return
	}
	out, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		in.Close()
		return
	}
	p.mu.Lock()
	if p.cut || p.deny[sender] {
		p.mu.Unlock()
		in.Close()
		out.Close()
		return
	}
	p.conns[in], p.conns[out] = sender, sender
	p.mu.Unlock()
	if _, err := out.Write(head); err != nil {
		in.Close()
		out.Close()
	}
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
