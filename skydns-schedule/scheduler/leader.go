package scheduler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/skydns/skydns/internal/backoff"
	"github.com/skydns/skydns/internal/etcdclient"
	"github.com/skydns/skydns/internal/health"
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
	ip    netip.Addr
	spec  string // put this; empty: delete
	all   bool   // delete every job of agent
}

// statusChange is one write to the status directory.
type statusChange struct {
	ip     netip.Addr
	value  *health.Status // nil: delete
	modRev int64          // the key's revision we decided on (0: absent)
	why    string         // for the log of a delete
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
	}
	l.updateTrust(live, affected, all)
	at := time.Now()
	now := at.UTC().Truncate(time.Millisecond)
	var changes []statusChange
	for ip := range affected {
		if c, ok := l.evaluate(ip, live, now, at); ok {
			changes = append(changes, c)
		}
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
		for ip := range st.holders {
			targets[ip] = struct{}{}
		}
	}
	r := min(l.s.cfg.Replicas, len(eligible))
	agentSite := func(a string) string { return st.agents[a].site }
	for ip := range targets {
		var want []string
		var spec string
		if _, used := st.ipNames[ip]; used {
			want = pickSited(ip, eligible, r, st.siteOf(ip), agentSite)
			spec = string(st.spec(ip).Encode())
		}
		for a := range st.holders[ip] {
			if ok[a] && !slices.Contains(want, a) {
				out = append(out, jobChange{agent: a, ip: ip})
			}
		}
		for _, a := range want {
			if st.jobs[a][ip] != spec {
				out = append(out, jobChange{agent: a, ip: ip, spec: spec})
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
			ops = append(ops, clientv3.OpDelete(paths.JobKey(c.agent, c.ip)))
		default:
			ops = append(ops, clientv3.OpPut(paths.JobKey(c.agent, c.ip), c.spec))
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
	st := l.st
	for _, c := range changes {
		switch {
		case c.all:
			for ip := range st.jobs[c.agent] {
				deleteJob(st.jobs, st.holders, c.agent, ip)
				affected[ip] = struct{}{}
			}
		case c.spec == "":
			deleteJob(st.jobs, st.holders, c.agent, c.ip)
			affected[c.ip] = struct{}{}
		default:
			setJob(st.jobs, st.holders, c.agent, c.ip, c.spec)
			affected[c.ip] = struct{}{}
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
			for a := range st.holders[ip] {
				agents[a] = true
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
		for ip := range st.jobs[a] {
			own := st.reports[ip][a].state
			if own == health.Unknown {
				continue
			}
			up, down := 0, 0
			for b := range st.holders[ip] {
				if b == a || !ok[b] {
					continue
				}
				switch st.reports[ip][b].state {
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
		for ip := range st.jobs[a] {
			affected[ip] = struct{}{}
		}
	}
}

// evaluate decides ip's status and returns the write it needs, if any.
// The checkers' votes decide, unless an operator's override is in force at
// at: then the override's status is written, with the checkers' own
// verdict kept beside it (checked), so that the status goes back to that
// verdict the moment the override is removed or expires. now is the time
// written as since. Locked.
func (l *leader) evaluate(ip netip.Addr, ok map[string]bool, now, at time.Time) (statusChange, bool) {
	st := l.st
	if _, used := st.ipNames[ip]; !used {
		return statusChange{}, false // not a target; expire() deals with it
	}
	cur := st.status[ip]
	n, up, down := 0, 0, 0
	var reasonFrom string
	reason := ""
	for a := range st.holders[ip] {
		if !ok[a] || l.distrusted[a] {
			continue
		}
		n++
		switch v := st.reports[ip][a]; v.state {
		case health.Up:
			up++
		case health.Down:
			down++
			if reasonFrom == "" || a < reasonFrom {
				reasonFrom, reason = a, v.reason
			}
		}
	}
	// The checkers' verdict moves from their last one: under an override
	// the status holds the override's word, and checked holds theirs.
	base := cur.state
	if cur.override {
		base = cur.checked
	}
	checks := decide(base, up, down, n)
	votes := fmt.Sprintf("%d/%d down", down, n)

	if o, on := st.override(ip, at); on {
		want, _ := o.State() // only readable overrides are kept
		why := o.Describe()
		if cur.override && cur.state == want && cur.reason == why && cur.checked == checks {
			return statusChange{}, false
		}
		since := now
		if cur.override && cur.state == want && !cur.since.IsZero() {
			since = cur.since // the same override, re-worded, or the checks moved
		}
		verdict := "none yet"
		if checks != health.Unknown {
			verdict = checks.String()
		}
		v := &health.Status{Status: want.String(), Since: since, Reason: why,
			Votes: fmt.Sprintf("manual override; checks: %s, %s", verdict, votes), Ports: cur.ports, Override: true}
		if checks != health.Unknown {
			v.Checked = checks.String()
		}
		return statusChange{ip: ip, value: v, modRev: cur.modRev}, true
	}

	if cur.override {
		// The override was removed or expired: the checkers' verdict, at
		// once, even if it is the same word. With no verdict at all the
		// IP is unchecked again: no status.
		if checks == health.Unknown {
			return statusChange{ip: ip, modRev: cur.modRev, why: "the override ended and no checker has a verdict yet"}, true
		}
	} else if checks == cur.state || checks == health.Unknown {
		return statusChange{}, false
	}
	v := &health.Status{Status: checks.String(), Since: now, Votes: votes, Ports: cur.ports}
	if checks == health.Down {
		v.Reason = reason
	}
	return statusChange{ip: ip, value: v, modRev: cur.modRev}, true
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
			out = append(out, statusChange{ip: ip, modRev: e.modRev, why: "no record uses the IP any more"})
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
			cmp := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", c.modRev)}
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
		if c.value == nil {
			delete(st.status, c.ip)
			delete(l.orphans, c.ip)
			l.s.m.statusDeleted.Inc()
			l.s.cfg.Log.Info("status removed: "+c.why, "ip", c.ip.String())
			continue
		}
		st.status[c.ip] = entryOf(*c.value, resp.Header.Revision)
		l.s.m.statusChanges.WithLabelValues(c.value.Status).Inc()
		l.s.cfg.Log.Info("status", "ip", c.ip.String(), "status", c.value.Status, "votes", c.value.Votes, "reason", c.value.Reason,
			"override", c.value.Override)
	}
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
