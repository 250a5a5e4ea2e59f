package forward

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/miekg/dns"
)

const (
	// udpBufSize is larger than the size advertised upstream so that a
	// server that ignores it by a little still gets through.
	udpBufSize = 4096
	// maxStrayPackets bounds how many packets with another ID one try
	// reads before giving up on the socket.
	maxStrayPackets = 8
	// Backoff of a server that did not answer: it is tried after the
	// others, from downMin doubling per failure up to downMax.
	downMin = 500 * time.Millisecond
	downMax = 30 * time.Second
)

// upstream is one server and what is known of its health.
type upstream struct {
	addr      string
	fails     atomic.Int32 // tries in a row with no usable reply
	downUntil atomic.Int64 // unix nanoseconds; tried last until then
}

// pool is the servers of the upstreams or of one stub zone.
type pool struct {
	servers []*upstream
	next    atomic.Uint32 // rotates the first server tried
}

func newPool(addrs []string) (*pool, error) {
	p := &pool{}
	seen := map[string]bool{}
	for _, a := range addrs {
		s, err := serverAddr(a)
		if err != nil {
			return nil, err
		}
		if !seen[s] {
			seen[s] = true
			p.servers = append(p.servers, &upstream{addr: s})
		}
	}
	if len(p.servers) == 0 {
		return nil, errors.New("list is empty")
	}
	return p, nil
}

// order is the sequence to try the servers in: starting one further along
// each time so the load spreads, with the servers in backoff moved after
// the rest so that a dead one costs nothing while others answer.
func (p *pool) order(now time.Time) []*upstream {
	n := len(p.servers)
	out := make([]*upstream, n)
	if n == 1 {
		out[0] = p.servers[0]
		return out
	}
	start := int(p.next.Add(1)-1) % n
	up, down := 0, n
	for i := range n {
		u := p.servers[(start+i)%n]
		if u.downUntil.Load() > now.UnixNano() {
			down--
			out[down] = u
		} else {
			out[up] = u
			up++
		}
	}
	// The down servers were filled from the end: restore their rotation.
	for i, j := down, n-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// failure is what one server did wrong, for the error returned when none
// answered.
type failure struct {
	addr string
	what string
}

type noAnswerError struct {
	name    string
	qtype   uint16
	fails   []failure
	untried int
	budget  time.Duration
}

func (e *noAnswerError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "forward: no upstream answered for %s %s: ", e.name, typeName(e.qtype))
	for i, f := range e.fails {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.addr + ": " + f.what)
	}
	if e.untried > 0 {
		if len(e.fails) > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%d more not tried within %v", e.untried, e.budget)
	}
	return b.String()
}

// fetch asks the servers of p in turn until one gives an answer other than
// SERVFAIL or REFUSED, all within the budget. The answer returned is
// settled: ready to be shared and cached.
func (f *Forwarder) fetch(k key, p *pool) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(f.ctx, f.timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()

	q := new(dns.Msg)
	q.Id = dns.Id()
	// Recursion is asked for even when the client did not: the client
	// asked SkyDNS, which forwards precisely so that someone recurses.
	q.RecursionDesired = true
	// RFC 6840 §5.7: AD in a query asks for the AD bit in the reply; it
	// is passed on only to clients that asked for it too.
	q.AuthenticatedData = true
	q.Question = []dns.Question{{Name: k.name, Qtype: k.qtype, Qclass: k.qclass}}
	q.SetEdns0(ednsSize, k.do)
	wire, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("forward: %s %s: %w", k.name, typeName(k.qtype), err)
	}

	order := p.order(time.Now())
	e := &noAnswerError{name: k.name, qtype: k.qtype, budget: f.timeout}
	for i, u := range order {
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			e.untried = len(order) - i
			break
		}
		// An equal share of what is left for each server not yet tried,
		// so a dead first server leaves time for the others.
		try := min(max(left/time.Duration(len(order)-i), minTryTimeout), left)
		r, err := f.ask(ctx, u, k, wire, q.Id, try)
		if err != nil {
			e.fails = append(e.fails, failure{u.addr, describe(err)})
			continue
		}
		if r.Rcode == dns.RcodeServerFailure || r.Rcode == dns.RcodeRefused {
			e.fails = append(e.fails, failure{u.addr, rcodeName(r.Rcode)})
			continue
		}
		settle(r, k, f.maxTTL)
		return r, nil
	}
	if f.ctx.Err() != nil {
		return nil, ErrClosed
	}
	return nil, e
}

// ask sends one question to one server: over UDP, then over TCP when the
// reply is truncated. Each transport gets try as its timeout.
func (f *Forwarder) ask(ctx context.Context, u *upstream, k key, wire []byte, id uint16, try time.Duration) (*dns.Msg, error) {
	start := time.Now()
	r, err := exchange(ctx, "udp", u.addr, wire, id, try)
	if err == nil && r.Truncated {
		r, err = exchange(ctx, "tcp", u.addr, wire, id, try)
	}
	if err == nil {
		err = check(r, k)
	}
	f.m.duration.Observe(time.Since(start).Seconds())
	if err != nil {
		reason := "network"
		if isTimeout(err) {
			reason = "timeout"
		}
		f.m.errors.WithLabelValues(u.addr, reason).Inc()
		f.markDown(ctx, u, err)
		return nil, err
	}
	if u.fails.Swap(0) > 0 {
		u.downUntil.Store(0)
		f.log.Info("forward: upstream answers again", "server", u.addr)
	}
	f.m.requests.WithLabelValues(u.addr, rcodeName(r.Rcode)).Inc()
	switch r.Rcode {
	case dns.RcodeServerFailure:
		f.m.errors.WithLabelValues(u.addr, "servfail").Inc()
	case dns.RcodeRefused:
		f.m.errors.WithLabelValues(u.addr, "refused").Inc()
	}
	if r.Rcode == dns.RcodeServerFailure || r.Rcode == dns.RcodeRefused {
		f.log.Debug("forward: upstream failed", "server", u.addr, "name", k.name,
			"type", typeName(k.qtype), "rcode", rcodeName(r.Rcode))
	}
	return r, nil
}

// markDown puts u in backoff after a try with no usable reply. Only the
// first failure in a row is logged above debug level, so a dead server
// does not flood the log.
func (f *Forwarder) markDown(ctx context.Context, u *upstream, err error) {
	if f.ctx.Err() != nil {
		// Closing, not the server's fault.
		return
	}
	n := u.fails.Add(1)
	d := min(downMin<<min(n-1, 6), downMax)
	u.downUntil.Store(time.Now().Add(d).UnixNano())
	level := slog.LevelDebug
	if n == 1 {
		level = slog.LevelWarn
	}
	f.log.Log(ctx, level, "forward: upstream did not answer", "server", u.addr,
		"error", describe(err), "failures", n, "backoff", d)
}

// exchange sends the packed query wire over network ("udp" or "tcp") and
// reads the reply with the given ID, within timeout and ctx.
func exchange(ctx context.Context, network, addr string, wire []byte, id uint16, timeout time.Duration) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// Deadlines stop a blocked read; the context alone would not.
	dl, _ := ctx.Deadline()
	if err := c.SetDeadline(dl); err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if network == "tcp" {
		co := &dns.Conn{Conn: c}
		if _, err := co.Write(wire); err != nil {
			return nil, err
		}
		r, err := co.ReadMsg()
		if err != nil {
			return nil, err
		}
		if r.Id != id {
			return nil, dns.ErrId
		}
		return r, nil
	}

	if _, err := c.Write(wire); err != nil {
		return nil, err
	}
	buf := make([]byte, udpBufSize)
	for range maxStrayPackets {
		n, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		if n < 12 || binary.BigEndian.Uint16(buf) != id {
			continue
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:n]); err != nil {
			// A server that cut the reply in the middle of a record still
			// says so with TC; TCP will bring the whole of it.
			if buf[2]&0x02 != 0 {
				return &dns.Msg{MsgHdr: dns.MsgHdr{Id: id, Truncated: true}}, nil
			}
			return nil, fmt.Errorf("malformed reply: %w", err)
		}
		return r, nil
	}
	return nil, errors.New("only replies with other IDs")
}

// check refuses a reply that does not answer the question asked.
func check(r *dns.Msg, k key) error {
	if !r.Response || r.Opcode != dns.OpcodeQuery {
		return errors.New("not a reply to a query")
	}
	if r.Rcode > 0xF {
		// Extended rcodes (BADVERS, BADCOOKIE) answer EDNS problems of
		// the query, never the question.
		return fmt.Errorf("reply with rcode %s", rcodeName(r.Rcode))
	}
	if len(r.Question) == 0 {
		// Some servers leave the question out of a refusal.
		if r.Rcode == dns.RcodeSuccess || r.Rcode == dns.RcodeNameError {
			return errors.New("reply without a question")
		}
		return nil
	}
	q := r.Question[0]
	if len(r.Question) != 1 || q.Qtype != k.qtype || q.Qclass != k.qclass || !strings.EqualFold(q.Name, k.name) {
		return errors.New("reply to another question")
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// describe words err for the error that lists the servers that failed,
// without the socket addresses net errors carry.
func describe(err error) string {
	if isTimeout(err) {
		return "i/o timeout"
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	return err.Error()
}
