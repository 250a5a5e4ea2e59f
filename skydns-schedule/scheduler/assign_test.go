package scheduler

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/skydns/skydns/internal/health"
)

func agentNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("agent-%02d", i)
	}
	return out
}

func testIPs(n int) []netip.Addr {
	out := make([]netip.Addr, n)
	for i := range out {
		out[i] = netip.AddrFrom4([4]byte{192, 0, byte(2 + i/256), byte(i % 256)})
	}
	return out
}

func TestPickIsStableAndDistinct(t *testing.T) {
	agents := agentNames(5)
	for _, ip := range testIPs(50) {
		a := pick(ip, "", agents, 2)
		if len(a) != 2 || a[0] == a[1] {
			t.Fatalf("%s: pick = %v, want 2 distinct", ip, a)
		}
		// Order of the candidates does not matter.
		rev := slices.Clone(agents)
		slices.Reverse(rev)
		if b := pick(ip, "", rev, 2); !slices.Equal(a, b) {
			t.Fatalf("%s: pick depends on input order: %v vs %v", ip, a, b)
		}
	}
	if got := pick(testIPs(1)[0], "", agents[:1], 2); len(got) != 1 {
		t.Fatalf("R capped by agents: got %v", got)
	}
	if got := pick(testIPs(1)[0], "", nil, 2); got != nil {
		t.Fatalf("no agents: got %v", got)
	}
}

// Rendezvous hashing moves only the places of the agent that joins or
// leaves, and spreads places evenly.
func TestPickMovesOnlyTheShareOfAChangedAgent(t *testing.T) {
	const targets, r = 3000, 2
	ips := testIPs(targets)
	for _, tc := range []struct {
		name          string
		before, after []string
	}{
		{"agent leaves", agentNames(5), agentNames(4)},
		{"agent joins", agentNames(4), agentNames(5)},
		{"one of three leaves", agentNames(3), agentNames(2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			load := map[string]int{}
			moved := 0
			for _, ip := range ips {
				b, a := pick(ip, "", tc.before, r), pick(ip, "", tc.after, r)
				for _, x := range a {
					load[x]++
					if !slices.Contains(b, x) {
						moved++
					}
				}
				// Whoever kept a place did so: only the changed agent's
				// places (taken or freed) change hands.
				for _, x := range b {
					if slices.Contains(tc.after, x) && !slices.Contains(a, x) && len(tc.after) < len(tc.before) {
						t.Fatalf("%s: %s lost its place though only an agent left", ip, x)
					}
				}
			}
			n := max(len(tc.before), len(tc.after))
			share := targets * r / n // the changed agent's places
			if moved < share*8/10 || moved > share*12/10 {
				t.Errorf("%d places changed hands, want about %d (the changed agent's share)", moved, share)
			}
			even := targets * r / len(tc.after)
			for a, n := range load {
				if n < even*85/100 || n > even*115/100 {
					t.Errorf("agent %s holds %d places, want about %d", a, n, even)
				}
			}
		})
	}
}

func TestDecide(t *testing.T) {
	U, D, X := health.Up, health.Down, health.Unknown
	for _, tc := range []struct {
		cur         health.State
		up, down, n int
		want        health.State
		why         string
	}{
		{X, 2, 0, 2, U, "first verdict"},
		{U, 0, 2, 2, D, "all checkers say down"},
		{U, 1, 1, 2, U, "a tie stays up"},
		{D, 1, 1, 2, U, "a tie is up"},
		{U, 0, 1, 2, U, "one of two, other silent: no change"},
		{D, 0, 1, 2, D, "one of two, other silent: still down"},
		{X, 0, 1, 2, X, "not enough to decide"},
		{U, 0, 1, 1, D, "the only checker decides"},
		{U, 1, 2, 3, D, "majority of three"},
		{D, 1, 1, 3, D, "one silent of three: undecided"},
		{D, 2, 1, 3, U, "two of three up"},
		{U, 0, 0, 0, U, "no checkers: frozen"},
		{D, 0, 0, 0, D, "no checkers: frozen"},
	} {
		if got := decide(tc.cur, tc.up, tc.down, tc.n); got != tc.want {
			t.Errorf("%s: decide(%v, up %d, down %d, n %d) = %v, want %v", tc.why, tc.cur, tc.up, tc.down, tc.n, got, tc.want)
		}
	}
}

func TestSuspect(t *testing.T) {
	for _, tc := range []struct {
		compared, disagree int
		want               bool
	}{
		{0, 0, false}, {1, 1, false}, {2, 1, false}, {2, 2, true}, {10, 5, false}, {10, 6, true}, {100, 100, true},
	} {
		if got := suspect(tc.compared, tc.disagree); got != tc.want {
			t.Errorf("suspect(%d, %d) = %v, want %v", tc.compared, tc.disagree, got, tc.want)
		}
	}
}

// pickSited, as a spec: a target in a site is checked by that site's agents
// first (rendezvous among them), the places its site cannot fill go to the
// others (rendezvous among them), and without a site, or without an agent
// in it, the choice is exactly pick's.
func TestPickSited(t *testing.T) {
	agentSite := map[string]string{
		"sh-1": "sh", "sh-2": "sh", "sh-3": "sh",
		"gz-1":  "gz",
		"any-1": "", "any-2": "",
	}
	siteOf := func(a string) string { return agentSite[a] }
	all := []string{"any-1", "any-2", "gz-1", "sh-1", "sh-2", "sh-3"}
	in := func(site string, agents []string) (n int) {
		for _, a := range agents {
			if agentSite[a] == site {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		name   string
		site   string // the target's
		agents []string
		r      int
		// want: how many of the chosen are in the target's site; the rest
		// are pick's choice among the others.
		local int
		same  bool // the choice is exactly pick(ip, agents, r)
	}{
		{"no site: pick, whatever the agents' sites", "", all, 2, -1, true},
		{"site with enough agents: all local", "sh", all, 2, 2, false},
		{"site with exactly r agents", "sh", all, 3, 3, false},
		{"site with too few: its one agent, then others", "gz", all, 2, 1, false},
		{"site with too few: quorum still reached", "gz", all, 3, 1, false},
		{"site with no agent: pick", "bj", all, 2, 0, true},
		{"R above all agents: every agent, site first", "gz", all, 9, 1, false},
		{"only local agents alive", "sh", []string{"sh-1", "sh-2"}, 3, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, ip := range testIPs(200) {
				got := pickSited(ip, "", tc.agents, tc.r, tc.site, siteOf)
				if want := min(tc.r, len(tc.agents)); len(got) != want {
					t.Fatalf("%s: %v, want %d agents", ip, got, want)
				}
				if tc.same {
					if p := pick(ip, "", tc.agents, tc.r); !slices.Equal(got, p) {
						t.Fatalf("%s: %v, want pick's %v", ip, got, p)
					}
					continue
				}
				if n := in(tc.site, got); n != tc.local {
					t.Fatalf("%s: %v has %d agents of %s, want %d", ip, got, n, tc.site, tc.local)
				}
				// The site's agents come first, in their rendezvous order,
				// then the others in theirs: each part is pick's choice.
				var local, other []string
				for _, a := range tc.agents {
					if agentSite[a] == tc.site {
						local = append(local, a)
					} else {
						other = append(other, a)
					}
				}
				want := append(pick(ip, "", local, tc.r), pick(ip, "", other, tc.r-tc.local)...)
				if !slices.Equal(got, want) {
					t.Fatalf("%s: %v, want %v", ip, got, want)
				}
			}
		})
	}
}
