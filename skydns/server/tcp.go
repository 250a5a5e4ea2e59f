package server

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

const (
	// defaultMaxTCPConns: TCP is the fallback for truncated answers, a
	// small share of the queries; a thousand connections each held for the
	// idle timeout serve thousands of such retries a second, and with a
	// goroutine and at most one 64 KiB message each stay under 100 MB.
	defaultMaxTCPConns = 1000
	// defaultTCPReadTimeout is how long a new connection has to deliver
	// its first whole message, and defaultTCPIdleTimeout how long it may
	// then wait for the next one. Each message must arrive whole within
	// it: a client that trickles bytes is cut off, not waited for.
	defaultTCPReadTimeout = 2 * time.Second
	defaultTCPIdleTimeout = 10 * time.Second
	// defaultTCPWriteTimeout is how long an answer may take to leave: a
	// client that sends queries and never reads the answers would
	// otherwise hold its connection (and a slot of the cap) for ever, the
	// write blocked on a full socket buffer.
	defaultTCPWriteTimeout = 2 * time.Second
	// tcpFirstRead is what a message gets before its bytes have arrived;
	// the buffer then doubles with what does arrive, up to the length the
	// client announced: the announced length alone buys nothing.
	tcpFirstRead = 512
	// acceptBackoffMin and acceptBackoffMax bound the pause after a failed
	// accept (EMFILE, ENFILE, ENOBUFS): retrying at once spins a CPU and
	// frees nothing.
	acceptBackoffMin = 5 * time.Millisecond
	acceptBackoffMax = time.Second
)

// tcpListener caps the connections open at once: one past the cap is
// accepted and closed at once, so the client learns now (and may try
// another server) rather than after a timeout in the kernel's backlog. A
// failing accept is retried after a pause that doubles, instead of at once.
type tcpListener struct {
	net.Listener
	max          int64
	writeTimeout time.Duration
	open         atomic.Int64
	metrics      *Metrics
	done         chan struct{}
	once         sync.Once
}

func newTCPListener(ln net.Listener, max int, writeTimeout time.Duration, m *Metrics) *tcpListener {
	return &tcpListener{Listener: ln, max: int64(max), writeTimeout: writeTimeout, metrics: m, done: make(chan struct{})}
}

func (l *tcpListener) Accept() (net.Conn, error) {
	var pause time.Duration
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			l.metrics.tcpAcceptErrors.Inc()
			pause = min(max(2*pause, acceptBackoffMin), acceptBackoffMax)
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				return nil, net.ErrClosed
			}
			continue
		}
		pause = 0
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			l.metrics.tcpRefused.Inc() // before the client can see the close
			c.Close()
			continue
		}
		l.metrics.tcpConns.Inc()
		return &tcpConn{Conn: c, l: l}, nil
	}
}

func (l *tcpListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// tcpConn gives its slot back when closed, and bounds each write: miekg/dns
// sets no write deadline.
type tcpConn struct {
	net.Conn
	l      *tcpListener
	closed atomic.Bool
}

// Write fails after the write timeout, and then closes the connection:
// miekg/dns would go on reading the next query of a client that does not
// read its answers, and block again.
func (c *tcpConn) Write(b []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.l.writeTimeout))
	n, err := c.Conn.Write(b)
	if err != nil {
		c.Conn.Close()
	}
	return n, err
}

func (c *tcpConn) Close() error {
	if !c.closed.Swap(true) {
		c.l.open.Add(-1)
		c.l.metrics.tcpConns.Dec()
	}
	return c.Conn.Close()
}

// tcpReader reads each TCP message as its bytes arrive, in place of
// miekg/dns's reader, which allocates the announced length (up to 64 KiB)
// from the 2-byte prefix alone. UDP never comes through miekg/dns here.
type tcpReader struct {
	// mu and closing keep a read from pushing back the deadline Shutdown
	// sets in the past to wake the connections (miekg/dns guards its own
	// reader the same way).
	mu      sync.RWMutex
	closing bool
}

func (r *tcpReader) ReadTCP(conn net.Conn, timeout time.Duration) ([]byte, error) {
	r.mu.RLock()
	if r.closing {
		r.mu.RUnlock()
		return nil, net.ErrClosed
	}
	conn.SetReadDeadline(time.Now().Add(timeout))
	r.mu.RUnlock()
	return readTCPMsg(conn)
}

// ReadUDP is never called: UDP is served by udpServer.
func (r *tcpReader) ReadUDP(*net.UDPConn, time.Duration) ([]byte, *dns.SessionUDP, error) {
	return nil, nil, errors.New("dns: tcpReader reads TCP only")
}

// stop makes later reads fail; the caller then wakes those under way.
func (r *tcpReader) stop() {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
}

// readTCPMsg reads one length-prefixed message, growing its buffer only
// as the bytes arrive.
func readTCPMsg(conn io.Reader) ([]byte, error) {
	var prefix [2]byte
	if _, err := io.ReadFull(conn, prefix[:]); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(prefix[:]))
	m := make([]byte, 0, min(n, tcpFirstRead))
	for len(m) < n {
		if len(m) == cap(m) {
			m = slices.Grow(m, min(n, 2*cap(m))-len(m))
		}
		// Never past n: the bytes after it are the next message's.
		k, err := conn.Read(m[len(m):min(cap(m), n)])
		m = m[:len(m)+k]
		if err != nil && len(m) < n {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return m, nil
}
