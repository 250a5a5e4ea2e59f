package etcdview_test

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/etcdview"
)

const prefix = "/view/"

// mirror is a Handler that keeps a plain map and checks the ordering
// contract: revisions only move forward, nothing arrives twice.
type mirror struct {
	mu        sync.Mutex
	kv        map[string]string
	rev       int64
	loads     int
	violation string
	// onLoadKey, when set, runs after the first key of each Load.
	onLoadKey func()
}

func (m *mirror) Load(rev int64, kvs iter.Seq2[*mvccpb.KeyValue, error]) error {
	next := map[string]string{}
	first := true
	for kv, err := range kvs {
		if err != nil {
			return err
		}
		next[string(kv.Key)] = string(kv.Value)
		if first && m.onLoadKey != nil {
			m.onLoadKey()
		}
		first = false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kv, m.rev = next, rev
	m.loads++
	return nil
}

func (m *mirror) Apply(rev int64, events []*clientv3.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	batchStart := m.rev
	for _, ev := range events {
		r := ev.Kv.ModRevision
		if r <= batchStart || r < m.rev {
			m.violation = fmt.Sprintf("event at revision %d after state at %d", r, m.rev)
		}
		m.rev = r
		switch ev.Type {
		case clientv3.EventTypePut:
			m.kv[string(ev.Kv.Key)] = string(ev.Kv.Value)
		case clientv3.EventTypeDelete:
			delete(m.kv, string(ev.Kv.Key))
		}
	}
	if rev != m.rev {
		m.violation = fmt.Sprintf("Apply said revision %d, events ended at %d", rev, m.rev)
	}
}

func (m *mirror) snapshot() (map[string]string, int64, string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.kv), m.rev, m.violation
}

// run starts a view and stops it when the test ends.
func run(t *testing.T, cli *clientv3.Client, h etcdview.Handler, o etcdview.Options) *etcdview.View {
	t.Helper()
	v := etcdview.New(cli, prefix, h, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { v.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-v.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("view not ready after 20s")
	}
	return v
}

// converge waits until the mirror holds exactly what etcd holds.
func converge(t *testing.T, cli *clientv3.Client, m *mirror) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for _, kv := range resp.Kvs {
			want[string(kv.Key)] = string(kv.Value)
		}
		got, _, violation := m.snapshot()
		if violation != "" {
			t.Fatal(violation)
		}
		if maps.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("mirror never converged: %d keys in mirror, %d in etcd", len(got), len(want))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func put(t *testing.T, cli *clientv3.Client, k, v string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cli.Put(ctx, k, v)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Header.Revision
}

func TestLoadIsPaginatedAndScoped(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	for i := range 103 {
		put(t, cli, fmt.Sprintf("%sk%03d", prefix, i), fmt.Sprint(i))
	}
	put(t, cli, "/viewx", "outside the prefix")
	put(t, cli, "/other/k", "outside the prefix")
	m := &mirror{}
	v := run(t, cli, m, etcdview.Options{PageSize: 10})
	got, rev, _ := m.snapshot()
	if len(got) != 103 {
		t.Fatalf("loaded %d keys, want 103", len(got))
	}
	if st := v.Status(); !st.Loaded || st.Revision != rev || st.Stale || st.LastSync.IsZero() {
		t.Fatalf("status after load = %+v, want loaded at %d, fresh", st, rev)
	}
}

func TestPutDeleteStorm(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	m := &mirror{}
	v := run(t, cli, m, etcdview.Options{PageSize: 7})

	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 1))
			ctx := context.Background()
			for i := range 400 {
				k := fmt.Sprintf("%sk%02d", prefix, r.IntN(40))
				var err error
				switch r.IntN(4) {
				case 0:
					_, err = cli.Delete(ctx, k)
				case 1: // several keys in one revision
					_, err = cli.Txn(ctx).Then(
						clientv3.OpPut(k, fmt.Sprint(w, i)),
						clientv3.OpPut(k+"-pair", fmt.Sprint(w, i)),
						clientv3.OpDelete(k+"-other"),
					).Commit()
				default:
					_, err = cli.Put(ctx, k, fmt.Sprint(w, i))
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	converge(t, cli, m)
	if m.loads != 1 || v.Status().Reloads != 0 {
		t.Fatalf("loads = %d, reloads = %d: a storm must not force a reload", m.loads, v.Status().Reloads)
	}
}

func TestCompactionDuringLoad(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	for i := range 30 {
		put(t, cli, fmt.Sprintf("%sk%02d", prefix, i), "old")
	}
	// While the view has read its first page, rewrite everything and
	// compact: the later pages' revision is gone, so the load must start
	// over rather than mix two revisions.
	var once sync.Once
	m := &mirror{}
	m.onLoadKey = func() {
		once.Do(func() {
			var rev int64
			for i := range 30 {
				rev = put(t, cli, fmt.Sprintf("%sk%02d", prefix, i), "new")
			}
			if _, err := cli.Compact(context.Background(), rev); err != nil {
				t.Error(err)
			}
		})
	}
	run(t, cli, m, etcdview.Options{PageSize: 5})
	// The first load is either wholly before the rewrite or, after the
	// compaction broke it, wholly after: never a mix.
	got, _, _ := m.snapshot()
	seen := map[string]bool{}
	for _, val := range got {
		seen[val] = true
	}
	if len(seen) != 1 {
		t.Fatalf("the load mixed revisions: values %v", seen)
	}
	converge(t, cli, m)
}

func TestCompactionWhilePartitioned(t *testing.T) {
	e := etcdtest.Start(t)
	direct := e.Client()
	proxy := e.Proxy()
	m := &mirror{}
	v := run(t, proxy.Client(t), m, etcdview.Options{ProgressInterval: 100 * time.Millisecond})
	for i := range 10 {
		put(t, direct, fmt.Sprintf("%sk%02d", prefix, i), "before")
	}
	converge(t, direct, m)

	proxy.Cut()
	waitFor(t, "view stale while cut off", func() bool { return v.Status().Stale })
	var rev int64
	for i := range 10 {
		rev = put(t, direct, fmt.Sprintf("%sk%02d", prefix, i), "during")
	}
	if _, err := direct.Delete(context.Background(), prefix+"k03"); err != nil {
		t.Fatal(err)
	}
	if _, err := direct.Compact(context.Background(), rev+1); err != nil {
		t.Fatal(err)
	}
	before, _, _ := m.snapshot()
	if before[prefix+"k01"] != "before" {
		t.Fatal("the mirror changed while cut off")
	}
	proxy.Restore()
	converge(t, direct, m)
	waitFor(t, "view current again", func() bool { return !v.Status().Stale })
	if v.Status().Reloads < 1 {
		t.Fatalf("reloads = %d, want a reload after compaction", v.Status().Reloads)
	}
}

func TestEtcdRestart(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	m := &mirror{}
	v := run(t, cli, m, etcdview.Options{ProgressInterval: 100 * time.Millisecond})
	put(t, cli, prefix+"a", "1")
	converge(t, cli, m)

	e.Stop()
	waitFor(t, "view stale while etcd is down", func() bool { return v.Status().Stale })
	if got, _, _ := m.snapshot(); got[prefix+"a"] != "1" {
		t.Fatal("the mirror lost its state while etcd was down")
	}
	e.Start()
	put(t, cli, prefix+"b", "2")
	converge(t, cli, m)
	waitFor(t, "view current again", func() bool { return !v.Status().Stale })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An idle etcd (no writes at all) sends no progress notifications to a
// watch that starts ahead of it; the view must still know it is current.
func TestIdleViewStaysCurrent(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	put(t, cli, prefix+"a", "1")
	v := run(t, cli, &mirror{}, etcdview.Options{ProgressInterval: 50 * time.Millisecond})
	time.Sleep(500 * time.Millisecond) // 10 intervals, over 3 x StaleAfter
	if st := v.Status(); st.Stale || time.Since(st.LastSync) > 200*time.Millisecond {
		t.Fatalf("idle view: %+v, want current with a recent sync", st)
	}
}

// etcd restored from an older backup: the view notices that etcd went back
// in time and loads again, both when its own keys changed after the backup
// and when only keys outside its prefix did (the daemon may have written
// those, and must be told).
func TestRestoreFromOlderBackup(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after string // the key written after the backup
	}{
		{"own keys", prefix + "b"},
		{"other keys only", "/elsewhere/x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := etcdtest.Start(t)
			cli := e.Client()
			put(t, cli, prefix+"a", "1")
			m := &mirror{}
			run(t, cli, m, etcdview.Options{ProgressInterval: 100 * time.Millisecond})
			restore := e.Snapshot()
			put(t, cli, tc.after, "2")
			converge(t, cli, m)
			time.Sleep(300 * time.Millisecond) // a backup older than the last read
			restore()
			waitFor(t, "a second load", func() bool {
				m.mu.Lock()
				defer m.mu.Unlock()
				return m.loads >= 2
			})
			converge(t, cli, m)
			if got, _, _ := m.snapshot(); got[prefix+"b"] != "" {
				t.Fatalf("the mirror kept a key the restore took back: %v", got)
			}
		})
	}
}

// After an outage longer than the longest retry backoff (5 s), the view is
// current again within a second of etcd coming back: its retries do not
// sleep out a backoff grown during the outage, and its client redials at
// once. Cut by a proxy (a partition) and by quorum loss on a 3-member
// cluster (the connections stay up; etcd answers "no leader").
func TestRecoversAtOnceAfterLongOutage(t *testing.T) {
	const outage = 7 * time.Second        // > the 5 s backoff cap, and the sum to reach it
	const bound = 1500 * time.Millisecond // about 0.5 s; loose for a loaded machine
	for _, tc := range []struct {
		name string
		// setup returns the view's client, a direct client, and the fault.
		setup func(t *testing.T) (view, direct *clientv3.Client, cut, restore func())
	}{
		{"partition", func(t *testing.T) (*clientv3.Client, *clientv3.Client, func(), func()) {
			e := etcdtest.Start(t)
			p := e.Proxy()
			return p.Client(t), e.Client(), p.Cut, p.Restore
		}},
		{"quorum lost", func(t *testing.T) (*clientv3.Client, *clientv3.Client, func(), func()) {
			c := etcdtest.Cluster(t, 3)
			return c.Client(), c.Client(), func() { c.Member(1).Stop(); c.Member(2).Stop() },
				func() {
					var wg sync.WaitGroup
					for _, i := range []int{1, 2} {
						wg.Add(1)
						go func() { defer wg.Done(); c.Member(i).Start() }()
					}
					wg.Wait()
					c.Leader()
				}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cli, direct, cut, restore := tc.setup(t)
			m := &mirror{}
			v := run(t, cli, m, etcdview.Options{ProgressInterval: 200 * time.Millisecond})
			put(t, direct, prefix+"a", "1")
			converge(t, direct, m)

			cut()
			waitFor(t, "view stale", func() bool { return v.Status().Stale })
			time.Sleep(outage) // the fault itself: its length is the point
			restore()
			back := time.Now()
			put(t, direct, prefix+"b", "2")
			for {
				if got, _, _ := m.snapshot(); got[prefix+"b"] == "2" {
					break
				}
				if time.Since(back) > 10*time.Second {
					t.Fatal("the view did not catch up within 10 s of etcd's return")
				}
				time.Sleep(10 * time.Millisecond)
			}
			took := time.Since(back)
			t.Logf("view current %s after etcd returned (outage %s)", took.Round(time.Millisecond), outage)
			if took > bound {
				t.Fatalf("view caught up %s after etcd returned, want < %s", took.Round(time.Millisecond), bound)
			}
		})
	}
}
