package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
)

// backends are the sample services: one TCP listener per loopback IP, all
// on one port, that the scanner probes for real. Stopping one is how a
// newcomer kills a backend and watches it leave the DNS answers; starting
// it again brings it back.
type backends struct {
	port string

	mu        sync.Mutex
	listeners map[string]net.Listener // by IP; nil while stopped
}

func newBackends(port string) *backends {
	return &backends{port: port, listeners: map[string]net.Listener{}}
}

// start listens on ip; starting a running backend is a no-op.
func (b *backends) start(ip string) error {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.IsLoopback() {
		// The stack probes what it serves: anything but loopback would send
		// the scanner's probes off this machine.
		return fmt.Errorf("backend %q: not a loopback IP", ip)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.listeners[ip] != nil {
		return nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(ip, b.port))
	if err != nil {
		return fmt.Errorf("backend %s: %w", ip, err)
	}
	b.listeners[ip] = l
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return nil
}

// stop closes ip's listener, so connections to it are refused.
func (b *backends) stop(ip string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.listeners[ip]
	if !ok {
		return fmt.Errorf("backend %q: no such backend", ip)
	}
	if l != nil {
		l.Close()
		b.listeners[ip] = nil
	}
	return nil
}

func (b *backends) closeAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ip, l := range b.listeners {
		if l != nil {
			l.Close()
			b.listeners[ip] = nil
		}
	}
}

// state is each backend's IP and whether it listens.
func (b *backends) state() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]string, len(b.listeners))
	for ip, l := range b.listeners {
		out[ip] = "stopped"
		if l != nil {
			out[ip] = "listening"
		}
	}
	return out
}

// handler is the stack's control API:
//
//	GET  /backends               every backend and its state
//	POST /backends/{ip}/stop     kill a backend
//	POST /backends/{ip}/start    bring it back
func (b *backends) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /backends", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(b.state())
	})
	do := func(f func(string) error, done string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			ip := r.PathValue("ip")
			if err := f(ip); err != nil {
				code := http.StatusBadRequest
				if errors.Is(err, net.ErrClosed) {
					code = http.StatusInternalServerError
				}
				http.Error(w, err.Error(), code)
				return
			}
			fmt.Fprintf(w, "backend %s %s\n", ip, done)
		}
	}
	mux.HandleFunc("POST /backends/{ip}/stop", do(b.stop, "stopped"))
	mux.HandleFunc("POST /backends/{ip}/start", do(b.start, "started"))
	return mux
}
