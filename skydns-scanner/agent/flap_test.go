package agent

import (
	"testing"
	"time"

	"github.com/skydns/skydns/internal/health"
)

func TestVerdictRiseFall(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rise, fall int
		results    string // p: pass, f: fail
		want       string // state after each result: u(nknown), U(p), D(own)
		changes    int
	}{
		{"first verdict needs rise", 2, 3, "ppp", "uUU", 1},
		{"first down needs fall", 2, 3, "fff", "uuD", 1},
		{"down after fall failures", 2, 3, "ppfffp", "uUUUDD", 2},
		{"up after rise passes", 2, 3, "ppfffpp", "uUUUDDU", 3},
		{"one failure in three never flips", 2, 3, "ppffpffpffp", "uUUUUUUUUUU", 1},
		{"alternating never decides", 2, 2, "pfpfpfpf", "uuuuuuuu", 0},
		{"rise 1 fall 1 follows every probe", 1, 1, "pfpf", "UDUD", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v verdict
			changes := 0
			for i, r := range tc.results {
				if v.observe(r == 'p', "tcp/80: refused", tc.rise, tc.fall, time.Unix(int64(i), 0)) {
					changes++
				}
				got := map[health.State]byte{health.Unknown: 'u', health.Up: 'U', health.Down: 'D'}[v.state]
				if got != tc.want[i] {
					t.Fatalf("after %q: state %v, want %c", tc.results[:i+1], v.state, tc.want[i])
				}
			}
			if changes != tc.changes {
				t.Fatalf("%d changes, want %d", changes, tc.changes)
			}
		})
	}
}

func TestVerdictReport(t *testing.T) {
	var v verdict
	for range 3 {
		v.observe(false, "tcp/80: refused", 2, 3, time.Unix(100, 0))
	}
	r := v.report()
	if r.Status != "DOWN" || r.Reason != "tcp/80: refused" || !r.Since.Equal(time.Unix(100, 0)) {
		t.Fatalf("report %+v", r)
	}
	for range 2 {
		v.observe(true, "", 2, 3, time.Unix(200, 0))
	}
	if r := v.report(); r.Status != "UP" || r.Reason != "" {
		t.Fatalf("report %+v", r)
	}
}
