package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/monitor"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
	"github.com/skydns/skydns/internal/record"
)

// The invariants' bounds, stated for a loaded 2-core machine.
const (
	// A dead backend leaves every answer within fall x check-interval + 2 s
	// (the bound) plus 1 s for scheduling delays, counted while
	// etcd has quorum and a schedule leads.
	deadBound = fall*checkInterval + 2*time.Second + time.Second
	// Every daemon serves again (API write acknowledged and answered by
	// both DNS replicas, every /readyz 200) within this long after a
	// quorum-loss ends, without a restart.
	recoveryBound = 10 * time.Second
)

// plan is one run's shape.
type plan struct {
	faults     []string
	duration   time.Duration // of the fault phase; 0: each fault once
	quorumLoss time.Duration
	pause      time.Duration // at most, between faults
	qps        int
}

var (
	shortPlan = plan{
		faults: []string{"etcd-leader-kill", "quorum-loss", "compact-defrag", "dns-kill",
			"schedule-leader-kill", "api-kill", "member-isolate", "scanner-kill"},
		quorumLoss: 6 * time.Second, qps: 60, pause: time.Second,
	}
	fullPlan = plan{
		faults: []string{"etcd-leader-kill", "etcd-follower-kill", "member-isolate", "quorum-loss",
			"compact-defrag", "dns-kill", "api-kill", "schedule-leader-kill", "scanner-kill"},
		duration: 7 * time.Minute, quorumLoss: 30 * time.Second, qps: 100, pause: 3 * time.Second,
	}
)

// A short seeded run: part of `make test`.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault-injection suite starts a 3-member etcd cluster and the whole stack")
	}
	runChaos(t, shortPlan)
}

// The full run: `make chaos` (CHAOS_FULL=1).
func TestChaosFull(t *testing.T) {
	if os.Getenv("CHAOS_FULL") == "" {
		t.Skip("the full run is `make chaos` (CHAOS_FULL=1)")
	}
	runChaos(t, fullPlan)
}

// event is one logged fault or failover.
type event struct {
	at     time.Time
	what   string
	detail string
}

type run struct {
	t     *testing.T
	s     *stack
	rng   *rand.Rand
	start time.Time

	mu         sync.Mutex
	events     []event
	excused    [][2]time.Time // no quorum, no schedule leader, or a checker dead
	quorumLost [][2]time.Time
	kills      map[string][][2]time.Time // backend IP -> [killed, revived)
	figures    map[string][]time.Duration
	failures   []string
}

func (r *run) logf(what, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := event{time.Now(), what, fmt.Sprintf(format, args...)}
	r.events = append(r.events, e)
	r.t.Logf("%7.3fs %-22s %s", e.at.Sub(r.start).Seconds(), what, e.detail)
}

func (r *run) figure(name string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.figures[name] = append(r.figures[name], d)
}

func (r *run) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *run) excuse(from, to time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.excused = append(r.excused, [2]time.Time{from, to})
}

func runChaos(t *testing.T, p plan) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("CHAOS_SEED: %v", err)
		}
	}
	t.Logf("seed %d (CHAOS_SEED=%d reproduces the fault schedule)", seed, seed)
	s := startStack(t, 2, 3, 3)
	r := &run{t: t, s: s, rng: rand.New(rand.NewPCG(seed, seed)), start: time.Now(),
		kills: map[string][][2]time.Time{}, figures: map[string][]time.Duration{}}
	writeIPs := mt.LoopbackIPs(6)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var queries []qrec
	var writes []wrec
	phase := p.duration
	if phase == 0 {
		phase = 2 * time.Minute // a bound for the load's buffers only
	}
	maxQ := int(phase.Seconds()+30) * p.qps
	wg.Go(func() { queries = s.dnsLoad(ctx, p.qps, maxQ) })
	apiRng := rand.New(rand.NewPCG(seed+1, seed))
	wg.Go(func() { writes = s.apiLoad(ctx, apiRng, writeIPs, int(phase.Seconds()+30)*10) })
	bctx, bcancel := context.WithCancel(ctx)
	backendRng := rand.New(rand.NewPCG(seed+2, seed))
	var bwg sync.WaitGroup
	bwg.Go(func() { r.backendChaos(bctx, backendRng) })

	// The faults, in a seeded order, repeated until the phase ends.
	deadline := time.Now().Add(phase)
	faults := slices.Clone(p.faults)
	injected := 0
	for pass := 0; time.Now().Before(deadline) && (p.duration > 0 || pass == 0); pass++ {
		r.rng.Shuffle(len(faults), func(i, j int) { faults[i], faults[j] = faults[j], faults[i] })
		for _, f := range faults {
			if !time.Now().Before(deadline) {
				break
			}
			r.inject(f, p)
			injected++
			r.pause(p.pause/3, p.pause)
		}
	}
	bcancel()
	bwg.Wait()
	// Every backend alive again, then a quiet tail: the load still runs.
	time.Sleep(2 * time.Second)
	cancel()
	wg.Wait()
	r.report(p, seed, injected, queries, writes)
}

func (r *run) pause(min, max time.Duration) {
	time.Sleep(min + time.Duration(r.rng.Int64N(int64(max-min))))
}

// backendChaos kills a backend of a name whose two backends are both up
// (one stays, so a healthy answer always exists), and revives it later.
func (r *run) backendChaos(ctx context.Context, rng *rand.Rand) {
	type dead struct {
		b     *mt.Backend
		until time.Time
	}
	var down []dead
	names := make([]string, 0, len(r.s.names))
	for n := range r.s.names {
		names = append(names, n)
	}
	slices.Sort(names)
	revive := func(d dead) {
		d.b.Restart()
		r.mu.Lock()
		k := r.kills[d.b.IP().String()]
		k[len(k)-1][1] = time.Now()
		r.mu.Unlock()
		r.logf("backend-revive", "%s", d.b.IP())
	}
	defer func() {
		for _, d := range down {
			revive(d)
		}
	}()
	next := time.Now().Add(2 * time.Second)
	for ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		now := time.Now()
		down = slices.DeleteFunc(down, func(d dead) bool {
			if now.After(d.until) {
				revive(d)
				return true
			}
			return false
		})
		if now.Before(next) {
			continue
		}
		next = now.Add(3*time.Second + time.Duration(rng.Int64N(int64(4*time.Second))))
		name := names[rng.IntN(len(names))]
		bs := r.s.names[name]
		if !bs[0].Up() || !bs[1].Up() || r.recentlyRevived(bs, now) {
			continue
		}
		b := bs[rng.IntN(2)]
		b.Kill()
		r.mu.Lock()
		r.kills[b.IP().String()] = append(r.kills[b.IP().String()], [2]time.Time{now, {}})
		r.mu.Unlock()
		r.logf("backend-kill", "%s (%s)", b.IP(), name)
		down = append(down, dead{b, now.Add(6*time.Second + time.Duration(rng.Int64N(int64(6*time.Second))))})
	}
}

// recentlyRevived: a backend back for less than rise checks + 2 s is not
// yet a healthy one to fall back on.
func (r *run) recentlyRevived(bs []*mt.Backend, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range bs {
		k := r.kills[b.IP().String()]
		if len(k) > 0 && now.Sub(k[len(k)-1][1]) < rise*checkInterval+2*time.Second {
			return true
		}
	}
	return false
}

// inject runs one fault to its end (the victim restarted or reconnected).
func (r *run) inject(f string, p plan) {
	s, c := r.s, r.s.etcd
	switch f {
	case "etcd-leader-kill":
		l, _ := c.waitLeader(nil, 20*time.Second)
		if l == nil {
			r.fail("no etcd leader before %s", f)
			return
		}
		l.proc.kill()
		r.logf(f, "kill -9 %s", l.name)
		nl, took := c.waitLeader(l, 30*time.Second)
		if nl == nil {
			r.fail("no new etcd leader within 30s of killing %s", l.name)
		} else {
			r.logf("etcd-new-leader", "%s after %v", nl.name, took.Round(time.Millisecond))
			r.figure("etcd leader failover", took)
		}
		r.pause(2*time.Second, 4*time.Second)
		r.restartMember(l)
	case "etcd-follower-kill":
		l, _ := c.waitLeader(nil, 20*time.Second)
		m := r.other(l)
		m.proc.kill()
		r.logf(f, "kill -9 %s", m.name)
		r.pause(3*time.Second, 5*time.Second)
		r.restartMember(m)
	case "member-isolate":
		// The leader, half the time: the cluster must elect another.
		m := r.other(nil)
		if l := c.leader(); l != nil && r.rng.IntN(2) == 0 {
			m = l
		}
		wasLeader := m == c.leader()
		c.isolate(m, true)
		r.logf(f, "%s cut from clients and peers (leader: %v)", m.name, wasLeader)
		nl, took := c.waitLeader(m, 30*time.Second)
		if nl != nil && wasLeader {
			r.figure("etcd leader with one member isolated", took)
		}
		r.pause(4*time.Second, 6*time.Second)
		c.isolate(m, false)
		r.logf("member-rejoin", "%s", m.name)
	case "quorum-loss":
		a := r.other(nil)
		b := r.other(a)
		lost := time.Now()
		a.proc.kill()
		b.proc.kill()
		r.logf(f, "kill -9 %s and %s for %v", a.name, b.name, p.quorumLoss)
		time.Sleep(p.quorumLoss)
		for _, m := range []*member{a, b} {
			if err := m.proc.start(); err != nil {
				r.fail("restart %s: %v", m.name, err)
			}
		}
		_, took := c.waitLeader(nil, 60*time.Second)
		back := time.Now()
		r.excuse(lost, back)
		r.mu.Lock()
		r.quorumLost = append(r.quorumLost, [2]time.Time{lost, back})
		r.mu.Unlock()
		r.logf("quorum-back", "leader after %v", took.Round(time.Millisecond))
		r.recovery(back)
	case "compact-defrag":
		start := time.Now()
		if err := c.compactDefrag(); err != nil {
			r.fail("compact/defrag: %v", err)
		}
		r.logf(f, "compacted and defragmented in %v", time.Since(start).Round(time.Millisecond))
	case "dns-kill":
		r.killRestart(f, s.dns[r.rng.IntN(len(s.dns))])
	case "api-kill":
		r.killRestart(f, s.api)
	case "scanner-kill":
		// DOWN needs a strict majority of an IP's checkers (replicas = 2):
		// with one of them dead, its IPs cannot go DOWN until it is back
		// and has checked fall times (or agent-downtime moves its jobs).
		killed := time.Now()
		r.killRestart(f, s.scanners[r.rng.IntN(len(s.scanners))])
		r.excuse(killed, time.Now().Add(fall*checkInterval+time.Second))
	case "schedule-leader-kill":
		holder, _, _ := s.schedLeader()
		var victim, other *proc
		for _, p := range s.scheds {
			if p.name == holder {
				victim = p
			} else {
				other = p
			}
		}
		if victim == nil {
			r.fail("no schedule leader to kill")
			return
		}
		killed := time.Now()
		victim.kill()
		r.logf(f, "kill -9 %s", victim.name)
		took := time.Duration(0)
		for took = time.Since(killed); took < 30*time.Second; took = time.Since(killed) {
			if h, _, _ := s.schedLeader(); h == other.name {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		r.excuse(killed, time.Now())
		r.logf("schedule-new-leader", "%s after %v (lock-ttl %v)", other.name, took.Round(time.Millisecond), lockTTL)
		r.figure("schedule leader failover", took)
		if err := victim.start(); err != nil {
			r.fail("restart %s: %v", victim.name, err)
		}
	}
}

// other picks a running, connected member that is not m.
func (r *run) other(m *member) *member {
	var ms []*member
	for _, o := range r.s.etcd.members {
		if o != m && o.proc.running() && !o.isolated {
			ms = append(ms, o)
		}
	}
	return ms[r.rng.IntN(len(ms))]
}

func (r *run) restartMember(m *member) {
	if err := m.proc.start(); err != nil {
		r.fail("restart %s: %v", m.name, err)
	}
	r.logf("member-restart", "%s", m.name)
}

func (r *run) killRestart(f string, p *proc) {
	p.kill()
	r.logf(f, "kill -9 %s", p.name)
	r.pause(time.Second, 3*time.Second)
	if err := p.start(); err != nil {
		r.fail("restart %s: %v", p.name, err)
	}
	r.logf("restart", "%s", p.name)
}

// recovery measures how long after quorum returns the API acknowledges a
// write that both DNS replicas then answer, and every /readyz is 200.
func (r *run) recovery(back time.Time) {
	s := r.s
	probe := fmt.Sprintf("probe%d", back.UnixNano()%1e6)
	ip := mt.LoopbackIPs(1)[0].String()
	var ack, dns0, dns1, ready, monitors time.Duration
	deadline := back.Add(recoveryBound + 20*time.Second)
	for time.Now().Before(deadline) && (ack == 0 || dns0 == 0 || dns1 == 0 || ready == 0 || monitors == 0) {
		// Every scanner registered again and a schedule leads.
		if monitors == 0 && s.agents() == len(s.scanners) && s.schedLeading() {
			monitors = time.Since(back)
		}
		if ack == 0 {
			if c, _ := s.call("POST", "/skydns/api/"+probe, fmt.Sprintf(`{"type":"A","ips":[%q]}`, ip)); c == 200 {
				ack = time.Since(back)
			}
		}
		if ack != 0 && dns0 == 0 {
			if ips, _ := query(s.dnsAddrs[0], "udp", probe+".skydns.local.", queryTimeout); slices.Contains(ips, ip) {
				dns0 = time.Since(back)
			}
		}
		if ack != 0 && dns1 == 0 {
			if ips, _ := query(s.dnsAddrs[1], "udp", probe+".skydns.local.", queryTimeout); slices.Contains(ips, ip) {
				dns1 = time.Since(back)
			}
		}
		if ready == 0 && httpOK("http://"+s.apiAddr+"/readyz") && httpOK("http://"+s.dnsStats[0]+"/readyz") &&
			httpOK("http://"+s.dnsStats[1]+"/readyz") {
			ready = time.Since(back)
		}
		time.Sleep(100 * time.Millisecond)
	}
	all := max(ack, dns0, dns1, ready, monitors)
	if ack == 0 || dns0 == 0 || dns1 == 0 || ready == 0 || monitors == 0 {
		all = time.Since(back)
	}
	r.logf("recovered", "write acknowledged %v, in DNS %v / %v, all ready %v, scanners registered and a schedule leading %v",
		ack.Round(time.Millisecond), dns0.Round(time.Millisecond), dns1.Round(time.Millisecond), ready.Round(time.Millisecond),
		monitors.Round(time.Millisecond))
	r.figure("recovery after quorum returns", all)
	if all > recoveryBound || ack == 0 || dns0 == 0 || dns1 == 0 || ready == 0 || monitors == 0 {
		r.fail("after quorum returned: write acknowledged %v, in DNS %v / %v, ready %v, scanners and schedule %v (bound %v; 0: never)",
			ack, dns0, dns1, ready, monitors, recoveryBound)
	}
	s.call("DELETE", "/skydns/api/"+probe, "")
}

// quorumLostWithin is how much of [from, to] etcd had no quorum.
func (r *run) quorumLostWithin(from, to time.Time) time.Duration {
	var d time.Duration
	for _, e := range r.quorumLost {
		lo, hi := max(from.UnixNano(), e[0].UnixNano()), min(to.UnixNano(), e[1].UnixNano())
		if hi > lo {
			d += time.Duration(hi - lo)
		}
	}
	return d
}

// excusedWithin is how much of [from, to] etcd had no quorum or no
// schedule led: no status can change then.
func (r *run) excusedWithin(from, to time.Time) time.Duration {
	var d time.Duration
	for _, e := range r.excused {
		lo, hi := max(from.UnixNano(), e[0].UnixNano()), min(to.UnixNano(), e[1].UnixNano())
		if hi > lo {
			d += time.Duration(hi - lo)
		}
	}
	return d
}

// deadIn: the kill interval of ip that contains t, if any.
func (r *run) deadAt(ip string, t time.Time) (time.Time, bool) {
	for _, k := range r.kills[ip] {
		if !t.Before(k[0]) && (k[1].IsZero() || t.Before(k[1])) {
			return k[0], true
		}
	}
	return time.Time{}, false
}

// aliveThrough: ip was not dead at any time in [from, to].
func (r *run) aliveThrough(ip string, from, to time.Time) bool {
	for _, k := range r.kills[ip] {
		end := k[1]
		if end.IsZero() {
			end = to.Add(time.Hour)
		}
		if k[0].Before(to) && end.After(from) {
			return false
		}
	}
	return true
}

func (r *run) report(p plan, seed uint64, injected int, queries []qrec, writes []wrec) {
	t, s := r.t, r.s
	// DNS: failures and the longest gap without an answer.
	failed := 0
	var gap time.Duration
	var lastOK time.Time
	if len(queries) > 0 {
		lastOK = queries[0].sent
	}
	// Per backend kill, the longest it was answered past the bound while
	// the name's other backend was healthy.
	type kill struct {
		ip     string
		killed time.Time
	}
	over := map[kill]time.Duration{}
	var staleMax time.Duration
	for _, q := range queries {
		if !q.ok {
			failed++
			continue
		}
		gap = max(gap, q.sent.Sub(lastOK))
		lastOK = q.sent
		bs := s.names[q.name]
		for _, ip := range q.ips {
			killed, dead := r.deadAt(ip, q.sent)
			if !dead {
				continue
			}
			held := q.sent.Sub(killed) - r.excusedWithin(killed, q.sent)
			staleMax = max(staleMax, held)
			if held <= deadBound {
				continue
			}
			for _, b := range bs {
				o := b.IP().String()
				if o != ip && r.aliveThrough(o, killed.Add(-rise*checkInterval-2*time.Second), q.sent) {
					k := kill{ip, killed}
					over[k] = max(over[k], held)
					break
				}
			}
		}
	}
	// A leader change is not an excuse: the scanners' reports and the
	// schedule's statuses in flight are tried again within a second of
	// the new leader (etcdclient.Retry).
	stale := 0
	for k, held := range over {
		at := k.killed.Sub(r.start).Seconds()
		stale++
		r.fail("%s answered %v after it died at %.3fs (bound %v), while the name's other backend was healthy", k.ip, held.Round(time.Millisecond), at, deadBound)
	}
	if failed > 0 {
		r.fail("%d of %d DNS queries unanswered", failed, len(queries))
	}

	// Writes: every acknowledged one is in etcd, ambiguous ones either way.
	want := possible(writes)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	counts := map[string]int{}
	for _, w := range writes {
		counts[w.class()]++
	}
	// A 503 says etcd could not commit within request-timeout (5 s): an
	// election takes about a second, so a 503 is allowed only to a request
	// that overlapped a quorum loss. Any other 503 is a failure.
	quorate503 := 0
	for _, w := range writes {
		if w.code == 503 && r.quorumLostWithin(w.start, w.end) == 0 {
			quorate503++
			r.fail("%s %s answered 503 at %.3fs (took %v) while etcd had a quorum: %s", w.op, w.key,
				w.start.Sub(r.start).Seconds(), w.end.Sub(w.start).Round(time.Millisecond), w.err)
		}
	}
	lost := 0
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		got, err := r.actual(ctx, k)
		if err != nil {
			r.fail("read %s: %v", k, err)
			continue
		}
		if !want[k][got] {
			lost++
			var ps []string
			for s := range want[k] {
				ps = append(ps, fmt.Sprintf("%q", s))
			}
			r.fail("%s is %q in etcd; the acknowledged writes allow only %s", k, got, strings.Join(ps, " or "))
		}
	}
	exits := s.exits()
	for _, e := range exits {
		r.fail("unexpected exit: %s", e)
	}

	// The table.
	var b strings.Builder
	fig := func(name string) string {
		ds := r.figures[name]
		if len(ds) == 0 {
			return "-"
		}
		return fmt.Sprintf("%d, max %v", len(ds), slices.Max(ds).Round(time.Millisecond))
	}
	row := func(k, v string, args ...any) { fmt.Fprintf(&b, "| %-44s | %s |\n", k, fmt.Sprintf(v, args...)) }
	fmt.Fprintf(&b, "\nchaos report: seed %d, fault phase %v, %d faults injected\n\n", seed, time.Since(r.start).Round(time.Second), injected)
	b.WriteString("| figure | value |\n|---|---|\n")
	kinds := map[string]int{}
	for _, e := range r.events {
		kinds[e.what]++
	}
	var ks []string
	for k := range kinds {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var inj []string
	for _, k := range ks {
		inj = append(inj, fmt.Sprintf("%s %d", k, kinds[k]))
	}
	row("faults and events", "%s", strings.Join(inj, ", "))
	row("DNS queries (UDP and TCP, 2 replicas)", "%d at %d/s", len(queries), p.qps)
	row("DNS queries unanswered", "%d", failed)
	row("longest gap without an answer", "%v", gap.Round(time.Millisecond))
	nkills := 0
	for _, k := range r.kills {
		nkills += len(k)
	}
	row("backend kills", "%d", nkills)
	row("dead IP answered past the bound, healthy one up", "%d kills (bound %v; longest a dead IP was answered %v)", stale, deadBound, staleMax.Round(time.Millisecond))
	row("etcd leader failover (kill -9)", "%s", fig("etcd leader failover"))
	row("etcd leader failover (the leader isolated)", "%s", fig("etcd leader with one member isolated"))
	row("schedule leader failover (kill -9)", "%s", fig("schedule leader failover"))
	row("recovery after quorum returns", "%s (bound %v)", fig("recovery after quorum returns"), recoveryBound)
	row("API writes", "%d: acknowledged %d, ambiguous %d, refused %d, not sent %d", len(writes), counts["ack"], counts["ambiguous"], counts["refused"], counts["not sent"])
	row("acknowledged writes lost", "%d", lost)
	row("API 503 while etcd had a quorum", "%d", quorate503)
	row("daemon exits not caused by the suite", "%d", len(exits))
	t.Log(b.String())
	if dir := os.Getenv("CHAOS_DIR"); dir != "" {
		os.WriteFile(filepath.Join(dir, "report.md"), []byte(b.String()), 0o644)
		var wl strings.Builder
		for _, w := range writes {
			fmt.Fprintf(&wl, "%s %6dms %-8s %-30s %-16s %d %s %s\n", w.start.UTC().Format("15:04:05.000"), w.end.Sub(w.start).Milliseconds(),
				w.op, w.key, w.arg, w.code, w.class(), w.err)
		}
		os.WriteFile(filepath.Join(dir, "writes.log"), []byte(wl.String()), 0o644)
	}
	for _, f := range r.failures {
		t.Error(f)
	}
}

// actual reads a key's state from etcd, as possible() spells states.
func (r *run) actual(ctx context.Context, key string) (string, error) {
	kind, id, _ := strings.Cut(key, ":")
	if kind == "override" {
		resp, err := r.s.etcd.admin.Get(ctx, monitor.OverrideKey(overridePath, netip.MustParseAddr(id)))
		if err != nil || len(resp.Kvs) == 0 {
			return "", err
		}
		return "DOWN", nil
	}
	resp, err := r.s.etcd.admin.Get(ctx, record.NamePath(record.DefaultPrefix, id+".skydns.local.")+"/", clientv3.WithPrefix())
	if err != nil {
		return "", err
	}
	var ips []string
	for _, kv := range resp.Kvs {
		var v struct {
			Host string `json:"host"`
		}
		if json.Unmarshal(kv.Value, &v) == nil && v.Host != "" {
			ips = append(ips, v.Host)
		}
	}
	slices.Sort(ips)
	return strings.Join(ips, ","), nil
}
