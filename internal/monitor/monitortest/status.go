package monitortest

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/monitor"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
)

// Change is one change of an IP's status key.
type Change struct {
	State health.State // Unknown: the key was deleted (or is unreadable)
	Value health.Status
	At    time.Time // when the recorder saw it
	Rev   int64
}

// Statuses records every change under the status directory from the
// moment it starts, so a test can wait for a status and count how often
// it changed.
type Statuses struct {
	t     testing.TB
	paths monitor.Paths

	mu      sync.Mutex
	history map[netip.Addr][]Change
	updated chan struct{} // closed and replaced on every change
}

// WatchStatuses starts a recorder; it stops when the test ends.
func WatchStatuses(t testing.TB, cli *clientv3.Client, paths monitor.Paths) *Statuses {
	t.Helper()
	s := &Statuses{t: t, paths: paths, history: map[netip.Addr][]Change{}, updated: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := cli.Get(ctx, paths.Status, clientv3.WithPrefix())
	if err != nil {
		cancel()
		t.Fatalf("monitortest: read statuses: %v", err)
	}
	for _, kv := range resp.Kvs {
		s.record(kv.Key, kv.Value, kv.ModRevision)
	}
	wch := cli.Watch(ctx, paths.Status, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for wr := range wch {
			for _, ev := range wr.Events {
				v := ev.Kv.Value
				if ev.Type == clientv3.EventTypeDelete {
					v = nil
				}
				s.record(ev.Kv.Key, v, ev.Kv.ModRevision)
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

func (s *Statuses) record(key, value []byte, rev int64) {
	ip, err := s.paths.ParseStatusKey(string(key))
	if err != nil {
		return
	}
	c := Change{At: time.Now(), Rev: rev}
	if value != nil {
		if st, err := health.Decode(value); err == nil {
			c.Value = st
			c.State, _ = st.State()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history[ip] = append(s.history[ip], c)
	close(s.updated)
	s.updated = make(chan struct{})
}

// Current is ip's status as last seen (Unknown: no key).
func (s *Statuses) Current(ip netip.Addr) health.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.history[ip]
	if len(h) == 0 {
		return health.Unknown
	}
	return h[len(h)-1].State
}

// Changes returns every change of ip seen so far, oldest first.
func (s *Statuses) Changes(ip netip.Addr) []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Change(nil), s.history[ip]...)
}

// Transitions counts the changes of ip's state word (writes that leave it
// as it was are not transitions).
func (s *Statuses) Transitions(ip netip.Addr) int {
	n := 0
	prev := health.Unknown
	for _, c := range s.Changes(ip) {
		if c.State != prev {
			n++
			prev = c.State
		}
	}
	return n
}

// Wait waits until ip's status is want and returns when the recorder saw
// it become so; the test fails after timeout.
func (s *Statuses) Wait(ip netip.Addr, want health.State, timeout time.Duration) time.Time {
	s.t.Helper()
	at, ok := s.WaitAll([]netip.Addr{ip}, want, timeout)
	if !ok {
		s.t.Fatalf("monitortest: %s is %v after %v, want %v; history %+v", ip, s.Current(ip), timeout, want, s.Changes(ip))
	}
	return at
}

// WaitAll waits until every ip's status is want; it returns when the last
// of them got there, and false on timeout (without failing the test).
func (s *Statuses) WaitAll(ips []netip.Addr, want health.State, timeout time.Duration) (time.Time, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		var last time.Time
		all := true
		for _, ip := range ips {
			h := s.history[ip]
			if len(h) == 0 || h[len(h)-1].State != want {
				if want != health.Unknown || len(h) != 0 {
					all = false
					break
				}
				continue
			}
			if at := h[len(h)-1].At; at.After(last) {
				last = at
			}
		}
		ch := s.updated
		s.mu.Unlock()
		if all {
			return last, true
		}
		select {
		case <-ch:
		case <-deadline.C:
			return time.Time{}, false
		}
	}
}

// PutRecord writes an A or AAAA record of name for ip under prefix, the
// way the API does, and returns its key.
func PutRecord(t testing.TB, cli *clientv3.Client, prefix, name string, ip netip.Addr) string {
	t.Helper()
	r := record.Record{Host: ip.String()}
	b, err := r.Encode()
	if err != nil {
		t.Fatalf("monitortest: record: %v", err)
	}
	r, _ = record.Decode(b)
	key := record.Key(prefix, name, record.ID(r))
	put(t, cli, key, string(b))
	return key
}

// PutPolicy writes name's policy.
func PutPolicy(t testing.TB, cli *clientv3.Client, prefix, name string, p policy.Policy) {
	t.Helper()
	b, err := jsonOf(p)
	if err != nil {
		t.Fatalf("monitortest: policy: %v", err)
	}
	put(t, cli, policy.Key(prefix, name), b)
}

// PutOverride writes ip's override under the default override path, as
// the API does, and returns its key.
func PutOverride(t testing.TB, cli *clientv3.Client, ip netip.Addr, o health.Override) string {
	t.Helper()
	b, err := health.EncodeOverride(o)
	if err != nil {
		t.Fatalf("monitortest: override: %v", err)
	}
	key := monitor.OverrideKey(monitor.DefaultOverridePath, ip)
	put(t, cli, key, string(b))
	return key
}

// Delete removes key.
func Delete(t testing.TB, cli *clientv3.Client, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Delete(ctx, key); err != nil {
		t.Fatalf("monitortest: delete %s: %v", key, err)
	}
}

func put(t testing.TB, cli *clientv3.Client, key, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, key, value); err != nil {
		t.Fatalf("monitortest: put %s: %v", key, err)
	}
}
