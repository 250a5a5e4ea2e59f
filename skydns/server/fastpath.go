package server

import (
	"encoding/binary"
	"net/netip"
	"time"
	"unsafe"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/skydns/zone"
)

// The fast path answers the common query, a plain A or AAAA for a name
// with addresses, straight from the request bytes into the response bytes:
// no unpacking, no dns.Msg, no allocation. Anything else, or anything it
// is unsure of, goes to the reference path (ServeDNS), which it must match
// byte for byte in meaning; a test compares the two on every case.

// wireQuery is what the fast path reads from a request.
type wireQuery struct {
	qend    int    // end of the question section in the request
	qtype   uint16 // A or AAAA
	rd      bool
	opt     bool   // the request has an OPT record (without options)
	do      bool   // its DO bit
	udpSize uint16 // its payload size
	nameLen int    // bytes of the lower-cased name in the scratch buffer
}

// parseWire reads a request that the fast path can answer, writing its
// name in lower case, dotted, with the final dot, into name. ok is false
// for anything unusual; the reference path then takes it.
func parseWire(pkt []byte, name []byte) (q wireQuery, ok bool) {
	if len(pkt) < 12+5 {
		return q, false
	}
	flags := binary.BigEndian.Uint16(pkt[2:])
	// QR=0, opcode QUERY, no TC; one question, no answers or authority,
	// at most an OPT record.
	if flags&0xf800 != 0 || flags&0x0200 != 0 ||
		binary.BigEndian.Uint16(pkt[4:]) != 1 || binary.BigEndian.Uint16(pkt[6:]) != 0 ||
		binary.BigEndian.Uint16(pkt[8:]) != 0 {
		return q, false
	}
	arcount := binary.BigEndian.Uint16(pkt[10:])
	if arcount > 1 {
		return q, false
	}
	q.rd = flags&0x0100 != 0
	off := 12
	n := 0
	for {
		if off >= len(pkt) {
			return q, false
		}
		l := int(pkt[off])
		off++
		if l == 0 {
			break
		}
		// Compression pointers and odd label types are for the
		// reference path; so is anything that will not fit.
		if l > 63 || off+l > len(pkt) || n+l+1 > len(name) {
			return q, false
		}
		for _, c := range pkt[off : off+l] {
			switch {
			case c >= 'A' && c <= 'Z':
				c += 'a' - 'A'
			case c == '.' || c == '\\' || c < '!' || c > '~':
				return q, false // escaping needed: reference path
			}
			name[n] = c
			n++
		}
		name[n] = '.'
		n++
		off += l
	}
	if n == 0 || off+4 > len(pkt) {
		return q, false
	}
	q.nameLen = n
	q.qtype = binary.BigEndian.Uint16(pkt[off:])
	if q.qtype != dns.TypeA && q.qtype != dns.TypeAAAA || binary.BigEndian.Uint16(pkt[off+2:]) != dns.ClassINET {
		return q, false
	}
	off += 4
	q.qend = off
	if arcount == 1 {
		// An OPT record with no options: root name, type 41, version 0.
		if off+11 != len(pkt) || pkt[off] != 0 || binary.BigEndian.Uint16(pkt[off+1:]) != dns.TypeOPT ||
			pkt[off+6] != 0 || binary.BigEndian.Uint16(pkt[off+9:]) != 0 {
			return q, false
		}
		q.opt = true
		q.udpSize = binary.BigEndian.Uint16(pkt[off+3:])
		q.do = pkt[off+7]&0x80 != 0
		off += 11
	}
	return q, off == len(pkt)
}

// fast answers pkt into out if it can; ok false means: use ServeDNS.
// scratch holds the lower-cased name; it must not be shared between
// goroutines.
func (h *Handler) fast(out, pkt, scratch []byte, from netip.Addr) (resp []byte, ok bool) {
	start := time.Now()
	wq, ok := parseWire(pkt, scratch)
	if !ok || !h.store.Loaded() {
		return nil, false
	}
	// The name is only looked up, never kept, while scratch is live.
	name := unsafe.String(&scratch[0], wq.nameLen)
	z := h.zoneOf(name)
	if z == nil {
		return nil, false
	}
	node, _ := z.Lookup(name)
	if node == nil {
		return nil, false
	}
	if _, isAlias := node.CNAME(); isAlias {
		return nil, false
	}
	var buf [16]zone.Addr
	// No OPT option reaches here, so the ECS scope has nowhere to go.
	chosen, pol, mode, rcode, down, _ := h.pick(buf[:0], node, wq.qtype == dns.TypeAAAA, client{addr: from}, nil)
	if rcode != dns.RcodeSuccess || len(chosen) == 0 {
		return nil, false // SERVFAIL, NODATA: the reference path adds the SOA
	}
	rrLen := 16
	if wq.qtype == dns.TypeAAAA {
		rrLen = 28
	}
	size := wq.qend + len(chosen)*rrLen
	if wq.opt {
		size += 11
	}
	limit := dns.MinMsgSize
	if wq.opt {
		limit = int(min(h.cfg.MaxUDPSize, max16(wq.udpSize, dns.MinMsgSize)))
	}
	if size > limit || size > cap(out) {
		return nil, false // the reference path truncates and sets TC
	}

	if down != "" {
		h.metrics.allDown(down) // answered here: the reference path will not count it
	}
	resp = out[:size]
	copy(resp[0:2], pkt[0:2]) // ID
	flags := uint16(0x8400)   // QR, AA
	if wq.rd {
		flags |= 0x0100
	}
	if h.mayRecurse(from) {
		flags |= 0x0080
	}
	binary.BigEndian.PutUint16(resp[2:], flags)
	binary.BigEndian.PutUint16(resp[4:], 1)
	binary.BigEndian.PutUint16(resp[6:], uint16(len(chosen)))
	binary.BigEndian.PutUint16(resp[8:], 0)
	ar := uint16(0)
	if wq.opt {
		ar = 1
	}
	binary.BigEndian.PutUint16(resp[10:], ar)
	// The question as the client spelled it: case is kept.
	copy(resp[12:wq.qend], pkt[12:wq.qend])
	off := wq.qend
	for _, a := range chosen {
		b := resp[off : off+rrLen]
		b[0], b[1] = 0xc0, 12 // the owner is the question's name
		binary.BigEndian.PutUint16(b[2:], wq.qtype)
		binary.BigEndian.PutUint16(b[4:], dns.ClassINET)
		binary.BigEndian.PutUint32(b[6:], h.addrTTL(a, pol))
		binary.BigEndian.PutUint16(b[10:], uint16(rrLen-12))
		a.AppendIP(b[:12])
		off += rrLen
	}
	if wq.opt {
		b := resp[off : off+11]
		b[0] = 0
		binary.BigEndian.PutUint16(b[1:], dns.TypeOPT)
		binary.BigEndian.PutUint16(b[3:], h.cfg.MaxUDPSize)
		b[5], b[6], b[7], b[8] = 0, 0, 0, 0
		if wq.do {
			b[7] = 0x80
		}
		binary.BigEndian.PutUint16(b[9:], 0)
	}
	h.metrics.observeFast(name, wq.qtype, mode, time.Since(start))
	return resp, true
}
