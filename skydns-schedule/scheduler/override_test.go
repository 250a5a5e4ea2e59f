package scheduler

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
)

// overrideFixture is a leader's state with one IP used by a record and
// checked by two agents, for driving evaluate by hand.
type overrideFixture struct {
	t   *testing.T
	l   *leader
	ip  netip.Addr
	ok  map[string]bool
	rev int64
	now time.Time
}

func newOverrideFixture(t *testing.T) *overrideFixture {
	st := newState("/skydns", monitor.DefaultPaths(), "/skydns/monitor/lock", "")
	f := &overrideFixture{t: t, l: &leader{st: st, distrusted: map[string]bool{}}, ip: netip.MustParseAddr("192.0.2.1"),
		ok: map[string]bool{"a1": true, "a2": true}, now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	st.putKey("/skydns/local/skydns/web/0a000001", []byte(`{"host":"192.0.2.1"}`))
	for a := range f.ok {
		st.jobTable().set(a, f.target(), "{}")
	}
	return f
}

// target is the IP's one check: the record has no policy.
func (f *overrideFixture) target() monitor.Target {
	return monitor.Target{IP: f.ip, Check: monitor.DefaultCheck}
}

func (f *overrideFixture) votes(up, down int) {
	m := map[string]vote{}
	agents := []string{"a1", "a2"}
	for i := range up {
		m[agents[i]] = vote{state: health.Up}
	}
	for i := range down {
		m[agents[up+i]] = vote{state: health.Down, reason: "tcp/80: refused"}
	}
	f.l.st.reports[f.target()] = m
}

// override puts (value != "") or deletes the override key through the view.
func (f *overrideFixture) override(value string) {
	kv := &mvccpb.KeyValue{Key: []byte(monitor.OverrideKey(monitor.DefaultOverridePath, f.ip)), Value: []byte(value)}
	ev := &clientv3.Event{Type: clientv3.EventTypePut, Kv: kv}
	if value == "" {
		ev.Type = clientv3.EventTypeDelete
	}
	overridesView{f.l.st}.Apply(0, []*clientv3.Event{ev})
}

// step evaluates the IP and applies the write it asks for, as etcd would;
// it returns the write (nil: none) and whether it deletes the key.
func (f *overrideFixture) step() (v *health.Status, wrote, deleted bool) {
	f.t.Helper()
	f.now = f.now.Add(time.Second)
	var c statusChange
	for _, w := range f.l.evaluate(nil, f.ip, f.ok, f.now, f.now) {
		f.rev++
		if w.check != "" { // the verdict of the one check, as etcd would keep it
			setVerdict(f.l.st.verdicts, w.ip, w.check, verdictEntry{state: w.state, modRev: f.rev})
			continue
		}
		c, wrote = w, true
	}
	if !wrote {
		return nil, false, false
	}
	if c.value == nil {
		delete(f.l.st.status, f.ip)
		return nil, true, true
	}
	f.l.st.status[f.ip] = entryOf(*c.value, f.rev)
	return c.value, true, false
}

func TestEvaluateOverride(t *testing.T) {
	f := newOverrideFixture(t)
	f.votes(2, 0)
	if v, _, _ := f.step(); v == nil || v.Status != "UP" || v.Override {
		t.Fatalf("healthy, no override: %+v", v)
	}

	// A drain: DOWN at once, marked as manual, the checks kept beside it.
	f.override(`{"status":"DOWN","reason":"kernel upgrade","user":"alice"}`)
	v, _, _ := f.step()
	if v == nil || v.Status != "DOWN" || !v.Override || v.Checked != "UP" ||
		v.Reason != "override: kernel upgrade (by alice)" || !strings.HasPrefix(v.Votes, "manual override; checks: UP, 0/2 down") {
		t.Fatalf("drained: %+v", v)
	}
	since := v.Since
	if _, wrote, _ := f.step(); wrote {
		t.Fatal("the same override written twice")
	}
	// The checks keep running under the override: their verdict is kept
	// up to date, the status and its since are not moved.
	f.votes(0, 2)
	if v, _, _ := f.step(); v == nil || v.Status != "DOWN" || v.Checked != "DOWN" || !v.Since.Equal(since) {
		t.Fatalf("checks changed under the override: %+v (since %v)", v, since)
	}
	// The override removed: the checkers' verdict again, at once, without
	// the marks, even though the word (DOWN) is the same.
	f.override("")
	if v, _, _ := f.step(); v == nil || v.Status != "DOWN" || v.Override || v.Reason != "tcp/80: refused" || v.Votes != "2/2 down" {
		t.Fatalf("override removed, checks DOWN: %+v", v)
	}

	// Forced UP while the checks say DOWN, then back to DOWN.
	f.override(`{"status":"UP","reason":"false alarm"}`)
	if v, _, _ := f.step(); v == nil || v.Status != "UP" || !v.Override || v.Checked != "DOWN" || v.Reason != "override: false alarm" {
		t.Fatalf("forced up: %+v", v)
	}
	// A status written by hand does not hold against the override.
	f.l.st.status[f.ip] = statusEntry{state: health.Down, modRev: 99}
	if v, _, _ := f.step(); v == nil || v.Status != "UP" || !v.Override {
		t.Fatalf("hand-written status under an override: %+v", v)
	}
	// Checkers that have not spoken (a tie of unknowns) do not move the
	// kept verdict: once the override goes, the status is what they said
	// last.
	f.l.st.reports[f.target()] = nil
	if _, wrote, _ := f.step(); wrote {
		t.Fatal("checkers without a verdict changed the status")
	}
	f.override("")
	if v, _, _ := f.step(); v == nil || v.Status != "DOWN" || v.Override {
		t.Fatalf("override removed, last verdict DOWN: %+v", v)
	}

	// No checker has ever had a verdict (no agent): the override still
	// applies; when it goes the IP is unchecked again, so its status goes.
	f2 := newOverrideFixture(t)
	f2.ok = map[string]bool{}
	f2.override(`{"status":"DOWN"}`)
	if v, _, _ := f2.step(); v == nil || v.Status != "DOWN" || !v.Override || v.Checked != "" || !strings.Contains(v.Votes, "checks: none yet") {
		t.Fatalf("override without checkers: %+v", v)
	}
	f2.override("")
	if _, _, deleted := f2.step(); !deleted {
		t.Fatal("override without checkers removed: the status should go")
	}
}

// An override with until counts until then; an unreadable one not at all;
// one on an IP no record uses makes no status.
func TestEvaluateOverrideExpiryAndBadValues(t *testing.T) {
	f := newOverrideFixture(t)
	f.votes(2, 0)
	f.step()
	until := f.now.Add(1500 * time.Millisecond)
	f.override(`{"status":"DOWN","until":"` + until.Format(time.RFC3339Nano) + `"}`)
	if next, ok := f.l.st.nextExpiry(f.now); !ok || !next.Equal(until) {
		t.Fatalf("nextExpiry = %v %v, want %v", next, ok, until)
	}
	if v, _, _ := f.step(); v == nil || v.Status != "DOWN" || !v.Override {
		t.Fatalf("before until: %+v", v)
	}
	if v, _, _ := f.step(); v == nil || v.Status != "UP" || v.Override {
		t.Fatalf("after until: %+v", v)
	}
	if _, ok := f.l.st.nextExpiry(f.now); ok {
		t.Fatal("an expired override still has an expiry ahead")
	}

	var bad []string
	f.l.st.badOverride = func(key string, _ error) { bad = append(bad, key) }
	f.override(`{"status":"DOWN","until":"next week"}`)
	if _, wrote, _ := f.step(); wrote || len(bad) != 1 {
		t.Fatalf("unreadable override: wrote %v, reported %v", wrote, bad)
	}

	other := &overrideFixture{t: t, l: f.l, ip: netip.MustParseAddr("192.0.2.99"), ok: f.ok, now: f.now}
	other.override(`{"status":"DOWN"}`)
	if _, ok := f.l.st.override(other.ip, f.now); !ok {
		t.Fatal("override of the unused IP not kept")
	}
	if _, wrote, _ := other.step(); wrote {
		t.Fatal("an override on an IP no record uses made a status")
	}
}
