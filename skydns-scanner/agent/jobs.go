package agent

import (
	"iter"
	"log/slog"
	"sync"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/monitor"
)

// jobs is the etcd view handler of the agent's job directory. It only
// collects changes; the probe loop takes them, so that the view never
// waits on probing and probing never waits on etcd.
type jobs struct {
	paths monitor.Paths
	agent string
	log   *slog.Logger
	m     *metrics

	// reloaded is called when the view loads again after its first load:
	// etcd lost history, or was restored from an older snapshot, and the
	// reports written since may be gone with it.
	reloaded func()
	loads    int

	mu      sync.Mutex
	full    map[monitor.Target]monitor.Spec // set by Load: the whole job list
	changes map[monitor.Target]*monitor.Spec
	kick    chan struct{}
}

func newJobs(c *Config, m *metrics) *jobs {
	return &jobs{paths: c.Paths, agent: c.Name, log: c.Log, m: m,
		changes: map[monitor.Target]*monitor.Spec{}, kick: make(chan struct{}, 1)}
}

// parse reads one job key-value; ok is false for a key that is not a job
// of this agent or a value that is not a spec.
func (j *jobs) parse(key, value []byte) (monitor.Target, monitor.Spec, bool) {
	agent, ip, check, err := j.paths.ParseCheckJobKey(string(key))
	t := monitor.Target{IP: ip, Check: check}
	if err != nil || agent != j.agent {
		return t, monitor.Spec{}, false
	}
	if value == nil {
		return t, monitor.Spec{}, true
	}
	s, err := monitor.DecodeSpec(value)
	if err != nil {
		j.m.badJobs.Inc()
		j.log.Warn("ignoring a job that is not a check spec", "key", string(key), "err", err)
		return t, monitor.Spec{}, false
	}
	return t, s, true
}

func (j *jobs) Load(_ int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	full := map[monitor.Target]monitor.Spec{}
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		if ip, s, ok := j.parse(kv.Key, kv.Value); ok {
			full[ip] = s
		}
	}
	j.mu.Lock()
	j.full = full
	clear(j.changes)
	j.mu.Unlock()
	j.signal()
	if j.loads++; j.loads > 1 && j.reloaded != nil {
		j.reloaded()
	}
	return nil
}

func (j *jobs) Apply(_ int64, events []*clientv3.Event) {
	j.mu.Lock()
	for _, ev := range events {
		if ev.Type == clientv3.EventTypeDelete {
			if ip, _, ok := j.parse(ev.Kv.Key, nil); ok {
				j.changes[ip] = nil
			}
			continue
		}
		ip, s, ok := j.parse(ev.Kv.Key, ev.Kv.Value)
		if !ok {
			// A job we cannot read is no job: stop probing what it
			// replaced rather than probe something nobody asked for.
			if agent, ip, check, err := j.paths.ParseCheckJobKey(string(ev.Kv.Key)); err == nil && agent == j.agent {
				j.changes[monitor.Target{IP: ip, Check: check}] = nil
			}
			continue
		}
		j.changes[ip] = &s
	}
	j.mu.Unlock()
	j.signal()
}

func (j *jobs) signal() {
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

// take returns what changed since the last take: a full job list when the
// view (re)loaded, and the single changes after it.
func (j *jobs) take() (full map[monitor.Target]monitor.Spec, changes map[monitor.Target]*monitor.Spec) {
	j.mu.Lock()
	defer j.mu.Unlock()
	full, j.full = j.full, nil
	if len(j.changes) > 0 {
		changes, j.changes = j.changes, map[monitor.Target]*monitor.Spec{}
	}
	return full, changes
}
