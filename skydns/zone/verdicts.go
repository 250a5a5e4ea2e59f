package zone

import (
	"iter"
	"maps"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/policy"
)

// checkOverlay is what the per-check verdicts change in the answers: for
// each check, the IPs whose verdict for it differs from their status.
// It is rebuilt whole on every change of a verdict, a status or a policy
// and swapped in, so that a query reads it without a lock and without
// computing anything: one map lookup for its name, one per address.
type checkOverlay struct {
	// def is for the names without a check of their own (the default
	// check); names holds every name with one, even when nothing differs
	// (a nil map), so that it never falls back to def.
	def   map[[16]byte]health.State
	names map[string]map[[16]byte]health.State
}

// state is the health of ip for the names the overlay diff belongs to:
// the verdict of their check where it differs from the status.
func stateFor(diff map[[16]byte]health.State, status map[[16]byte]health.State, ip [16]byte) health.State {
	if v, ok := diff[ip]; ok {
		return v
	}
	return status[ip]
}

// diffOf returns the overlay of the name, nil when the status holds for
// every IP.
func (o *checkOverlay) diffOf(name string) map[[16]byte]health.State {
	if o == nil {
		return nil
	}
	if m, ok := o.names[name]; ok {
		return m
	}
	return o.def
}

// checkIDOf is the check-id of a policy's check: the spec its name is
// probed with, as the schedule builds it. The ports of a status key (a
// legacy of the original kubeapi) are left out: a name probed with them
// has no verdict of its own here and follows the status, which is that
// same check's verdict.
func checkIDOf(p *policy.Policy) string {
	if p == nil || p.Check == nil {
		return monitor.DefaultCheck
	}
	return monitor.CheckID(monitor.NameSpec(p.Check, nil))
}

// rebuildChecks computes the overlay again from the verdicts, the
// statuses (an IP under an operator's override follows its status for
// every name) and the policies.
func (s *Store) rebuildChecks() {
	s.vmu.Lock()
	defer s.vmu.Unlock()
	if len(s.verdicts) == 0 {
		s.overlay.Store(nil)
		return
	}
	s.hmu.RLock()
	diffs := map[string]map[[16]byte]health.State{}
	diff := func(id string) map[[16]byte]health.State {
		if m, ok := diffs[id]; ok {
			return m
		}
		var m map[[16]byte]health.State
		for ip, v := range s.verdicts[id] {
			if s.overridden[ip] || v == s.health[ip] {
				continue
			}
			if m == nil {
				m = map[[16]byte]health.State{}
			}
			m[ip] = v
		}
		diffs[id] = m
		return m
	}
	o := &checkOverlay{def: diff(monitor.DefaultCheck), names: map[string]map[[16]byte]health.State{}}
	s.pmu.RLock()
	for name, p := range s.policies {
		if id := checkIDOf(p); id != monitor.DefaultCheck {
			o.names[name] = diff(id)
		}
	}
	s.pmu.RUnlock()
	s.hmu.RUnlock()
	if o.def == nil && !anyNonNil(o.names) {
		o = nil // nothing differs: queries read the status alone
	}
	s.overlay.Store(o)
}

func anyNonNil(m map[string]map[[16]byte]health.State) bool {
	for _, v := range m {
		if v != nil {
			return true
		}
	}
	return false
}

// verdictHandler feeds the per-check verdicts, check-id -> IP -> state.
type verdictHandler struct {
	s     *Store
	paths monitor.Paths
}

func (h verdictHandler) parse(key, value []byte) ([16]byte, string, health.State, bool) {
	ip, id, err := h.paths.ParseVerdictKey(string(key))
	if err != nil {
		return [16]byte{}, "", health.Unknown, false
	}
	if value == nil {
		return ip.As16(), id, health.Unknown, true
	}
	v, err := monitor.DecodeVerdict(value)
	if err != nil {
		h.s.log.Warn("verdict ignored: bad value", "key", string(key), "err", err)
		return ip.As16(), id, health.Unknown, true
	}
	st, _ := v.State()
	return ip.As16(), id, st, true
}

func setCheckVerdict(m map[string]map[[16]byte]health.State, id string, ip [16]byte, st health.State) {
	if st == health.Unknown {
		if v := m[id]; v != nil {
			delete(v, ip)
			if len(v) == 0 {
				delete(m, id)
			}
		}
		return
	}
	v := m[id]
	if v == nil {
		v = map[[16]byte]health.State{}
		m[id] = v
	}
	v[ip] = st
}

func (h verdictHandler) Load(rev int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	m := map[string]map[[16]byte]health.State{}
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		if ip, id, st, ok := h.parse(kv.Key, kv.Value); ok {
			setCheckVerdict(m, id, ip, st)
		}
	}
	h.s.vmu.Lock()
	h.s.verdicts = m
	h.s.vmu.Unlock()
	h.s.rebuildChecks()
	h.s.log.Info("verdicts loaded", "checks", len(m), "revision", rev)
	return nil
}

func (h verdictHandler) Apply(rev int64, events []*clientv3.Event) {
	h.s.vmu.Lock()
	m := maps.Clone(h.s.verdicts) // the inner maps are the handler's alone
	for _, ev := range events {
		value := ev.Kv.Value
		if ev.Type == clientv3.EventTypeDelete {
			value = nil
		}
		if ip, id, st, ok := h.parse(ev.Kv.Key, value); ok {
			setCheckVerdict(m, id, ip, st)
		}
	}
	h.s.verdicts = m
	h.s.vmu.Unlock()
	h.s.rebuildChecks()
}
