package agent

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/skydns-scanner/probe"
)

// target is one check of one IP the agent probes. Only the loop goroutine touches it.
type target struct {
	key  monitor.Target
	ip   netip.Addr
	spec string // the job's encoded spec, to notice changes
	plan probe.Plan
	due  time.Time // next probe
	idx  int       // position in the heap; -1 when not in it
	busy bool      // a probe is queued or running
	slot time.Time // the due time the queued probe is for
	gone bool      // the job was withdrawn
	v    verdict
}

// queue orders targets by due time.
type queue []*target

func (q queue) Len() int           { return len(q) }
func (q queue) Less(i, j int) bool { return q[i].due.Before(q[j].due) }
func (q queue) Swap(i, j int)      { q[i], q[j] = q[j], q[i]; q[i].idx = i; q[j].idx = j }
func (q *queue) Push(x any)        { t := x.(*target); t.idx = len(*q); *q = append(*q, t) }
func (q *queue) Pop() any {
	old := *q
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	t.idx = -1
	return t
}

type result struct {
	t *target
	r probe.Result
}

// loop schedules the probes. Each target gets a random phase within the
// interval when it arrives and is then probed every interval exactly: the
// random phases spread the probes evenly over the interval (no bursts), and
// the fixed period keeps the failover bound at fall x interval. At most
// max-thread probes run at once; a target whose probe is still running
// when it is due again skips that round (and the skip is counted).
//
// Each probe run is a goroutine of its own, started when a slot is free:
// an idle slot costs nothing, so max-thread can be sized for the worst case
// (many targets timing out at once) rather than for the usual one.
type loop struct {
	a        *Agent
	targets  map[monitor.Target]*target
	q        queue
	ready    []*target // due, waiting for a free slot
	inflight int
	results  chan result
	running  sync.WaitGroup
	down     int
}

func newLoop(a *Agent) *loop {
	return &loop{
		a: a, targets: map[monitor.Target]*target{},
		// One place per slot: a finished probe never waits to hand over
		// its result.
		results: make(chan result, a.cfg.MaxThreads),
	}
}

func (l *loop) run(ctx context.Context) {
	defer func() {
		l.running.Wait() // ctx is done: the probes return at once
		l.a.m.targets.Set(0)
		l.a.m.targetsDown.Set(0)
	}()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if len(l.q) > 0 {
			timer.Reset(time.Until(l.q[0].due))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-ctx.Done():
			return
		case <-l.a.jobs.kick:
			l.applyJobs()
		case r := <-l.results:
			l.done(r)
		case <-timer.C:
			l.schedule()
		}
		l.dispatch(ctx)
	}
}

// schedule moves the targets that are due to the ready list.
func (l *loop) schedule() {
	now := time.Now()
	interval := l.a.cfg.Interval
	// A millisecond of slack saves a timer round trip per probe.
	for len(l.q) > 0 && l.q[0].due.Before(now.Add(time.Millisecond)) {
		t := l.q[0]
		if t.busy {
			l.a.m.skipped.Inc()
		} else {
			t.busy, t.slot = true, t.due
			l.ready = append(l.ready, t)
		}
		t.due = t.due.Add(interval)
		// Far behind (a stalled machine): keep the phase, skip the rounds
		// that are already past.
		for !t.due.After(now) {
			t.due = t.due.Add(interval)
			l.a.m.skipped.Inc()
		}
		heap.Fix(&l.q, 0)
	}
}

// dispatch starts the ready targets' probes while slots are free.
func (l *loop) dispatch(ctx context.Context) {
	for len(l.ready) > 0 && l.inflight < l.a.cfg.MaxThreads {
		t := l.ready[0]
		l.ready[0] = nil
		l.ready = l.ready[1:]
		if t.gone {
			continue
		}
		// How late probes start is how well the interval holds.
		l.a.m.lag.Observe(max(0, time.Since(t.slot)).Seconds())
		l.inflight++
		ip, plan := t.ip, t.plan // copies: the probe shares nothing with the loop
		l.running.Go(func() { l.results <- result{t, l.a.prober.Run(ctx, ip, plan)} })
	}
	if len(l.ready) == 0 {
		l.ready = nil // let the backing array go
	}
}

// done takes one probe result.
func (l *loop) done(r result) {
	l.inflight--
	t := r.t
	t.busy = false
	l.a.m.runs.Inc()
	if t.gone {
		return
	}
	before := t.v.state
	if !t.v.observe(r.r.OK, r.r.Reason, l.a.cfg.Rise, l.a.cfg.Fall, time.Now()) {
		return
	}
	l.countDown(before, t.v.state)
	l.a.m.verdicts[t.v.state].Inc()
	l.a.rep.set(t.key, t.v.report())
	if t.v.state == health.Down {
		l.a.cfg.Log.Info("target down", "ip", t.ip.String(), "check", t.key.Check, "reason", t.v.reason)
	} else {
		l.a.cfg.Log.Debug("target up", "ip", t.ip.String(), "check", t.key.Check)
	}
}

func (l *loop) countDown(before, after health.State) {
	if before == health.Down {
		l.down--
	}
	if after == health.Down {
		l.down++
	}
	l.a.m.targetsDown.Set(float64(l.down))
}

// applyJobs brings the targets in line with the jobs.
func (l *loop) applyJobs() {
	full, changes := l.a.jobs.take()
	if full != nil {
		for ip := range l.targets {
			if _, ok := full[ip]; !ok {
				l.remove(ip)
			}
		}
		for ip, s := range full {
			l.upsert(ip, s)
		}
	}
	for ip, s := range changes {
		if s == nil {
			l.remove(ip)
		} else {
			l.upsert(ip, *s)
		}
	}
	l.a.m.targets.Set(float64(len(l.targets)))
}

func (l *loop) upsert(key monitor.Target, s monitor.Spec) {
	enc := string(s.Encode())
	if t, ok := l.targets[key]; ok {
		if t.spec != enc {
			// The verdict carries over: the target is the same machine,
			// and the next probes under the new plan move it as usual.
			t.spec, t.plan = enc, l.a.cfg.plan(s)
		}
		return
	}
	t := &target{key: key, ip: key.IP, spec: enc, plan: l.a.cfg.plan(s), idx: -1}
	t.due = time.Now().Add(rand.N(l.a.cfg.Interval))
	l.targets[key] = t
	heap.Push(&l.q, t)
}

func (l *loop) remove(key monitor.Target) {
	t, ok := l.targets[key]
	if !ok {
		return
	}
	t.gone = true
	if t.idx >= 0 {
		heap.Remove(&l.q, t.idx)
	}
	l.countDown(t.v.state, health.Unknown)
	delete(l.targets, key)
	l.a.rep.remove(key)
}
