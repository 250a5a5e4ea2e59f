package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns/explain"
)

// explainCase is one query to explain and then ask: a name, a client of a
// site (by ECS or by source address) and the state of web's backends.
type explainCase struct {
	name   string
	qtype  uint16
	client string // a key of siteClients
	byECS  bool
	down   []string
	pol    *policy.Policy
}

func (c explainCase) String() string {
	p := "no policy"
	if c.pol != nil {
		p = mustJSONString(c.pol)
	}
	return fmt.Sprintf("%s %s from %s (ecs %v), down %v, %s", c.name, dns.TypeToString[c.qtype], c.client, c.byECS, c.down, p)
}

func mustJSONString(p *policy.Policy) string {
	b, _ := json.Marshal(p)
	return string(b)
}

// explainAndAsk explains the case, then asks the same server over UDP as
// the same client: with nothing in between, round robin's next order is
// the one explained.
func explainAndAsk(t *testing.T, s *harness, c explainCase) (*explain.Explanation, *dns.Msg) {
	t.Helper()
	sc := siteClients[c.client]
	var req ExplainRequest
	var err error
	var opts []func(*dns.Msg, *dns.Client)
	if c.byECS {
		req, err = ParseExplainRequest(c.name, dns.TypeToString[c.qtype], sc.ecs, netip.MustParseAddr("127.0.0.1"))
		opts = append(opts, withECS(sc.ecs))
	} else {
		req, err = ParseExplainRequest(c.name, dns.TypeToString[c.qtype], sc.from, netip.Addr{})
		from := net.ParseIP(sc.from)
		opts = append(opts, func(_ *dns.Msg, cl *dns.Client) {
			cl.Dialer = &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.UDPAddr{IP: from}}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := s.h.Explain(ctx, req)
	if err != nil {
		t.Fatalf("%v: explain: %v", c, err)
	}
	return e, s.query(c.name, c.qtype, opts...)
}

// checkSame fails unless the explained answer is the DNS answer: the same
// rcode, authority, ECS scope and answer records, in order. Random and
// weighted draw anew on every query, so for them the answer is one record
// from the set the selection step drew from, and equal otherwise.
func checkSame(t *testing.T, c explainCase, e *explain.Explanation, m *dns.Msg) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%v:\n%s\nexplained: %+v\nanswered: %v", c, fmt.Sprintf(format, args...), e.Answer, m)
	}
	if got := dns.RcodeToString[m.Rcode]; got != e.Answer.Rcode {
		fail("rcode %s, explained %s", got, e.Answer.Rcode)
	}
	if got := rrStrings(m.Ns); !slices.Equal(got, e.Answer.Authority) {
		fail("authority differs")
	}
	scope := ecsScope(m)
	if (e.Answer.ECSScope == nil) != (scope < 0) || e.Answer.ECSScope != nil && *e.Answer.ECSScope != scope {
		fail("ECS scope %d differs", scope)
	}
	got := rrStrings(m.Answer)
	if drawn := lastDraw(e); drawn != nil {
		if len(got) != len(e.Answer.Answer) || len(got) == 0 {
			fail("%d records, explained %d", len(got), len(e.Answer.Answer))
		}
		last := m.Answer[len(m.Answer)-1].(*dns.A).A.String()
		if !slices.Contains(drawn, last) {
			fail("drew %s, not one of %v", last, drawn)
		}
		// Everything but the drawn address (a CNAME on the way) is equal.
		if !slices.Equal(got[:len(got)-1], e.Answer.Answer[:len(got)-1]) {
			fail("records before the draw differ")
		}
		return
	}
	if !slices.Equal(got, e.Answer.Answer) {
		fail("answer differs")
	}
}

// lastDraw is the set a random or weighted selection of the last name drew
// from, nil for the other modes.
func lastDraw(e *explain.Explanation) []string {
	if len(e.Names) == 0 {
		return nil
	}
	steps := e.Names[len(e.Names)-1].Steps
	for i, s := range steps {
		if s.Step == "selection" && (strings.HasPrefix(s.Detail, "mode random") || strings.HasPrefix(s.Detail, "mode weighted")) {
			return steps[i-1].Addresses
		}
	}
	return nil
}

func step(t *testing.T, n explain.Name, name string) explain.Step {
	t.Helper()
	for _, s := range n.Steps {
		if s.Step == name {
			return s
		}
	}
	t.Fatalf("%s: no step %s in %+v", n.Name, name, n.Steps)
	return explain.Step{}
}

func setting(p *explain.Policy, name string) explain.Setting {
	for _, s := range p.Settings {
		if s.Name == name {
			return s
		}
	}
	return explain.Setting{}
}

// TestExplain reads as the spec of an explanation: for each case, what
// the explanation says, and that its answer is the DNS answer.
func TestExplain(t *testing.T) {
	replicas := sitesHarness(t)
	s := replicas[0]
	s.put(record.Key("/skydns", "alias.skydns.local.", ""), `{"host":"web.skydns.local."}`)
	s.eventually("alias", "alias.skydns.local.", dns.TypeA, func(m *dns.Msg) bool { return len(m.Answer) > 1 })

	tests := []struct {
		c     explainCase
		check func(t *testing.T, e *explain.Explanation)
	}{{
		c: explainCase{name: "web.skydns.local.", qtype: dns.TypeA, client: "bj", byECS: true, down: []string{bj2}},
		check: func(t *testing.T, e *explain.Explanation) {
			if e.Client.Site != "bj" || e.Client.ECS != "198.51.100.7/32" || len(e.Client.Key) != 16 {
				t.Errorf("client %+v", e.Client)
			}
			n := e.Names[0]
			if got := step(t, n, "health").Addresses; slices.Contains(got, bj2) || len(got) != len(webIPs)-1 {
				t.Errorf("health step %v", got)
			}
			if st := step(t, n, "site"); !slices.Equal(sorted(st.Addresses), sorted([]string{bj1, vip})) || !strings.Contains(st.Detail, "client's site bj") {
				t.Errorf("site step %+v", st)
			}
			if n.ECSScope != 24 || *e.Answer.ECSScope != 24 {
				t.Errorf("ECS scope %d, answer's %d, want 24", n.ECSScope, *e.Answer.ECSScope)
			}
			if s := setting(n.Policy, "mode"); s.Value != "all" || s.From != explain.FromDefault {
				t.Errorf("mode %+v", s)
			}
			for _, r := range n.Records {
				if want := record.Key("/skydns", "web.skydns.local.", record.ID(record.Record{Host: r.IP})); r.Key != want && !strings.HasPrefix(r.Key, "/skydns/local/skydns/web/") {
					t.Errorf("record %s: key %q", r.IP, r.Key)
				}
				if r.Key == "" {
					t.Errorf("record %s: no key", r.IP)
				}
				if r.IP == vip && r.Site != "bj" {
					t.Errorf("vip's site %q, want bj (its record's field)", r.Site)
				}
			}
			for _, h := range n.Health {
				if want := map[bool]string{true: "DOWN", false: "UP"}[h.IP == bj2]; h.Status != want || h.Served == (want == "DOWN") || h.Checks == nil {
					t.Errorf("health %+v, want %s", h, want)
				}
			}
		},
	}, {
		c: explainCase{name: "web.skydns.local.", qtype: dns.TypeA, client: "bj", byECS: true, down: []string{bj1, bj2, vip},
			pol: &policy.Policy{Mode: policy.ModeHoldOne, MinHealthy: 1}},
		check: func(t *testing.T, e *explain.Explanation) {
			n := e.Names[0]
			if st := step(t, n, "site"); !slices.Equal(sorted(st.Addresses), sorted(sh)) || !strings.Contains(st.Detail, "fallback site sh") {
				t.Errorf("site step %+v", st)
			}
			if s := setting(n.Policy, "mode"); s.Value != "hold-one" || s.From != explain.FromPolicy || !n.Policy.Present {
				t.Errorf("mode %+v", s)
			}
			if got := step(t, n, "cap").Addresses; len(got) != 1 {
				t.Errorf("hold-one chose %v", got)
			}
		},
	}, {
		c: explainCase{name: "web.skydns.local.", qtype: dns.TypeA, client: "sh", byECS: false, down: webIPs,
			pol: &policy.Policy{AllDown: policy.AllDownFallback, Fallback: []string{"198.51.100.53"}}},
		check: func(t *testing.T, e *explain.Explanation) {
			n := e.Names[0]
			if st := step(t, n, "all-down"); !slices.Equal(st.Addresses, []string{"198.51.100.53"}) || !strings.Contains(st.Detail, "fallback (policy)") {
				t.Errorf("all-down step %+v", st)
			}
			if e.Client.Site != "sh" || e.Answer.ECSScope != nil {
				t.Errorf("client %+v, scope %v", e.Client, e.Answer.ECSScope)
			}
		},
	}, {
		c: explainCase{name: "web.skydns.local.", qtype: dns.TypeA, client: "none", byECS: false, down: webIPs,
			pol: &policy.Policy{AllDown: policy.AllDownServfail}},
		check: func(t *testing.T, e *explain.Explanation) {
			if e.Answer.Rcode != "SERVFAIL" || !strings.Contains(step(t, e.Names[0], "all-down").Detail, "SERVFAIL") {
				t.Errorf("answer %+v", e.Answer)
			}
		},
	}, {
		c: explainCase{name: "alias.skydns.local.", qtype: dns.TypeA, client: "gz", byECS: true,
			pol: &policy.Policy{MaxAnswers: 1, Topology: policy.TopologyAny}},
		check: func(t *testing.T, e *explain.Explanation) {
			if len(e.Names) != 2 || e.Names[0].AliasTo != "web.skydns.local." {
				t.Fatalf("names %+v", e.Names)
			}
			n := e.Names[1]
			if st := step(t, n, "site"); !strings.Contains(st.Detail, "topology is any") {
				t.Errorf("site step %+v", st)
			}
			for _, r := range n.Records {
				if r.IP == sh1 && r.Site != "sh" {
					t.Errorf("record %+v: the site is shown even where the policy ignores it", r)
				}
			}
			if st := step(t, n, "cap"); len(st.Addresses) != 1 || setting(n.Policy, "max-answers").From != explain.FromPolicy {
				t.Errorf("cap step %+v", st)
			}
		},
	}, {
		c: explainCase{name: "nothing.skydns.local.", qtype: dns.TypeA, client: "bj"},
		check: func(t *testing.T, e *explain.Explanation) {
			if e.Answer.Rcode != "NXDOMAIN" || len(e.Names) != 0 || len(e.Answer.Authority) != 1 {
				t.Errorf("answer %+v names %+v", e.Answer, e.Names)
			}
		},
	}}
	for _, tt := range tests {
		t.Run(tt.c.String(), func(t *testing.T) {
			setState(t, replicas, tt.c.down, tt.c.pol)
			e, m := explainAndAsk(t, s, tt.c)
			checkSame(t, tt.c, e, m)
			tt.check(t, e)
		})
	}
}

// TestExplainHealthDetails: the explanation shows the whole status value,
// as the schedule wrote it, beside the word the server acts on.
func TestExplainHealthDetails(t *testing.T) {
	s := newHarness(t, defaultConfig())
	s.addA("db.skydns.local.", "192.0.2.31", "192.0.2.32")
	since := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	v, err := health.Encode(health.Status{Status: "DOWN", Since: since, Reason: "tcp/5432: connection refused", Votes: "2/2 down", Override: true})
	if err != nil {
		t.Fatal(err)
	}
	s.put(health.Key(statusPath, netip.MustParseAddr("192.0.2.31")), string(v))
	s.eventually("down", "db.skydns.local.", dns.TypeA, sameIPs("192.0.2.32"))
	req, err := ParseExplainRequest("db.skydns.local", "A", "", netip.MustParseAddr("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.h.Explain(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	want := explain.Health{IP: "192.0.2.31", Status: "DOWN", Since: &since, Reason: "tcp/5432: connection refused", Votes: "2/2 down", Override: true, Checks: []explain.Check{}}
	got := e.Names[0].Health[0]
	if got.IP != want.IP || got.Status != want.Status || got.Served || !got.Since.Equal(since) || got.Reason != want.Reason ||
		got.Votes != want.Votes || !got.Override || got.Checks == nil {
		t.Errorf("health %+v, want %+v", got, want)
	}
	if h := e.Names[0].Health[1]; h.Status != "UNKNOWN" || !h.Served {
		t.Errorf("unchecked %+v: want UNKNOWN and served (serve-unchecked)", h)
	}
	if e.Revisions.Records == 0 || e.Revisions.Health == 0 {
		t.Errorf("revisions %+v", e.Revisions)
	}
}

// TestExplainSweep: over a seeded random sweep of names, clients, health
// states and policies, the explained answer is the DNS answer.
func TestExplainSweep(t *testing.T) {
	replicas := sitesHarness(t)
	s := replicas[0]
	s.put(record.Key("/skydns", "alias.skydns.local.", ""), `{"host":"web.skydns.local."}`)
	s.eventually("alias", "alias.skydns.local.", dns.TypeA, func(m *dns.Msg) bool { return len(m.Answer) > 1 })
	rng := rand.New(rand.NewPCG(13, 2026))
	modes := []policy.Mode{policy.ModeDefault, policy.ModeAll, policy.ModeRandom, policy.ModeWeighted, policy.ModePriority, policy.ModeHoldOne}
	downs := []policy.AllDown{policy.AllDownDefault, policy.AllDownAll, policy.AllDownNone, policy.AllDownServfail, policy.AllDownFallback}
	topos := []policy.Topology{policy.TopologyDefault, policy.TopologyLocal, policy.TopologyAny}
	clients := []string{"bj", "sh", "gz", "none"}
	const rounds = 30
	for range rounds {
		var down []string
		for _, ip := range webIPs {
			if rng.IntN(3) == 0 {
				down = append(down, ip)
			}
		}
		var p *policy.Policy
		if rng.IntN(4) > 0 {
			p = &policy.Policy{Mode: modes[rng.IntN(len(modes))], AllDown: downs[rng.IntN(len(downs))],
				Topology: topos[rng.IntN(len(topos))], MinHealthy: rng.IntN(3), MaxAnswers: rng.IntN(3)}
			if p.AllDown == policy.AllDownFallback {
				p.Fallback = []string{"198.51.100.53", "198.51.100.54"}
			}
		}
		setState(t, replicas, down, p)
		// Several clients and names per state.
		for range 4 {
			c := explainCase{name: "web.skydns.local.", qtype: dns.TypeA, client: clients[rng.IntN(len(clients))], byECS: rng.IntN(2) == 0, down: down, pol: p}
			if rng.IntN(3) == 0 {
				c.name = "alias.skydns.local."
			}
			if c.client == "gz" {
				c.byECS = true // gz has no source address of its own
			}
			e, m := explainAndAsk(t, s, c)
			checkSame(t, c, e, m)
		}
	}
}

// TestParseExplainRequest: what a caller may give, and what is refused.
func TestParseExplainRequest(t *testing.T) {
	from := netip.MustParseAddr("127.0.0.9")
	tests := []struct {
		name, qtype, client string
		want                ExplainRequest
		err                 string
	}{
		{"web", "", "", ExplainRequest{Name: "web.", Type: dns.TypeA, Client: from}, ""},
		{"Web.Skydns.Local.", "aaaa", "192.0.2.7", ExplainRequest{Name: "web.skydns.local.", Type: dns.TypeAAAA, Client: netip.MustParseAddr("192.0.2.7")}, ""},
		{"web.skydns.local", "SRV", "198.51.100.9/24", ExplainRequest{Name: "web.skydns.local.", Type: dns.TypeSRV, Client: from, ECS: netip.MustParsePrefix("198.51.100.0/24")}, ""},
		{"web.skydns.local", "A", "2001:db8::1", ExplainRequest{Name: "web.skydns.local.", Type: dns.TypeA, Client: netip.MustParseAddr("2001:db8::1")}, ""},
		{"", "A", "", ExplainRequest{}, "name is missing"},
		{"a..b", "A", "", ExplainRequest{}, "not a domain name"},
		{strings.Repeat("a", 64) + ".local", "A", "", ExplainRequest{}, "not a domain name"},
		{"web", "BOGUS", "", ExplainRequest{}, "not a DNS query type"},
		{"web", "A", "192.0.2.300", ExplainRequest{}, "not an IP"},
		{"web", "A", "192.0.2.0/33", ExplainRequest{}, "neither an IP nor a network"},
	}
	for _, tt := range tests {
		got, err := ParseExplainRequest(tt.name, tt.qtype, tt.client, from)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%q %q %q: error %v, want %q", tt.name, tt.qtype, tt.client, err, tt.err)
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("%q %q %q: %+v, %v; want %+v", tt.name, tt.qtype, tt.client, got, err, tt.want)
		}
	}
}
