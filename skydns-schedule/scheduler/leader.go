package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/skydns/skydns/internal/backoff"
	"github.com/skydns/skydns/internal/etcdclient"
	"github.com/skydns/skydns/internal/events"
	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
)

// maxTxnOps stays under etcd's default --max-txn-ops (128).
const maxTxnOps = 100

var errNotLeader = errors.New("no longer the leader")

// leader is the state of one term of leadership.
type leader struct {
	s     *Scheduler
	st    *state
	guard clientv3.Cmp // true while our election key is the one we won with

	stale      map[clientv3.LeaseID]bool // agents whose lease is overdue (agent-downtime)
	distrusted map[string]bool
	orphans    map[netip.Addr]time.Time // statuses of IPs no record uses, since when
	failing    bool
}

// lead is one term of leadership (election.Config.Lead): it schedules
// until ctx ends or the lead is lost. Every write is a transaction that
// holds only while our election key is still the one we won with, so a
// leader that was replaced without noticing (a long pause, a partition)
// cannot overwrite its successor's work.
func (s *Scheduler) lead(ctx context.Context, el *concurrency.Election) error {
	s.leader.Store(true)
	s.m.leader.Set(1)
	s.m.elections.Inc()
	s.cfg.Log.Info("leading", "name", s.cfg.Name, "key", el.Key())
	defer func() {
		s.leader.Store(false)
		// What only a leader computes is not this instance's to report
		// any more: a former leader showing its last counts misleads.
		s.m.leader.Set(0)
		s.m.targets.Set(0)
		s.m.agents.Set(0)
		s.m.overrides.Set(0)
		s.m.distrusted.Reset()
	}()
	l := &leader{
		s: s, st: s.st,
		guard:      clientv3.Compare(clientv3.CreateRevision(el.Key()), "=", el.Rev()),
		stale:      map[clientv3.LeaseID]bool{},
		distrusted: map[string]bool{},
		orphans:    map[netip.Addr]time.Time{},
	}
	// Act only on a complete picture: a half-loaded view would look like
	// records, agents or reports that vanished.
	for _, v := range s.views {
		select {
		case <-v.Ready():
		case <-ctx.Done():
			return nil
		}
	}
	tick := time.NewTicker(s.cfg.Interval)
	defer tick.Stop()
	// expiry wakes the leader when the next override's until passes, so
	// that the status goes back to the checkers' verdict then and not at
	// the next full round.
	expiry := time.NewTimer(time.Hour)
	expiry.Stop()
	defer expiry.Stop()
	full := true
	retry := backoff.New() // between rounds while etcd writes fail
	for {
		err := l.step(ctx, full)
		switch {
		case errors.Is(err, errNotLeader):
			return err
		case err != nil && ctx.Err() == nil:
			s.m.writeErrors.Inc()
			if !l.failing {
				s.cfg.Log.Warn("writing to etcd failed; retrying", "err", err)
				l.failing = true
			}
			// Everything again on the next round: what failed is unknown.
			s.st.mu.Lock()
			s.st.changedAll()
			s.st.mu.Unlock()
		case err == nil && l.failing:
			s.cfg.Log.Info("writing to etcd works again")
			l.failing = false
			retry = backoff.New()
		}
		full = false
		s.st.mu.Lock()
		next, expires := s.st.nextExpiry(time.Now())
		s.st.mu.Unlock()
		if expires {
			expiry.Reset(time.Until(next))
		} else {
			expiry.Stop()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-expiry.C:
			s.st.mu.Lock()
			for ip := range s.st.overrides {
				s.st.dirtyVotes[ip] = struct{}{}
			}
			s.st.mu.Unlock()
		case <-s.kick:
			// Do not spin on etcd errors at the rate events arrive: every
			// failed round is a full one.
			if l.failing && !retry.WaitUntil(ctx, etcdclient.Answers(s.cli)) {
				return nil
			}
		case <-tick.C:
			full = true
		}
	}
}

// jobChange is one write to the job directory.
type jobChange struct {
	agent string
	t     monitor.Target
	spec  string // put this; empty: delete
	all   bool   // delete every job of agent
}

// statusChange is one write to the status directory or, with check set,
// to the verdict of that check of ip.
type statusChange struct {
	ip      netip.Addr
	value   *health.Status // nil: delete
	modRev  int64          // the key's revision we decided on (0: absent)
	why     string         // for the log of a delete
	check   string         // a check-id: a verdict key, not the status key
	verdict []byte         // with check: the encoded verdict; nil: delete
	state   health.State   // with check: the verdict's state
	// For the history of a status: the status before (Unknown: none) and
	// the votes of the checkers that counted.
	from   health.State
	agents []events.Agent
	// event: a verdict change that is an event of its own, because the IP
	// has several checks (with one, the status change is its event).
	event bool
}

// step does one round: on a full round (every schedule-interval, and when
// leadership begins) it checks the agents' leases, reassigns every target
// and expires unused statuses; otherwise it acts on what the views saw
// change since the last round.
func (l *leader) step(ctx context.Context, full bool) error {
	if full {
		l.checkAgents(ctx)
	}
	st := l.st
	st.mu.Lock()
	all := full || st.all
	reassignAll := all || st.agentsChanged
	dirtyTargets, dirtyVotes := st.dirtyTargets, st.dirtyVotes
	st.dirtyTargets, st.dirtyVotes = map[netip.Addr]struct{}{}, map[netip.Addr]struct{}{}
	st.all, st.agentsChanged = false, false
	eligible := l.eligible()
	var only map[netip.Addr]struct{}
	if !reassignAll {
		only = dirtyTargets
	}
	jobs := l.assign(eligible, only)
	l.s.m.targets.Set(float64(len(st.ipNames)))
	l.s.m.agents.Set(float64(len(eligible)))
	st.mu.Unlock()

	if err := l.writeJobs(ctx, jobs); err != nil {
		return err
	}

	st.mu.Lock()
	live := setOf(eligible)
	affected := dirtyVotes
	l.applyJobs(jobs, affected)
	if all {
		for ip := range st.ipNames {
			affected[ip] = struct{}{}
		}
		// Verdicts left by an earlier leader on IPs no record uses now:
		// evaluate deletes them.
		for ip := range st.verdicts {
			affected[ip] = struct{}{}
		}
	}
	l.updateTrust(live, affected, all)
	at := time.Now()
	now := at.UTC().Truncate(time.Millisecond)
	var changes []statusChange
	for ip := range affected {
		changes = l.evaluate(changes, ip, live, now, at)
	}
	active := 0
	for ip := range st.overrides {
		if _, ok := st.override(ip, at); ok {
			active++
		}
	}
	l.s.m.overrides.Set(float64(active))
	if full {
		changes = append(changes, l.expire(time.Now())...)
	}
	st.mu.Unlock()

	return l.writeStatus(ctx, changes)
}

// eligible are the agents that get jobs, sorted: alive (key present), not
// idle, lease not overdue. Locked.
func (l *leader) eligible() []string {
	var out []string
	for a, e := range l.st.agents {
		// A heartbeat without a lease (the original scanner's, or one put
		// by hand) never goes away, so it proves nothing about liveness:
		// jobs given to it would never be probed, and its IPs could never
		// go DOWN.
		if !e.idle && e.lease != clientv3.NoLease && !l.stale[e.lease] {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out
}

// assign computes the job writes that make the job directory match the
// rendezvous assignment, for the targets in only (all when nil). Locked.
func (l *leader) assign(eligible []string, only map[netip.Addr]struct{}) []jobChange {
	st := l.st
	ok := setOf(eligible)
	var out []jobChange
	// Jobs of agents that are gone (or idle, or overdue) go in one sweep.
	for a := range st.jobs {
		if !ok[a] {
			out = append(out, jobChange{agent: a, all: true})
		}
	}
	targets := only
	if targets == nil {
		targets = make(map[netip.Addr]struct{}, len(st.ipNames))
		for ip := range st.ipNames {
			targets[ip] = struct{}{}
		}
		for ip := range st.held {
			targets[ip] = struct{}{}
		}
	}
	r := min(l.s.cfg.Replicas, len(eligible))
	agentSite := func(a string) string { return st.agents[a].site }
	// The cached picks hold for one set of agents, their sites and R.
	var key strings.Builder
	fmt.Fprintf(&key, "%d", r)
	for _, a := range eligible {
		key.WriteString("\x00" + a + "\x00" + agentSite(a))
	}
	if st.pickFor != key.String() {
		st.pickCache, st.pickFor = nil, key.String()
	}
	for ip := range targets {
		var checks map[string]string
		if _, used := st.ipNames[ip]; used {
			checks = st.checks(ip)
		}
		// Checks no name asks for any more lose their jobs.
		for id := range st.held[ip] {
			if _, wanted := checks[id]; wanted {
				continue
			}
			t := monitor.Target{IP: ip, Check: id}
			for a := range st.holders[t] {
				if ok[a] {
					out = append(out, jobChange{agent: a, t: t})
				}
			}
		}
		for id, spec := range checks {
			t := monitor.Target{IP: ip, Check: id}
			want := st.picked(ip, id, func() []string { return pickSited(ip, id, eligible, r, st.siteOf(ip), agentSite) })
			for a := range st.holders[t] {
				if ok[a] && !slices.Contains(want, a) {
					out = append(out, jobChange{agent: a, t: t})
				}
			}
			for _, a := range want {
				if st.jobs[a][t] != spec {
					out = append(out, jobChange{agent: a, t: t, spec: spec})
				}
			}
		}
	}
	return out
}

func (l *leader) writeJobs(ctx context.Context, changes []jobChange) error {
	paths := l.s.cfg.Paths
	ops := make([]clientv3.Op, 0, len(changes))
	for _, c := range changes {
		switch {
		case c.all:
			ops = append(ops, clientv3.OpDelete(paths.JobPrefix(c.agent), clientv3.WithPrefix()))
		case c.spec == "":
			ops = append(ops, clientv3.OpDelete(paths.CheckJobKey(c.agent, c.t.IP, c.t.Check)))
		default:
			ops = append(ops, clientv3.OpPut(paths.CheckJobKey(c.agent, c.t.IP, c.t.Check), c.spec))
		}
	}
	for chunk := range slices.Chunk(ops, maxTxnOps) {
		if _, err := l.commit(ctx, chunk); err != nil {
			return err
		}
		l.s.m.jobWrites.Add(float64(len(chunk)))
	}
	if len(changes) > 0 {
		l.s.cfg.Log.Debug("jobs written", "changes", len(changes))
	}
	return nil
}

// commit runs ops if we still lead, trying again across an etcd leader
// change (etcdclient.Retry). A second try is safe: the election guard
// refuses it once we lead no more, jobs are plain puts and deletes, and a
// status whose first try was applied fails its own revision guard, so it
// is re-read and decided again rather than written twice.
func (l *leader) commit(ctx context.Context, ops []clientv3.Op) (*clientv3.TxnResponse, error) {
	var resp *clientv3.TxnResponse
	err := etcdclient.Retry(ctx, time.Now().Add(l.s.cfg.RequestTimeout), func(cctx context.Context) error {
		var err error
		resp, err = l.s.cli.Txn(cctx).If(l.guard).Then(ops...).Commit()
		return err
	})
	if err != nil {
		return nil, err
	}
	if !resp.Succeeded {
		return nil, errNotLeader
	}
	return resp, nil
}

// applyJobs mirrors written jobs into the state before the views bring
// them, so that the next round does not write them again; every IP whose
// checkers changed is added to affected. Locked.
func (l *leader) applyJobs(changes []jobChange, affected map[netip.Addr]struct{}) {
	jt := l.st.jobTable()
	for _, c := range changes {
		switch {
		case c.all:
			for t := range jt.jobs[c.agent] {
				jt.del(c.agent, t)
				affected[t.IP] = struct{}{}
			}
		case c.spec == "":
			jt.del(c.agent, c.t)
			affected[c.t.IP] = struct{}{}
		default:
			jt.set(c.agent, c.t, c.spec)
			affected[c.t.IP] = struct{}{}
		}
	}
}

// updateTrust recomputes which agents are suspect: all of them, or those
// that check an affected IP. The targets of an agent whose trust changed
// are decided again. Locked.
func (l *leader) updateTrust(ok map[string]bool, affected map[netip.Addr]struct{}, all bool) {
	st := l.st
	agents := map[string]bool{}
	if all {
		for a := range st.jobs {
			agents[a] = true
		}
	} else {
		for ip := range affected {
			for id := range st.held[ip] {
				for a := range st.holders[monitor.Target{IP: ip, Check: id}] {
					agents[a] = true
				}
			}
		}
	}
	for a := range l.distrusted {
		if !ok[a] {
			delete(l.distrusted, a) // gone: nothing to distrust
			l.s.m.distrusted.DeleteLabelValues(a)
		}
	}
	for a := range agents {
		if !ok[a] {
			continue
		}
		compared, disagree := 0, 0
		for t := range st.jobs[a] {
			own := st.reports[t][a].state
			if own == health.Unknown {
				continue
			}
			up, down := 0, 0
			for b := range st.holders[t] {
				if b == a || !ok[b] {
					continue
				}
				switch st.reports[t][b].state {
				case health.Up:
					up++
				case health.Down:
					down++
				}
			}
			if up+down == 0 {
				continue
			}
			compared++
			if own == health.Down && up > down {
				disagree++
			}
		}
		sus := suspect(compared, disagree)
		if sus == l.distrusted[a] {
			continue
		}
		if sus {
			l.distrusted[a] = true
			l.s.m.distrusted.WithLabelValues(a).Set(1)
			l.s.cfg.Log.Warn("agent distrusted: it reports most of its targets DOWN while its peers see them UP; its votes are ignored",
				"agent", a, "disagree", disagree, "compared", compared)
		} else {
			delete(l.distrusted, a)
			l.s.m.distrusted.DeleteLabelValues(a)
			l.s.cfg.Log.Info("agent trusted again", "agent", a)
		}
		for t := range st.jobs[a] {
			affected[t.IP] = struct{}{}
		}
	}
}

// evaluate decides the verdict of each check of ip and then ip's status,
// and appends the writes they need to changes.
//
// Each check is decided by its own checkers' votes (decide), from its last
// verdict. The status follows the checks: UP while any check is UP, DOWN
// when every check with a verdict is DOWN, unchanged while none has one.
// With one check (every name on the IP probes it the same way, the common
// case) the status is that check's verdict, votes and reason as before
// verdicts had checks. An operator's override in force at at wins: then
// the override's status is written, with the checks' combined verdict
// kept beside it (checked), so that the status goes back to that verdict
// the moment the override is removed or expires. now is the time written
// as since. Verdicts do not carry overrides: the DNS server applies the
// override from the status to every name. Locked.
func (l *leader) evaluate(changes []statusChange, ip netip.Addr, ok map[string]bool, now, at time.Time) []statusChange {
	st := l.st
	var checks map[string]string
	if _, used := st.ipNames[ip]; used {
		checks = st.checks(ip)
	}
	// Verdicts of checks no name asks for go at once: a name that finds
	// no verdict for its check reads the status.
	for id, e := range st.verdicts[ip] {
		if _, wanted := checks[id]; !wanted {
			changes = append(changes, statusChange{ip: ip, check: id, modRev: e.modRev, why: "no name asks for the check any more"})
		}
	}
	if checks == nil {
		return changes // not a target; expire() deals with the status
	}
	cur := st.status[ip]
	anyUp, anyDown := false, false
	var reason, votes string
	downChecks := 0
	for _, id := range slices.Sorted(maps.Keys(checks)) {
		t := monitor.Target{IP: ip, Check: id}
		n, up, down := 0, 0, 0
		var reasonFrom, why string
		for a := range st.holders[t] {
			if !ok[a] || l.distrusted[a] {
				continue
			}
			n++
			switch v := st.reports[t][a]; v.state {
			case health.Up:
				up++
			case health.Down:
				down++
				if reasonFrom == "" || a < reasonFrom {
					reasonFrom, why = a, v.reason
				}
			}
		}
		old, had := st.verdicts[ip][id]
		base := old.state
		if !had && len(checks) == 1 {
			// No verdict key yet (data from before verdicts had checks):
			// the one check's last verdict is the status.
			base = cur.state
			if cur.override {
				base = cur.checked
			}
		}
		v := decide(base, up, down, n)
		switch v {
		case health.Up:
			anyUp = true
		case health.Down:
			anyDown = true
			downChecks++
			if reason == "" {
				reason = why
			}
		}
		votes = fmt.Sprintf("%d/%d down", down, n)
		if v != health.Unknown && (v != old.state || !had) {
			vv := monitor.Verdict{Status: v.String(), Since: now, Votes: votes, Check: json.RawMessage(checks[id])}
			if v == health.Down {
				vv.Reason = why
			}
			if b, err := vv.Encode(); err == nil {
				changes = append(changes, statusChange{ip: ip, check: id, verdict: b, state: v, modRev: old.modRev,
					from: old.state, why: vv.Reason, agents: l.voters(ip, ok, map[string]string{id: ""}), event: len(checks) > 1})
			}
		}
	}
	if len(checks) > 1 {
		votes = fmt.Sprintf("%d/%d checks down", downChecks, len(checks))
	}
	// The checks' verdict moves from their last one: under an override
	// the status holds the override's word, and checked holds theirs.
	base := cur.state
	if cur.override {
		base = cur.checked
	}
	combined := base
	switch {
	case anyUp:
		combined = health.Up
	case anyDown:
		combined = health.Down
	}

	if o, on := st.override(ip, at); on {
		want, _ := o.State() // only readable overrides are kept
		why := o.Describe()
		if cur.override && cur.state == want && cur.reason == why && cur.checked == combined {
			return changes
		}
		since := now
		if cur.override && cur.state == want && !cur.since.IsZero() {
			since = cur.since // the same override, re-worded, or the checks moved
		}
		verdict := "none yet"
		if combined != health.Unknown {
			verdict = combined.String()
		}
		v := &health.Status{Status: want.String(), Since: since, Reason: why,
			Votes: fmt.Sprintf("manual override; checks: %s, %s", verdict, votes), Ports: cur.ports, Override: true}
		if combined != health.Unknown {
			v.Checked = combined.String()
		}
		return append(changes, statusChange{ip: ip, value: v, modRev: cur.modRev, from: cur.state, agents: l.voters(ip, ok, checks)})
	}

	if cur.override {
		// The override was removed or expired: the checkers' verdict, at
		// once, even if it is the same word. With no verdict at all the
		// IP is unchecked again: no status.
		if combined == health.Unknown {
			return append(changes, statusChange{ip: ip, modRev: cur.modRev, why: "the override ended and no checker has a verdict yet",
				from: cur.state, agents: l.voters(ip, ok, checks)})
		}
	} else if combined == cur.state || combined == health.Unknown {
		return changes
	}
	v := &health.Status{Status: combined.String(), Since: now, Votes: votes, Ports: cur.ports}
	if combined == health.Down {
		v.Reason = reason
	}
	return append(changes, statusChange{ip: ip, value: v, modRev: cur.modRev, from: cur.state, agents: l.voters(ip, ok, checks)})
}

// voters are the checkers of ip whose votes count, with their votes, for
// the event of a change: built only for a change, not for every decision.
// An agent that checks several of the IP's checks is named with each
// check-id. Locked.
func (l *leader) voters(ip netip.Addr, ok map[string]bool, checks map[string]string) []events.Agent {
	var out []events.Agent
	for id := range checks {
		t := monitor.Target{IP: ip, Check: id}
		for a := range l.st.holders[t] {
			if !ok[a] || l.distrusted[a] {
				continue
			}
			ag := events.Agent{Name: a}
			if len(checks) > 1 {
				ag.Name = a + "/" + id
			}
			if v := l.st.reports[t][a].state; v != health.Unknown {
				ag.Vote = v.String()
			}
			out = append(out, ag)
		}
	}
	slices.SortFunc(out, func(x, y events.Agent) int { return strings.Compare(x.Name, y.Name) })
	return out
}

// expire returns the deletes of statuses whose IP no record has used for
// status-grace. The clock starts when this leader first sees the IP
// unused, so a new leader gives every such IP the full grace again. Locked.
func (l *leader) expire(now time.Time) []statusChange {
	st := l.st
	var out []statusChange
	for ip := range l.orphans {
		if _, ok := st.status[ip]; !ok {
			delete(l.orphans, ip)
		}
	}
	for ip, e := range st.status {
		if _, used := st.ipNames[ip]; used {
			delete(l.orphans, ip)
			continue
		}
		since, ok := l.orphans[ip]
		if !ok {
			since = now
			l.orphans[ip] = now
		}
		if now.Sub(since) >= l.s.cfg.StatusGrace {
			out = append(out, statusChange{ip: ip, modRev: e.modRev, why: "no record uses the IP any more", from: e.state})
		}
	}
	return out
}

// writeStatus writes status changes, each only if its key is still at the
// revision it was decided on: a status someone else changed meanwhile
// (the API adding ports, an operator) is re-read and decided again rather
// than overwritten.
func (l *leader) writeStatus(ctx context.Context, changes []statusChange) error {
	paths := l.s.cfg.Paths
	for chunk := range slices.Chunk(changes, maxTxnOps) {
		ops := make([]clientv3.Op, 0, len(chunk))
		for _, c := range chunk {
			key := paths.StatusKey(c.ip)
			if c.check != "" {
				key = paths.VerdictKey(c.ip, c.check)
			}
			cmp := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", c.modRev)}
			if c.check != "" && c.verdict != nil {
				ops = append(ops, clientv3.OpTxn(cmp, []clientv3.Op{clientv3.OpPut(key, string(c.verdict))}, nil))
				continue
			}
			if c.value == nil {
				ops = append(ops, clientv3.OpTxn(cmp, []clientv3.Op{clientv3.OpDelete(key)}, nil))
				continue
			}
			b, err := health.Encode(*c.value)
			if err != nil {
				continue // only UP and DOWN are decided
			}
			ops = append(ops, clientv3.OpTxn(cmp, []clientv3.Op{clientv3.OpPut(key, string(b))}, nil))
		}
		resp, err := l.commit(ctx, ops)
		if err != nil {
			return err
		}
		l.applyStatus(chunk, resp)
	}
	return nil
}

func (l *leader) applyStatus(chunk []statusChange, resp *clientv3.TxnResponse) {
	st := l.st
	st.mu.Lock()
	defer st.mu.Unlock()
	for i, c := range chunk {
		if i >= len(resp.Responses) || !resp.Responses[i].GetResponseTxn().GetSucceeded() {
			l.s.m.conflicts.Inc()
			continue // changed under us: the view brings the new value, we decide again
		}
		if c.check != "" {
			if c.verdict == nil {
				dropVerdict(st.verdicts, c.ip, c.check)
			} else {
				setVerdict(st.verdicts, c.ip, c.check, verdictEntry{state: c.state, modRev: resp.Header.Revision})
				l.s.cfg.Log.Debug("verdict", "ip", c.ip.String(), "check", c.check, "status", c.state.String())
				if c.event && c.from != c.state {
					l.recordVerdict(c)
				}
			}
			continue
		}
		if c.value == nil {
			delete(st.status, c.ip)
			delete(l.orphans, c.ip)
			l.s.m.statusDeleted.Inc()
			l.s.cfg.Log.Info("status removed: "+c.why, "ip", c.ip.String())
			l.record(c, nil)
			continue
		}
		l.record(c, c.value)
		st.status[c.ip] = entryOf(*c.value, resp.Header.Revision)
		l.s.m.statusChanges.WithLabelValues(c.value.Status).Inc()
		l.s.cfg.Log.Info("status", "ip", c.ip.String(), "status", c.value.Status, "votes", c.value.Votes, "reason", c.value.Reason,
			"override", c.value.Override)
	}
}

// record adds the history event of a status change that was written: to
// is the new value, nil when the key was deleted. Locked.
func (l *leader) record(c statusChange, to *health.Status) {
	if l.s.cfg.Events == nil {
		return
	}
	e := events.Event{Kind: events.KindStatus, IPs: []string{c.ip.String()}, Agents: c.agents}
	if c.from != health.Unknown {
		e.From = c.from.String()
	}
	for name := range l.st.ipNames[c.ip] {
		e.Names = append(e.Names, strings.TrimSuffix(name, "."))
	}
	slices.Sort(e.Names)
	if to == nil {
		e.Reason = c.why
	} else {
		e.To, e.Votes, e.Reason, e.Override = to.Status, to.Votes, to.Reason, to.Override
	}
	l.s.cfg.Events.Add(e)
}

// recordVerdict adds the history event of one check's verdict on an IP
// that changed: with several checks on an IP, the name whose check it is
// can lose the IP while its status stays. Locked.
func (l *leader) recordVerdict(c statusChange) {
	if l.s.cfg.Events == nil {
		return
	}
	e := events.Event{Kind: events.KindStatus, IPs: []string{c.ip.String()}, To: c.state.String(), Agents: c.agents,
		Reason: strings.TrimSpace("check " + c.check + ": " + c.why)}
	if c.from != health.Unknown {
		e.From = c.from.String()
	}
	for name := range l.st.ipNames[c.ip] {
		e.Names = append(e.Names, strings.TrimSuffix(name, "."))
	}
	slices.Sort(e.Names)
	l.s.cfg.Events.Add(e)
}

// checkAgents finds agents whose lease has gone unrefreshed for longer
// than agent-downtime. Their key still exists (the lease TTL is longer),
// but they are not keeping up, so they get no jobs until they beat again.
func (l *leader) checkAgents(ctx context.Context) {
	st := l.st
	st.mu.Lock()
	leases := map[clientv3.LeaseID]string{}
	for a, e := range st.agents {
		if !e.idle && e.lease != clientv3.NoLease {
			leases[e.lease] = a
		}
	}
	st.mu.Unlock()
	changed := false
	for id := range l.stale {
		if _, ok := leases[id]; !ok {
			delete(l.stale, id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(leases)) {
		tctx, cancel := context.WithTimeout(ctx, l.s.cfg.RequestTimeout)
		resp, err := l.s.cli.TimeToLive(tctx, id)
		cancel()
		if err != nil {
			continue // etcd away: keep what we knew
		}
		since := time.Duration(resp.GrantedTTL-resp.TTL) * time.Second
		overdue := resp.TTL < 0 || since > l.s.cfg.AgentDowntime
		if overdue != l.stale[id] {
			changed = true
			if overdue {
				l.stale[id] = true
				l.s.cfg.Log.Warn("agent overdue: no heartbeat for longer than agent-downtime; its jobs move",
					"agent", leases[id], "since", since.String())
			} else {
				delete(l.stale, id)
			}
		}
	}
	if changed {
		st.mu.Lock()
		st.agentsChanged = true
		st.mu.Unlock()
	}
}

func setOf(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, a := range list {
		m[a] = true
	}
	return m
}
