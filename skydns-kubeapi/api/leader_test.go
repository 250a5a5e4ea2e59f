package api

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/record"
)

// A leader election in etcd is not an outage: writes in flight when the
// leader dies, and those sent while the cluster elects another, are
// committed (the guarded transaction is retried, and a retry whose first
// try was applied is recognised as applied) and answer 200, not 503. Each
// acknowledged write is in etcd afterwards.
func TestWritesRideOutLeaderElection(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(c *etcdtest.Members, leader int)
	}{
		{"leader killed", func(c *etcdtest.Members, l int) { c.Member(l).Kill() }},
		{"leader stopped (hands leadership over)", func(c *etcdtest.Members, l int) { c.Member(l).Stop() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			members := etcdtest.Cluster(t, 3)
			c := &cluster{t: t, cli: members.Client(), via: members.Client()}
			s := c.start(func(cfg *Config) { cfg.RequestTimeout = 5 * time.Second })

			const writers, perWriter = 4, 40
			type answer struct {
				name string
				code int
				body string
				took time.Duration
			}
			answers := make(chan answer, writers*perWriter)
			killed := make(chan struct{})
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perWriter {
						if i == perWriter/4 && w == 0 {
							tc.fault(members, members.Leader())
							close(killed)
						}
						name := fmt.Sprintf("w%d-%d", w, i)
						start := time.Now()
						code, body := s.do("POST", "/skydns/api/"+name, `{"type":"A","ips":["192.0.2.1"]}`, testToken)
						answers <- answer{name, code, body, time.Since(start)}
					}
				}()
			}
			wg.Wait()
			close(answers)
			<-killed
			stored := names(t, c.stored("skydns.local."))
			n := 0
			var longest time.Duration
			for a := range answers {
				n++
				longest = max(longest, a.took)
				if a.code != 200 {
					t.Errorf("POST %s: %d %s, want 200 across the election", a.name, a.code, a.body)
					continue
				}
				if len(stored[a.name+".skydns.local."]) != 1 {
					t.Errorf("POST %s answered 200 but etcd holds %v", a.name, stored[a.name+".skydns.local."])
				}
			}
			if n != writers*perWriter {
				t.Fatalf("%d answers, want %d", n, writers*perWriter)
			}
			t.Logf("%d writes, longest %s", n, longest.Round(time.Millisecond))
		})
	}
}

// commit after a try that etcd did not confirm: the
// try may have been applied or not, and either way the request must end
// applied exactly once (200) or, only when etcd cannot commit within
// request-timeout, 503 "may or may not".
func TestRetryAfterUnconfirmedTry(t *testing.T) {
	for _, tc := range []struct {
		name string
		// firstTry does what happened to the unconfirmed try, and what
		// happened after it, to etcd through cli.
		firstTry    func(t *testing.T, c *cluster, tx *tx, ops []clientv3.Op)
		cut         bool // etcd unreachable until the deadline
		wantApplied bool
		retryWrites bool // the retry is the try that writes
		wantCode    int  // 0: no error
		wantValue   string
	}{
		{name: "not applied: the retry commits it",
			firstTry: func(*testing.T, *cluster, *tx, []clientv3.Op) {}, wantApplied: true, retryWrites: true, wantValue: "192.0.2.1"},
		{name: "applied, answer lost: recognised as applied, not written twice",
			firstTry: func(t *testing.T, c *cluster, tx *tx, ops []clientv3.Op) {
				if _, err := c.cli.Txn(context.Background()).If(tx.cmps...).Then(ops...).Commit(); err != nil {
					t.Fatal(err)
				}
			}, wantApplied: true, wantValue: "192.0.2.1"},
		{name: "applied, then changed by another writer: planned again",
			firstTry: func(t *testing.T, c *cluster, tx *tx, ops []clientv3.Op) {
				if _, err := c.cli.Txn(context.Background()).If(tx.cmps...).Then(ops...).Commit(); err != nil {
					t.Fatal(err)
				}
				for k := range tx.puts {
					c.put(k, `{"host":"192.0.2.2"}`)
				}
			}, wantApplied: false, wantValue: "192.0.2.2"},
		{name: "etcd unreachable until request-timeout: 503 may or may not",
			firstTry: func(*testing.T, *cluster, *tx, []clientv3.Op) {}, cut: true, wantCode: 503},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := etcdtest.Start(t)
			proxy := e.Proxy()
			c := &cluster{t: t, etcd: e, cli: e.Client(), via: proxy.Client(t)}
			s := c.start(func(cfg *Config) { cfg.RequestTimeout = 2 * time.Second })
			a := s.api
			name := "rt.skydns.local."
			tx := newTx(a.store)
			if err := tx.putRecord(name, record.Record{Type: record.TypeA, Host: "192.0.2.1"}, tx.records(name)); err != nil {
				t.Fatal(err)
			}
			ops, keys := tx.ops()
			tc.firstTry(t, c, tx, ops)
			before := c.modRevisions(keys)
			if tc.cut {
				proxy.Cut()
				defer proxy.Restore()
			}
			start := time.Now()
			_, applied, herr := a.commit(context.Background(), start.Add(a.cfg.RequestTimeout), tx, ops, keys, true)
			if tc.wantCode != 0 {
				if herr == nil || herr.status != tc.wantCode || !strings.Contains(herr.msg, "may or may not") {
					t.Fatalf("got %v, want %d may or may not", herr, tc.wantCode)
				}
				if took := time.Since(start); took < a.cfg.RequestTimeout {
					t.Fatalf("gave up after %s, before request-timeout %s", took, a.cfg.RequestTimeout)
				}
				return
			}
			if herr != nil || applied != tc.wantApplied {
				t.Fatalf("got applied %v, %v; want applied %v", applied, herr, tc.wantApplied)
			}
			after := c.modRevisions(keys)
			for _, k := range keys {
				if !tc.retryWrites && after[k] != before[k] {
					t.Errorf("%s written again by the retry (mod revision %d -> %d)", k, before[k], after[k])
				}
			}
			got := c.stored("skydns.local.")
			for _, k := range keys {
				if got[k].Host != tc.wantValue {
					t.Errorf("%s = %+v, want host %s", k, got[k], tc.wantValue)
				}
			}
		})
	}
}

// modRevisions returns each key's mod revision (0: absent).
func (c *cluster) modRevisions(keys []string) map[string]int64 {
	c.t.Helper()
	out := map[string]int64{}
	for _, k := range keys {
		resp, err := c.cli.Get(context.Background(), k)
		if err != nil {
			c.t.Fatal(err)
		}
		if len(resp.Kvs) == 1 {
			out[k] = resp.Kvs[0].ModRevision
		}
	}
	return out
}
