package server

import (
	"net"
	"testing"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/skydns/zone"
)

// fakeWriter captures a response without a network, for the fuzzer.
type fakeWriter struct {
	remote net.Addr
	msg    *dns.Msg
}

func (w *fakeWriter) LocalAddr() net.Addr         { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (w *fakeWriter) RemoteAddr() net.Addr        { return w.remote }
func (w *fakeWriter) WriteMsg(m *dns.Msg) error   { w.msg = m; _, err := m.Pack(); return err }
func (w *fakeWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *fakeWriter) Close() error                { return nil }
func (w *fakeWriter) TsigStatus() error           { return nil }
func (w *fakeWriter) TsigTimersOnly(bool)         {}
func (w *fakeWriter) Hijack()                     {}

// FuzzHandler feeds arbitrary packets to the handler, as the server would
// after unpacking them: it must answer every one it can parse, and never
// panic. The seed corpus runs in every `go test`.
func FuzzHandler(f *testing.F) {
	seed := func(name string, t uint16, edit func(*dns.Msg)) {
		m := new(dns.Msg)
		m.SetQuestion(name, t)
		if edit != nil {
			edit(m)
		}
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed("cctv2.skydns.local.", dns.TypeA, nil)
	seed("CCTV2.skydns.local.", dns.TypeAAAA, func(m *dns.Msg) { m.SetEdns0(4096, true) })
	seed("x.skydns.local.", dns.TypeANY, nil)
	seed("1.2.0.192.in-addr.arpa.", dns.TypePTR, nil)
	seed("skydns.local.", dns.TypeSOA, func(m *dns.Msg) { m.Opcode = dns.OpcodeUpdate })
	seed("a.wild.skydns.local.", dns.TypeSRV, func(m *dns.Msg) {
		m.SetEdns0(1232, false)
		m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(198, 18, 0, 0)})
	})
	seed("a.skydns.local.", dns.TypeA, func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) })
	seed("example.org.", dns.TypeA, func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS })
	f.Add([]byte{})
	f.Add([]byte{0, 1, 2})

	store := zone.New(zone.Options{Prefix: "/skydns", Zones: []string{"skydns.local."}, StatusPath: statusPath})
	h := NewHandler(defaultConfig(), store, nil)
	f.Fuzz(func(t *testing.T, b []byte) {
		req := new(dns.Msg)
		if err := req.Unpack(b); err != nil {
			return // the server answers FORMERR to these itself
		}
		for _, tcp := range []bool{false, true} {
			w := &fakeWriter{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353}}
			if tcp {
				w.remote = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353}
			}
			h.ServeDNS(w, req)
			if w.msg == nil {
				t.Fatal("no response written")
			}
			if w.msg.Id != req.Id {
				t.Fatalf("response ID %d, request %d", w.msg.Id, req.Id)
			}
		}
	})
}
