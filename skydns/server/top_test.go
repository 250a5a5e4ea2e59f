package server

import (
	"fmt"
	"testing"

	"github.com/miekg/dns"
)

// The top-names table never holds more than its bound, and junk names,
// each asked once, whether they come before or after the busy names, do
// not push the busy names out nor change their counts.
func TestTopNamesBounded(t *testing.T) {
	const max, busy, asks, junk = 100, 20, 50, 10000
	busyNames := func(top *TopNames) {
		for range asks {
			for i := range busy {
				top.Add(fmt.Sprintf("busy%d.skydns.local.", i))
			}
		}
	}
	junkNames := func(top *TopNames) {
		for i := range junk {
			top.Add(fmt.Sprintf("junk%d.skydns.local.", i))
			if _, _, n := top.Totals(); n > max {
				t.Fatalf("%d names tracked, bound %d", n, max)
			}
		}
	}
	for _, tc := range []struct {
		name  string
		order []func(*TopNames)
	}{
		{"junk after the busy names", []func(*TopNames){busyNames, junkNames}},
		{"junk before the busy names", []func(*TopNames){junkNames, busyNames}},
		{"junk around the busy names", []func(*TopNames){junkNames, busyNames, junkNames}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := NewTopNames(max)
			for _, f := range tc.order {
				f(top)
			}
			rows := top.Top(busy)
			for i, r := range rows {
				if r.Count != asks {
					t.Fatalf("row %d: %v, want a busy name with %d", i, r, asks)
				}
			}
			if len(rows) != busy {
				t.Fatalf("%d rows, want %d", len(rows), busy)
			}
			total, other, n := top.Totals()
			var kept uint64
			for _, r := range top.Top(max) {
				kept += r.Count
			}
			if n > max || total != uint64(busy*asks+junk*(len(tc.order)-1)) || kept+other != total {
				t.Fatalf("totals %d other %d names %d (kept %d)", total, other, n, kept)
			}
		})
	}
}

// Queries the server does not answer from its data (REFUSED, FORMERR,
// NOTIMP) are not counted by name: anyone could fill the table with them.
func TestTopNamesSkipsRefused(t *testing.T) {
	s := newHarness(t, defaultConfig())
	s.addA("top.skydns.local.", "192.0.2.87")
	s.eventually("loaded", "top.skydns.local.", dns.TypeA, sameIPs("192.0.2.87"))
	cases := []struct {
		qname   string
		qtype   uint16
		counted bool
	}{
		{"outside.example.org.", dns.TypeA, false},    // REFUSED
		{"axfr.skydns.local.", dns.TypeAXFR, false},   // REFUSED
		{"maila.skydns.local.", dns.TypeMAILA, false}, // NOTIMP
		{"chaos.skydns.local.", dns.TypeTXT, false},   // CHAOS class: REFUSED
		{"top.skydns.local.", dns.TypeA, true},
		{"nxdomain.skydns.local.", dns.TypeA, true},
	}
	before, _, _ := s.h.metrics.Top.Totals()
	for _, tc := range cases {
		for _, transport := range []string{"udp", "tcp"} {
			s.query(tc.qname, tc.qtype, func(m *dns.Msg, c *dns.Client) {
				c.Net = transport
				if tc.qname == "chaos.skydns.local." {
					m.Question[0].Qclass = dns.ClassCHAOS
				}
			})
		}
	}
	// The count follows the answer: poll.
	waitFor(t, "counted", func() bool { total, _, _ := s.h.metrics.Top.Totals(); return total >= before+4 })
	// The others were answered before these: counted by now if ever.
	got := map[string]uint64{}
	for _, r := range s.h.metrics.Top.Top(100) {
		got[r.Name] = r.Count
	}
	for _, tc := range cases {
		want := uint64(0)
		if tc.counted {
			want = 2 // over UDP and TCP
		}
		if tc.qname == "top.skydns.local." {
			want += before // the polls that waited for the record
		}
		if got[tc.qname] != want {
			t.Errorf("%s counted %d times, want %d", tc.qname, got[tc.qname], want)
		}
	}
}
