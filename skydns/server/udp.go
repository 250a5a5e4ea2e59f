package server

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/miekg/dns"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// batch is how many datagrams one system call reads or writes.
const batch = 32

// udpServer reads queries in batches (recvmmsg), answers the plain ones on
// the fast path in the reading goroutine, and writes the answers in
// batches (sendmmsg). Other queries go to ServeDNS in their own goroutine,
// since one of them may wait on a forwarder.
type udpServer struct {
	h     *Handler
	conns []*net.UDPConn
	// pktinfo: bound to a wildcard address, replies must leave from the
	// address each query came to, which the kernel tells per datagram.
	pktinfo bool
	wg      sync.WaitGroup
	slow    sync.WaitGroup
	// inSlow counts the queries on the reference path now; each is a
	// goroutine that may wait for a forwarder, so they are capped.
	inSlow atomic.Int64
}

// listenUDP opens n sockets on addr with SO_REUSEPORT, so that the kernel
// spreads queries over n reading goroutines. Port 0 picks one port for all.
func listenUDP(addr string, n, rcvbuf int) ([]*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			if serr == nil && rcvbuf > 0 {
				setReceiveBuffer(int(fd), rcvbuf)
			}
		})
		return errors.Join(err, serr)
	}}
	var conns []*net.UDPConn
	for i := range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, err
		}
		conns = append(conns, pc.(*net.UDPConn))
		if i == 0 {
			addr = pc.LocalAddr().String()
		}
	}
	return conns, nil
}

// setReceiveBuffer asks for a receive buffer of n bytes. SO_RCVBUFFORCE
// (root, or CAP_NET_ADMIN) may exceed net.core.rmem_max; otherwise the
// kernel caps SO_RCVBUF at rmem_max, which ReceiveBuffer reports.
func setReceiveBuffer(fd, n int) {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, n) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, n)
	}
}

// ReceiveBuffer is the receive buffer the kernel gave the first UDP socket,
// in bytes of payload (the kernel reports double, half of it being its own
// bookkeeping).
func (l *Listener) ReceiveBuffer() int {
	rc, err := l.udp.conns[0].SyscallConn()
	if err != nil {
		return 0
	}
	var n int
	rc.Control(func(fd uintptr) { n, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF) })
	return n / 2
}

func newUDPServer(h *Handler, conns []*net.UDPConn) *udpServer {
	s := &udpServer{h: h, conns: conns}
	if ap, err := netip.ParseAddrPort(conns[0].LocalAddr().String()); err == nil {
		s.pktinfo = ap.Addr().IsUnspecified()
	}
	return s
}

func (s *udpServer) start() {
	for _, c := range s.conns {
		s.wg.Go(func() { s.serve(c) })
	}
}

// batchConn is the part of ipv4.PacketConn and ipv6.PacketConn we use.
type batchConn interface {
	ReadBatch([]ipv4.Message, int) (int, error)
	WriteBatch([]ipv4.Message, int) (int, error)
}

func (s *udpServer) serve(c *net.UDPConn) {
	v4 := true
	if ap, err := netip.ParseAddrPort(c.LocalAddr().String()); err == nil && ap.Addr().Is6() && !ap.Addr().Is4In6() {
		v4 = false
	}
	var bc batchConn
	if v4 {
		p := ipv4.NewPacketConn(c)
		if s.pktinfo {
			_ = p.SetControlMessage(ipv4.FlagDst|ipv4.FlagInterface, true)
		}
		bc = p
	} else {
		p := ipv6.NewPacketConn(c)
		if s.pktinfo {
			_ = p.SetControlMessage(ipv6.FlagDst|ipv6.FlagInterface, true)
		}
		bc = p
	}

	in := make([]ipv4.Message, batch)
	out := make([]ipv4.Message, batch)
	outBufs := make([][]byte, batch)
	outOOB := make([][]byte, batch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, 4096)}
		outBufs[i] = make([]byte, int(s.h.cfg.MaxUDPSize))
		out[i].Buffers = [][]byte{nil}
		if s.pktinfo {
			in[i].OOB = make([]byte, 128)
			outOOB[i] = make([]byte, 0, 128)
		}
	}
	scratch := make([]byte, 256)
	var cm4 ipv4.ControlMessage
	var cm6 ipv6.ControlMessage
	for {
		n, err := bc.ReadBatch(in, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		k := 0
		for i := range n {
			m := &in[i]
			pkt := m.Buffers[0][:m.N]
			ua, _ := m.Addr.(*net.UDPAddr)
			if ua == nil {
				continue
			}
			from := ua.AddrPort().Addr().Unmap()
			var oob []byte
			if s.pktinfo {
				oob = replyOOB(outOOB[k][:0], v4, m.OOB[:m.NN], &cm4, &cm6)
			}
			if resp, ok := s.h.fast(outBufs[k][:0], pkt, scratch, from); ok {
				out[k].Buffers[0] = resp
				out[k].Addr = m.Addr
				out[k].OOB = oob
				k++
				continue
			}
			if s.inSlow.Add(1) > int64(s.h.cfg.MaxSlowQueries) {
				// Dropped like a datagram the kernel had no room for: the
				// client retries, and the queries already taken finish.
				s.inSlow.Add(-1)
				s.h.metrics.udpDropped.Inc()
				continue
			}
			// The reference path keeps the packet, and oob, beyond this
			// batch: both are in buffers the next read reuses.
			cp := append([]byte(nil), pkt...)
			oob = append([]byte(nil), oob...)
			s.slow.Go(func() {
				defer s.inSlow.Add(-1)
				s.serveSlow(c, cp, ua, oob)
			})
		}
		for sent := 0; sent < k; {
			w, err := bc.WriteBatch(out[sent:k], 0)
			if err != nil {
				s.h.metrics.writeErrors.Add(float64(k - sent))
				break
			}
			sent += w
		}
	}
}

// replyOOB appends to dst the control message that sends a reply from the
// address the query arrived at. The kernel's own packet-info message says
// exactly that when sent back (in_pktinfo's spec_dst and ifindex,
// in6_pktinfo's addr and ifindex), so the common case is a copy with no
// allocation; anything else is parsed and built again.
func replyOOB(dst []byte, v4 bool, oob []byte, cm4 *ipv4.ControlMessage, cm6 *ipv6.ControlMessage) []byte {
	if onlyPktinfo(v4, oob) {
		return append(dst, oob...)
	}
	if v4 {
		if cm4.Parse(oob) != nil || cm4.Dst == nil {
			return nil
		}
		return (&ipv4.ControlMessage{Src: cm4.Dst, IfIndex: cm4.IfIndex}).Marshal()
	}
	if cm6.Parse(oob) != nil || cm6.Dst == nil {
		return nil
	}
	return (&ipv6.ControlMessage{Src: cm6.Dst, IfIndex: cm6.IfIndex}).Marshal()
}

// onlyPktinfo reports whether oob holds one control message, IP_PKTINFO or
// IPV6_PKTINFO, and nothing else.
func onlyPktinfo(v4 bool, oob []byte) bool {
	level, typ, size := unix.IPPROTO_IP, unix.IP_PKTINFO, unix.SizeofInet4Pktinfo
	if !v4 {
		level, typ, size = unix.IPPROTO_IPV6, unix.IPV6_PKTINFO, unix.SizeofInet6Pktinfo
	}
	if len(oob) != unix.CmsgSpace(size) || len(oob) < unix.SizeofCmsghdr {
		return false
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	return int(h.Level) == level && int(h.Type) == typ && int(h.Len) == unix.CmsgLen(size)
}

// serveSlow answers one datagram on the reference path.
func (s *udpServer) serveSlow(c *net.UDPConn, pkt []byte, from *net.UDPAddr, oob []byte) {
	w := &udpWriter{conn: c, remote: from, oob: oob}
	req := new(dns.Msg)
	if err := req.Unpack(pkt); err != nil {
		formErr(w, pkt)
		return
	}
	if req.Response {
		return // never answer an answer: that is how reflection loops start
	}
	s.h.ServeDNS(w, req)
}

// formErr answers a packet that does not parse, if it has a query header
// to answer to.
func formErr(w dns.ResponseWriter, pkt []byte) {
	if len(pkt) < 12 || pkt[2]&0x80 != 0 {
		return
	}
	var h [12]byte
	copy(h[:2], pkt[:2])
	h[2] = 0x80 | pkt[2]&0x79 // QR, the opcode and RD as asked
	h[3] = dns.RcodeFormatError
	w.Write(h[:])
}

func (s *udpServer) shutdown() {
	for _, c := range s.conns {
		c.Close()
	}
	s.wg.Wait()
	s.slow.Wait()
}

// udpWriter is the dns.ResponseWriter of a datagram on the reference path.
type udpWriter struct {
	conn   *net.UDPConn
	remote *net.UDPAddr
	oob    []byte
}

func (w *udpWriter) LocalAddr() net.Addr  { return w.conn.LocalAddr() }
func (w *udpWriter) RemoteAddr() net.Addr { return w.remote }
func (w *udpWriter) WriteMsg(m *dns.Msg) error {
	b, err := m.Pack()
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
func (w *udpWriter) Write(b []byte) (int, error) {
	n, _, err := w.conn.WriteMsgUDP(b, w.oob, w.remote)
	return n, err
}
func (w *udpWriter) Close() error        { return nil }
func (w *udpWriter) TsigStatus() error   { return nil }
func (w *udpWriter) TsigTimersOnly(bool) {}
func (w *udpWriter) Hijack()             {}
