package scheduler

import (
	"iter"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/events"
	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/internal/topology"
)

// state is the scheduler's picture of etcd, kept by six views (records
// and policies, statuses, reports, agents, jobs, overrides). Every
// schedule keeps it,
// leader or not, so that a standby that takes over acts at once. The
// handlers note what changed; the leader loop takes those notes and acts
// on just that.
type state struct {
	prefix string // record prefix, with a trailing slash
	// rule says which names a record serves. The scheduler knows no
	// zones, so a record at a name's own path counts for its parent
	// whatever that is: a policy's check reaches every address the DNS
	// server may answer for its name (and, for a zone apex, a few more).
	rule       record.Rule
	policyPfx  string   // <prefix>/policy/
	topoPfx    string   // <prefix>/topology/
	skip       []string // prefixes under the record prefix that hold no records
	paths      monitor.Paths
	overrideP  string // override-path, with a trailing slash
	onChange   func()
	badRecords func()
	// badOverride is told of an override value that cannot be read.
	badOverride func(key string, err error)

	mu sync.Mutex

	recs     map[string]recRef                      // record key -> its A/AAAA target
	ipNames  map[netip.Addr]map[string]int          // IP -> names using it -> records
	nameIPs  map[string]map[netip.Addr]struct{}     // name -> IPs (for policy changes)
	policies map[string]*policy.Check               // name -> what to probe
	status   map[netip.Addr]statusEntry             // status keys
	reports  map[monitor.Target]map[string]vote     // target -> agent -> verdict
	agents   map[string]agentEntry                  // heartbeat keys
	jobs     map[string]map[monitor.Target]string   // agent -> target -> encoded spec
	holders  map[monitor.Target]map[string]struct{} // target -> agents with a job on it
	held     map[netip.Addr]map[string]int          // IP -> check-ids with a job -> jobs
	// verdicts are the verdict keys, IP -> check-id -> verdict.
	verdicts map[netip.Addr]map[string]verdictEntry
	// overrides are the readable override keys, IP -> override.
	overrides map[netip.Addr]overrideEntry
	// sites are the readable topology keys, name -> site, and topo their
	// compiled table: a target's site is where its checkers come from.
	sites    map[string]topology.Site
	topo     *topology.Topology
	ipFields map[netip.Addr]map[string]int // IP -> site fields of its records -> records

	// checkCache holds checks(ip) and pickCache each target's checkers
	// (for the agents and replicas named by pickFor), so that a full round
	// recomputes, encodes and ranks only what changed: touch drops an IP's
	// entries, changedAll all of them.
	checkCache map[netip.Addr]map[string]string
	pickCache  map[netip.Addr]map[string][]string
	pickFor    string

	// What changed since the leader last looked.
	dirtyTargets  map[netip.Addr]struct{} // spec or existence: reassign
	dirtyVotes    map[netip.Addr]struct{} // votes or checkers: decide again
	agentsChanged bool                    // the set of agents: reassign all
	all           bool                    // a view reloaded: look at everything
}

type recRef struct {
	names []string // every name the record serves (record.Rule)
	ip    netip.Addr
	site  string // the record's site field
}

type statusEntry struct {
	state  health.State // Unknown when the value is unreadable
	ports  []int
	modRev int64
	// What an override leaves in the status, so that the leader knows to
	// write the checkers' verdict back when it ends.
	override bool
	checked  health.State // with override: the checkers' verdict
	reason   string
	since    time.Time
}

// entryOf is what the state keeps of a status value.
func entryOf(st health.Status, modRev int64) statusEntry {
	e := statusEntry{ports: st.Ports, modRev: modRev, override: st.Override, reason: st.Reason, since: st.Since}
	e.state, _ = st.State()
	if st.Override {
		e.checked, _ = health.Status{Status: st.Checked}.State()
	}
	return e
}

// overrideEntry is one readable override key.
type overrideEntry struct {
	key string
	o   health.Override
}

type vote struct {
	state  health.State
	reason string
}

type agentEntry struct {
	lease clientv3.LeaseID
	idle  bool
	site  string // the site it probes from ([General] site of the scanner)
}

func newState(prefix string, paths monitor.Paths, lockPath, overridePath string) *state {
	prefix = strings.TrimRight(prefix, "/") + "/"
	overridePath = monitor.OverrideDir(overridePath)
	s := &state{
		prefix: prefix, rule: record.NewRule(prefix, nil, nil), policyPfx: policy.Prefix(prefix), topoPfx: topology.Prefix(prefix),
		paths: paths, overrideP: overridePath,
		onChange: func() {}, badRecords: func() {}, badOverride: func(string, error) {},
		dirtyTargets: map[netip.Addr]struct{}{}, dirtyVotes: map[netip.Addr]struct{}{},
		reports: map[monitor.Target]map[string]vote{}, agents: map[string]agentEntry{},
		jobs: map[string]map[monitor.Target]string{}, holders: map[monitor.Target]map[string]struct{}{},
		held: map[netip.Addr]map[string]int{}, verdicts: map[netip.Addr]map[string]verdictEntry{},
		status: map[netip.Addr]statusEntry{}, overrides: map[netip.Addr]overrideEntry{},
	}
	// The monitor, topology and events subtrees never hold records, whatever the paths say, and
	// neither do the configured monitor paths and the lock.
	s.skip = []string{prefix + "monitor/", topology.Prefix(prefix), events.Dir(prefix)}
	for _, p := range []string{paths.Status, paths.VerdictDir(), paths.Report, paths.Heart, paths.Job, overridePath, strings.TrimRight(lockPath, "/") + "/"} {
		if strings.HasPrefix(p, prefix) {
			s.skip = append(s.skip, p)
		}
	}
	s.resetRecords()
	return s
}

func (s *state) resetRecords() {
	s.recs = map[string]recRef{}
	s.ipNames = map[netip.Addr]map[string]int{}
	s.nameIPs = map[string]map[netip.Addr]struct{}{}
	s.policies = map[string]*policy.Check{}
	s.sites = map[string]topology.Site{}
	s.topo = nil
	s.ipFields = map[netip.Addr]map[string]int{}
}

// changed marks everything for the leader after a view (re)loaded.
func (s *state) changedAll() {
	s.all = true
	s.agentsChanged = true
	s.checkCache, s.pickCache = nil, nil
}

// touch marks ip's targets for reassignment: its names, their checks or
// its site may have changed (locked).
func (s *state) touch(ip netip.Addr) {
	s.dirtyTargets[ip] = struct{}{}
	delete(s.checkCache, ip)
	delete(s.pickCache, ip)
}

// ---- records and policies ----

type recordsView struct{ s *state }

func (h recordsView) Load(_ int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	// Build aside and swap, so that a load that fails halfway leaves the
	// previous state in place, as etcdview requires.
	tmp := &state{prefix: h.s.prefix, rule: h.s.rule, policyPfx: h.s.policyPfx, topoPfx: h.s.topoPfx, skip: h.s.skip,
		badRecords: h.s.badRecords, dirtyTargets: map[netip.Addr]struct{}{}}
	tmp.resetRecords()
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		tmp.putKey(string(kv.Key), kv.Value)
	}
	s := h.s
	s.replaceAll(func() {
		s.recs, s.ipNames, s.nameIPs, s.policies = tmp.recs, tmp.ipNames, tmp.nameIPs, tmp.policies
		s.sites, s.topo, s.ipFields = tmp.sites, tmp.topo, tmp.ipFields
	})
	return nil
}

func (h recordsView) Apply(_ int64, events []*clientv3.Event) {
	s := h.s
	s.mu.Lock()
	seen := false
	for _, ev := range events {
		key := string(ev.Kv.Key)
		if s.skipped(key) && !strings.HasPrefix(key, s.topoPfx) {
			continue // sites are no records, but they do move checkers
		}
		seen = true
		if ev.Type == clientv3.EventTypeDelete {
			s.deleteKey(key)
		} else {
			s.putKey(key, ev.Kv.Value)
		}
	}
	s.mu.Unlock()
	// The leader's own history and the monitor keys under the prefix are
	// no reason for a round.
	if seen {
		s.onChange()
	}
}

func (s *state) skipped(key string) bool {
	for _, p := range s.skip {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

func (s *state) putKey(key string, value []byte) {
	if strings.HasPrefix(key, s.policyPfx) {
		s.putPolicy(key, value)
		return
	}
	if strings.HasPrefix(key, s.topoPfx) {
		s.putSite(key, value)
		return
	}
	if s.skipped(key) {
		return
	}
	s.dropRecord(key) // a put may change what the key held
	r, err := record.Decode(value)
	if err != nil {
		s.badRecords()
		return
	}
	ip := r.IP()
	if !ip.IsValid() {
		return // not A/AAAA: nothing to probe
	}
	owners, _, err := s.rule.Owners(key, r)
	if err != nil {
		s.badRecords()
		return
	}
	ip = ip.Unmap()
	s.recs[key] = recRef{owners, ip, r.Site}
	if r.Site != "" {
		f := s.ipFields[ip]
		if f == nil {
			f = map[string]int{}
			s.ipFields[ip] = f
		}
		f[r.Site]++
	}
	names := s.ipNames[ip]
	if names == nil {
		names = map[string]int{}
		s.ipNames[ip] = names
	}
	for _, name := range owners {
		names[name]++
		ips := s.nameIPs[name]
		if ips == nil {
			ips = map[netip.Addr]struct{}{}
			s.nameIPs[name] = ips
		}
		ips[ip] = struct{}{}
	}
	s.touch(ip)
}

func (s *state) deleteKey(key string) {
	if strings.HasPrefix(key, s.policyPfx) {
		s.putPolicy(key, nil)
		return
	}
	if strings.HasPrefix(key, s.topoPfx) {
		s.putSite(key, nil)
		return
	}
	s.dropRecord(key)
}

func (s *state) dropRecord(key string) {
	ref, ok := s.recs[key]
	if !ok {
		return
	}
	delete(s.recs, key)
	if ref.site != "" {
		f := s.ipFields[ref.ip]
		if f[ref.site]--; f[ref.site] <= 0 {
			delete(f, ref.site)
		}
		if len(f) == 0 {
			delete(s.ipFields, ref.ip)
		}
	}
	names := s.ipNames[ref.ip]
	for _, name := range ref.names {
		if names[name]--; names[name] <= 0 {
			delete(names, name)
			delete(s.nameIPs[name], ref.ip)
			if len(s.nameIPs[name]) == 0 {
				delete(s.nameIPs, name)
			}
		}
	}
	if len(names) == 0 {
		delete(s.ipNames, ref.ip)
	}
	s.touch(ref.ip)
}

// putPolicy records the check of a policy key (value nil: deleted). A
// policy that does not parse counts as none: the defaults are probed.
func (s *state) putPolicy(key string, value []byte) {
	name, err := policy.ParseKey(strings.TrimSuffix(s.prefix, "/"), key)
	if err != nil {
		return
	}
	var check *policy.Check
	if value != nil {
		if p, err := policy.Decode(value); err == nil {
			check = p.Check
		} else {
			s.badRecords()
		}
	}
	if check == nil {
		delete(s.policies, name)
	} else {
		s.policies[name] = check
	}
	for ip := range s.nameIPs[name] {
		s.touch(ip)
	}
}

// putSite records a topology key (value nil: deleted) and compiles the
// table again; every target is assigned again, since any may have moved.
// A value that does not parse counts as no site, as the DNS server skips it.
func (s *state) putSite(key string, value []byte) {
	name, err := topology.ParseKey(strings.TrimSuffix(s.prefix, "/"), key)
	if err != nil {
		return
	}
	delete(s.sites, name)
	if value != nil {
		if site, err := topology.Decode(name, value); err == nil {
			s.sites[name] = site
		} else {
			s.badRecords()
		}
	}
	s.topo, _ = topology.Compile(s.sites) // conflicts: the DNS server logs them
	s.agentsChanged = true
	s.pickCache = nil // any target's site may have moved
}

// siteOf is the site whose agents check ip first: the site field of its
// records when that site exists (the first by name, should its records
// disagree), else the site of its address by longest prefix; "" for none
// (locked).
func (s *state) siteOf(ip netip.Addr) string {
	if s.topo.Len() == 0 {
		return ""
	}
	best := ""
	for f := range s.ipFields[ip] {
		if s.topo.Index(f) >= 0 && (best == "" || f < best) {
			best = f
		}
	}
	if best != "" {
		return best
	}
	if i, _ := s.topo.Lookup(ip); i >= 0 {
		return s.topo.Name(i)
	}
	return ""
}

// checks are the targets of ip: check-id -> encoded spec, one for each
// distinct check the names using ip ask for (locked).
func (s *state) checks(ip netip.Addr) map[string]string {
	if m, ok := s.checkCache[ip]; ok {
		return m
	}
	out := make(map[string]string, 1)
	for n := range s.ipNames[ip] {
		enc := monitor.NameSpec(s.policies[n], s.status[ip].ports).Encode()
		out[monitor.CheckIDOf(enc)] = string(enc)
	}
	if s.checkCache == nil {
		s.checkCache = map[netip.Addr]map[string]string{}
	}
	s.checkCache[ip] = out
	return out
}

// picked is pick(ip, id) from the cache, computing it on a miss (locked).
func (s *state) picked(ip netip.Addr, id string, compute func() []string) []string {
	if want, ok := s.pickCache[ip][id]; ok {
		return want
	}
	want := compute()
	if s.pickCache == nil {
		s.pickCache = map[netip.Addr]map[string][]string{}
	}
	m := s.pickCache[ip]
	if m == nil {
		m = map[string][]string{}
		s.pickCache[ip] = m
	}
	m[id] = want
	return want
}

// ---- statuses ----

type statusView struct{ s *state }

func (h statusView) parse(kv *mvccpb.KeyValue) (netip.Addr, statusEntry, bool) {
	ip, err := h.s.paths.ParseStatusKey(string(kv.Key))
	if err != nil {
		return ip, statusEntry{}, false
	}
	e := statusEntry{modRev: kv.ModRevision}
	if st, err := health.Decode(kv.Value); err == nil {
		e = entryOf(st, kv.ModRevision)
	}
	return ip, e, true
}

func (h statusView) Load(_ int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	m, err := collect(kvs, h.parse)
	if err != nil {
		return err
	}
	h.s.replaceAll(func() { h.s.status = m })
	return nil
}

func (h statusView) Apply(_ int64, events []*clientv3.Event) {
	s := h.s
	s.mu.Lock()
	changed := false
	for _, ev := range events {
		ip, e, ok := h.parse(ev.Kv)
		if !ok {
			continue
		}
		old, had := s.status[ip]
		// The leader's own writes are in the state already (applyStatus,
		// at the transaction's revision): coming back, they change nothing.
		if ev.Type == clientv3.EventTypeDelete && !had ||
			ev.Type != clientv3.EventTypeDelete && had && old.modRev == ev.Kv.ModRevision {
			continue
		}
		if ev.Type == clientv3.EventTypeDelete {
			delete(s.status, ip)
			e = statusEntry{}
		} else {
			s.status[ip] = e
		}
		if !slices.Equal(old.ports, e.ports) {
			s.touch(ip)
		}
		s.dirtyVotes[ip] = struct{}{}
		changed = true
	}
	s.mu.Unlock()
	if changed {
		s.onChange()
	}
}

// ---- reports ----

type reportsView struct{ s *state }

func (h reportsView) parse(kv *mvccpb.KeyValue) (monitor.Target, string, vote, bool) {
	ip, agent, check, err := h.s.paths.ParseCheckReportKey(string(kv.Key))
	if err != nil {
		return monitor.Target{}, agent, vote{}, false
	}
	var v vote
	if st, err := health.Decode(kv.Value); err == nil {
		v.state, _ = st.State()
		v.reason = st.Reason
	}
	return monitor.Target{IP: ip, Check: check}, agent, v, true
}

func (h reportsView) Load(_ int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	m := map[monitor.Target]map[string]vote{}
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		if ip, agent, v, ok := h.parse(kv); ok {
			setVote(m, ip, agent, v)
		}
	}
	h.s.replaceAll(func() { h.s.reports = m })
	return nil
}

func (h reportsView) Apply(_ int64, events []*clientv3.Event) {
	s := h.s
	s.mu.Lock()
	for _, ev := range events {
		t, agent, v, ok := h.parse(ev.Kv)
		if !ok {
			continue
		}
		if ev.Type == clientv3.EventTypeDelete {
			if m := s.reports[t]; m != nil {
				delete(m, agent)
				if len(m) == 0 {
					delete(s.reports, t)
				}
			}
		} else {
			setVote(s.reports, t, agent, v)
		}
		s.dirtyVotes[t.IP] = struct{}{}
	}
	s.mu.Unlock()
	s.onChange()
}

func setVote(m map[monitor.Target]map[string]vote, ip monitor.Target, agent string, v vote) {
	votes := m[ip]
	if votes == nil {
		votes = map[string]vote{}
		m[ip] = votes
	}
	votes[agent] = v
}

// collect reads a whole load into a map, keeping what parse accepts.
func collect[K comparable, V any](kvs iter.Seq2[*mvccpb.KeyValue, error], parse func(*mvccpb.KeyValue) (K, V, bool)) (map[K]V, error) {
	m := map[K]V{}
	for kv, err := range kvs {
		if err != nil {
			return nil, err
		}
		if k, v, ok := parse(kv); ok {
			m[k] = v
		}
	}
	return m, nil
}

// replaceAll swaps in what a (re)load read: after it, every target is
// decided again.
func (s *state) replaceAll(set func()) {
	s.mu.Lock()
	set()
	s.changedAll()
	s.mu.Unlock()
	s.onChange()
}

// ---- agents ----

type agentsView struct{ s *state }

func (h agentsView) parse(kv *mvccpb.KeyValue) (string, agentEntry, bool) {
	agent, err := h.s.paths.ParseAgentKey(string(kv.Key))
	if err != nil {
		return "", agentEntry{}, false
	}
	hb := monitor.DecodeHeartbeat(kv.Value)
	return agent, agentEntry{lease: clientv3.LeaseID(kv.Lease), idle: hb.Idle, site: hb.Site}, true
}

func (h agentsView) Load(_ int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	m, err := collect(kvs, h.parse)
	if err != nil {
		return err
	}
	h.s.replaceAll(func() { h.s.agents = m })
	return nil
}

func (h agentsView) Apply(_ int64, events []*clientv3.Event) {
	s := h.s
	s.mu.Lock()
	for _, ev := range events {
		a, e, ok := h.parse(ev.Kv)
		if !ok {
			continue
		}
		if ev.Type == clientv3.EventTypeDelete {
			delete(s.agents, a)
		} else {
			s.agents[a] = e
		}
		s.agentsChanged = true
	}
	s.mu.Unlock()
	s.onChange()
}

// ---- jobs ----

type jobsView struct{ s *state }

func (h jobsView) Load(_ int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	t := jobTable{jobs: map[string]map[monitor.Target]string{}, holders: map[monitor.Target]map[string]struct{}{},
		held: map[netip.Addr]map[string]int{}}
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		if agent, ip, check, err := h.s.paths.ParseCheckJobKey(string(kv.Key)); err == nil {
			t.set(agent, monitor.Target{IP: ip, Check: check}, string(kv.Value))
		}
	}
	h.s.replaceAll(func() { h.s.jobs, h.s.holders, h.s.held = t.jobs, t.holders, t.held })
	return nil
}

func (h jobsView) Apply(_ int64, events []*clientv3.Event) {
	s := h.s
	s.mu.Lock()
	changed := false
	for _, ev := range events {
		agent, ip, check, err := s.paths.ParseCheckJobKey(string(ev.Kv.Key))
		if err != nil {
			continue
		}
		t := monitor.Target{IP: ip, Check: check}
		cur, had := s.jobs[agent][t]
		if ev.Type == clientv3.EventTypeDelete {
			if !had {
				continue // our own delete, applied already (applyJobs)
			}
			s.jobTable().del(agent, t)
		} else {
			if had && cur == string(ev.Kv.Value) {
				continue // our own put, applied already
			}
			s.jobTable().set(agent, t, string(ev.Kv.Value))
		}
		// Someone else's change to a job is undone by the next assignment.
		s.dirtyTargets[ip] = struct{}{}
		s.dirtyVotes[ip] = struct{}{}
		changed = true
	}
	s.mu.Unlock()
	if changed {
		s.onChange()
	}
}

// jobTable is the job directory, indexed three ways: by agent, by target
// and, for the targets of an IP, by IP.
type jobTable struct {
	jobs    map[string]map[monitor.Target]string
	holders map[monitor.Target]map[string]struct{}
	held    map[netip.Addr]map[string]int
}

func (s *state) jobTable() jobTable { return jobTable{s.jobs, s.holders, s.held} }

func (jt jobTable) set(agent string, t monitor.Target, spec string) {
	m := jt.jobs[agent]
	if m == nil {
		m = map[monitor.Target]string{}
		jt.jobs[agent] = m
	}
	m[t] = spec
	h := jt.holders[t]
	if h == nil {
		h = map[string]struct{}{}
		jt.holders[t] = h
	}
	if _, ok := h[agent]; ok {
		return
	}
	h[agent] = struct{}{}
	c := jt.held[t.IP]
	if c == nil {
		c = map[string]int{}
		jt.held[t.IP] = c
	}
	c[t.Check]++
}

func (jt jobTable) del(agent string, t monitor.Target) {
	if m := jt.jobs[agent]; m != nil {
		delete(m, t)
		if len(m) == 0 {
			delete(jt.jobs, agent)
		}
	}
	h := jt.holders[t]
	if _, ok := h[agent]; !ok {
		return
	}
	delete(h, agent)
	if len(h) == 0 {
		delete(jt.holders, t)
	}
	c := jt.held[t.IP]
	if c[t.Check]--; c[t.Check] <= 0 {
		delete(c, t.Check)
		if len(c) == 0 {
			delete(jt.held, t.IP)
		}
	}
}

// ---- verdicts ----

// verdictEntry is what the state keeps of a verdict key.
type verdictEntry struct {
	state  health.State
	modRev int64
}

// verdictsView follows the verdict directory, so that a new leader decides
// each check from its last verdict, and writes only what changes.
type verdictsView struct{ s *state }

func (h verdictsView) parse(kv *mvccpb.KeyValue) (netip.Addr, string, verdictEntry, bool) {
	ip, id, err := h.s.paths.ParseVerdictKey(string(kv.Key))
	if err != nil {
		return ip, id, verdictEntry{}, false
	}
	e := verdictEntry{modRev: kv.ModRevision}
	if v, err := monitor.DecodeVerdict(kv.Value); err == nil {
		e.state, _ = v.State()
	}
	return ip, id, e, true
}

func setVerdict(m map[netip.Addr]map[string]verdictEntry, ip netip.Addr, id string, e verdictEntry) {
	v := m[ip]
	if v == nil {
		v = map[string]verdictEntry{}
		m[ip] = v
	}
	v[id] = e
}

func dropVerdict(m map[netip.Addr]map[string]verdictEntry, ip netip.Addr, id string) {
	if v := m[ip]; v != nil {
		delete(v, id)
		if len(v) == 0 {
			delete(m, ip)
		}
	}
}

func (h verdictsView) Load(_ int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	m := map[netip.Addr]map[string]verdictEntry{}
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		if ip, id, e, ok := h.parse(kv); ok {
			setVerdict(m, ip, id, e)
		}
	}
	h.s.replaceAll(func() { h.s.verdicts = m })
	return nil
}

func (h verdictsView) Apply(_ int64, events []*clientv3.Event) {
	s := h.s
	s.mu.Lock()
	changed := false
	for _, ev := range events {
		ip, id, e, ok := h.parse(ev.Kv)
		if !ok {
			continue
		}
		old, had := s.verdicts[ip][id]
		// The leader's own writes are in the state already (applyStatus).
		if ev.Type == clientv3.EventTypeDelete && !had ||
			ev.Type != clientv3.EventTypeDelete && had && old.modRev == ev.Kv.ModRevision {
			continue
		}
		if ev.Type == clientv3.EventTypeDelete {
			dropVerdict(s.verdicts, ip, id)
		} else {
			setVerdict(s.verdicts, ip, id, e)
		}
		s.dirtyVotes[ip] = struct{}{}
		changed = true
	}
	s.mu.Unlock()
	if changed {
		s.onChange()
	}
}

// ---- overrides ----

// overridesView follows <override-path>: the operators' overrides. A value
// that cannot be read is no override (and is reported): the IP follows its
// checks.
type overridesView struct{ s *state }

func (h overridesView) parse(kv *mvccpb.KeyValue) (netip.Addr, overrideEntry, bool) {
	ip, err := monitor.ParseOverrideKey(h.s.overrideP, string(kv.Key))
	if err != nil {
		return ip, overrideEntry{}, false
	}
	o, err := health.DecodeOverride(kv.Value)
	if err != nil {
		h.s.badOverride(string(kv.Key), err)
		return ip, overrideEntry{}, false
	}
	return ip, overrideEntry{key: string(kv.Key), o: o}, true
}

func (h overridesView) Load(_ int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	m, err := collect(kvs, h.parse)
	if err != nil {
		return err
	}
	h.s.replaceAll(func() { h.s.overrides = m })
	return nil
}

func (h overridesView) Apply(_ int64, events []*clientv3.Event) {
	s := h.s
	s.mu.Lock()
	for _, ev := range events {
		key := string(ev.Kv.Key)
		ip, err := monitor.ParseOverrideKey(s.overrideP, key)
		if err != nil {
			continue
		}
		if ev.Type == clientv3.EventTypeDelete {
			// Several spellings of one IP (a trailing slash, an
			// IPv4-mapped address) map to it: only the key that holds
			// the override removes it.
			if cur, ok := s.overrides[ip]; ok && cur.key == key {
				delete(s.overrides, ip)
			}
		} else if _, e, ok := h.parse(ev.Kv); ok {
			s.overrides[ip] = e
		} else if cur, ok := s.overrides[ip]; ok && cur.key == key {
			delete(s.overrides, ip) // overwritten with something unreadable
		}
		s.dirtyVotes[ip] = struct{}{}
	}
	s.mu.Unlock()
	s.onChange()
}

// override is the override of ip that counts at now, if any. Locked.
func (s *state) override(ip netip.Addr, now time.Time) (health.Override, bool) {
	e, ok := s.overrides[ip]
	if !ok || !e.o.Active(now) {
		return health.Override{}, false
	}
	return e.o, true
}

// nextExpiry is the earliest until after now among the overrides; ok is
// false when none will expire. Locked.
func (s *state) nextExpiry(now time.Time) (time.Time, bool) {
	var next time.Time
	for _, e := range s.overrides {
		if u := e.o.Until; !u.IsZero() && u.After(now) && (next.IsZero() || u.Before(next)) {
			next = u
		}
	}
	return next, !next.IsZero()
}
