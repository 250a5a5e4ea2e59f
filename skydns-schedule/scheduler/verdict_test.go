package scheduler

import (
	"net/netip"
	"testing"
	"time"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
)

// TestEvaluatePerCheck: each check of an IP gets its own verdict from its
// own checkers, and the status is UP while any check is UP, DOWN when
// every check with a verdict is DOWN; a verdict of a check no name asks
// for goes.
func TestEvaluatePerCheck(t *testing.T) {
	st := newState("/skydns", monitor.DefaultPaths(), "/skydns/monitor/lock", "")
	l := &leader{st: st, distrusted: map[string]bool{}}
	ip := netip.MustParseAddr("198.51.100.9")
	st.putKey("/skydns/local/skydns/web/1", []byte(`{"host":"198.51.100.9"}`))
	st.putKey("/skydns/local/skydns/db/1", []byte(`{"host":"198.51.100.9"}`))
	st.putKey("/skydns/policy/web.skydns.local", []byte(`{"check":{"ports":[80]}}`))
	st.putKey("/skydns/policy/db.skydns.local", []byte(`{"check":{"ports":[3306]}}`))
	web := monitor.Target{IP: ip, Check: monitor.CheckIDOf([]byte(`{"ports":[80]}`))}
	db := monitor.Target{IP: ip, Check: monitor.CheckIDOf([]byte(`{"ports":[3306]}`))}
	ok := map[string]bool{"a1": true, "a2": true}
	for a := range ok {
		st.jobTable().set(a, web, `{"ports":[80]}`)
		st.jobTable().set(a, db, `{"ports":[3306]}`)
	}
	now := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	rev := int64(0)
	// step sets the votes, evaluates and applies the writes as etcd would.
	step := func(webV, dbV health.State) (status health.State, verdicts map[string]health.State) {
		st.reports[web] = map[string]vote{"a1": {state: webV}, "a2": {state: webV}}
		st.reports[db] = map[string]vote{"a1": {state: dbV}, "a2": {state: dbV}}
		for _, c := range l.evaluate(nil, ip, ok, now, now) {
			rev++
			switch {
			case c.check != "" && c.verdict == nil:
				dropVerdict(st.verdicts, ip, c.check)
			case c.check != "":
				setVerdict(st.verdicts, ip, c.check, verdictEntry{state: c.state, modRev: rev})
			default:
				st.status[ip] = entryOf(*c.value, rev)
			}
		}
		verdicts = map[string]health.State{}
		for id, e := range st.verdicts[ip] {
			verdicts[id] = e.state
		}
		return st.status[ip].state, verdicts
	}
	for _, tc := range []struct {
		what      string
		web, db   health.State
		status    health.State
		webV, dbV health.State
	}{
		{"both pass", health.Up, health.Up, health.Up, health.Up, health.Up},
		{"MySQL dies: db DOWN, the IP stays UP", health.Up, health.Down, health.Up, health.Up, health.Down},
		{"both fail: DOWN", health.Down, health.Down, health.Down, health.Down, health.Down},
		{"web back: UP", health.Up, health.Down, health.Up, health.Up, health.Down},
	} {
		status, v := step(tc.web, tc.db)
		if status != tc.status || v[web.Check] != tc.webV || v[db.Check] != tc.dbV {
			t.Errorf("%s: status %v, verdicts %v; want %v, web %v, db %v", tc.what, status, v, tc.status, tc.webV, tc.dbV)
		}
	}
	// db's policy goes: its name now has the default check; db's verdict goes.
	st.deleteKey("/skydns/policy/db.skydns.local")
	if _, v := step(health.Up, health.Down); len(v) != 1 || v[web.Check] != health.Up {
		t.Errorf("after db's policy went: verdicts %v, want web's alone", v)
	}
	// No record uses the IP any more: every verdict goes.
	st.deleteKey("/skydns/local/skydns/web/1")
	st.deleteKey("/skydns/local/skydns/db/1")
	if _, v := step(health.Up, health.Up); len(v) != 0 {
		t.Errorf("unused IP keeps verdicts %v", v)
	}
}
