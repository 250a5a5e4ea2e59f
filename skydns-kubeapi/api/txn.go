package api

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"net/http"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdclient"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns-kubeapi/store"
)

// tx collects one attempt at a write: what was read (each read adds a guard
// that fails the transaction if what was read changed since), and the keys
// to put and delete.
type tx struct {
	s      *store.Store
	prefix string

	cmps    []clientv3.Cmp
	orElse  []clientv3.Op
	guarded map[string]bool
	// read holds each name's records as first read: one attempt plans on
	// one view of a name (the guard is on that read's revision anyway),
	// and a 100-address POST does not copy and sort the name 100 times.
	// Callers only range over them.
	read map[string][]store.Entry

	puts map[string][]byte
	dels map[string]bool
	// planned holds the records among puts, for RecordKey to see the ids
	// this attempt has already taken.
	planned map[string]record.Record
	// prior holds the values read, by key, as they were before this
	// attempt: the "before" of the write's event.
	prior map[string]any
}

func newTx(s *store.Store) *tx {
	return &tx{s: s, prefix: s.Prefix(), guarded: map[string]bool{}, read: map[string][]store.Entry{},
		puts: map[string][]byte{}, dels: map[string]bool{}, planned: map[string]record.Record{}, prior: map[string]any{}}
}

// records returns the records of name and guards them: the transaction
// fails if any key at the name's path or below it was created or changed
// after the mirror revision they were read at. (A deletion is not seen by
// the guard; planning from a record that has just gone is harmless: its
// delete is a no-op and it can only make a conflict check stricter.)
func (t *tx) records(name string) []store.Entry {
	if entries, ok := t.read[name]; ok {
		return entries
	}
	entries, rev, ok := t.s.Snapshot(name)
	if !ok {
		return nil // outside the mirrored zones: nothing to guard
	}
	if !t.guarded[name] {
		t.guarded[name] = true
		p := record.NamePath(t.prefix, name)
		t.cmps = append(t.cmps,
			clientv3.Compare(clientv3.ModRevision(p), "<", rev+1),
			clientv3.Compare(clientv3.ModRevision(p+"/"), "<", rev+1).WithPrefix())
		// When the guard fails these tell how far the mirror must catch up
		// before the next attempt.
		t.orElse = append(t.orElse,
			clientv3.OpGet(p, clientv3.WithKeysOnly()),
			clientv3.OpGet(p+"/", clientv3.WithPrefix(), clientv3.WithKeysOnly(),
				clientv3.WithSort(clientv3.SortByModRevision, clientv3.SortDescend), clientv3.WithLimit(1)))
	}
	t.read[name] = entries
	for _, e := range entries {
		t.prior[e.Key] = e.Record
	}
	return entries
}

// policy returns the policy of name, guarded like records.
func (t *tx) policy(name string) (store.PolicyEntry, bool) {
	e, ok, rev := t.s.PolicySnapshot(name)
	key := policy.Key(t.prefix, name)
	if !t.guarded["policy:"+name] {
		t.guarded["policy:"+name] = true
		t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(key), "<", rev+1))
		t.orElse = append(t.orElse, clientv3.OpGet(key, clientv3.WithKeysOnly()))
	}
	if ok {
		t.prior[e.Key] = store.StoredPolicy{Policy: e.Policy, Source: e.Source, Cluster: e.Cluster, User: e.User}
	}
	return e, ok
}

// override returns the override of ip, guarded like records: the
// transaction fails if the override key (or the key the mirror found it
// under, when written by hand in another spelling) changed after the
// revision of the mirror it was read from.
func (t *tx) override(ip netip.Addr) (store.OverrideEntry, bool) {
	e, ok, rev := t.s.OverrideSnapshot(ip)
	keys := []string{t.s.OverrideKey(ip)}
	if ok && e.Key != keys[0] {
		keys = append(keys, e.Key)
	}
	for _, key := range keys {
		if !t.guarded["override:"+key] {
			t.guarded["override:"+key] = true
			t.cmps = append(t.cmps, clientv3.Compare(clientv3.ModRevision(key), "<", rev+1))
			t.orElse = append(t.orElse, clientv3.OpGet(key, clientv3.WithKeysOnly()))
		}
	}
	if ok && json.Valid(e.Raw) {
		t.prior[e.Key] = json.RawMessage(e.Raw)
	}
	return e, ok
}

func (t *tx) put(key string, value []byte) {
	delete(t.dels, key)
	t.puts[key] = value
}

func (t *tx) del(key string) {
	delete(t.puts, key)
	delete(t.planned, key)
	t.dels[key] = true
}

// recordKey is the key a normalized record r of name goes to in this
// attempt: its id, or the next probe when that key holds another record,
// as read (existing, the name's records) or as planned here. A key this
// attempt deletes is free.
func (t *tx) recordKey(name string, r record.Record, existing []store.Entry) (string, *httpError) {
	inExisting := store.EntryAt(existing)
	key, ok := store.RecordKey(t.prefix, name, r, func(k string) (record.Record, bool) {
		if p, ok := t.planned[k]; ok {
			return p, true
		}
		if t.dels[k] {
			return record.Record{}, false
		}
		return inExisting(k)
	})
	if !ok {
		return "", errorf(http.StatusConflict, "%s: every id this %s record could take holds another record", display(name), r.Type)
	}
	return key, nil
}

// putRecord stores a record of name, unless the very same value is there
// already. It never replaces a different record whose id collides.
func (t *tx) putRecord(name string, r record.Record, existing []store.Entry) *httpError {
	n, b, err := store.Normalize(r)
	if err != nil {
		return errorf(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "record: "))
	}
	key, herr := t.recordKey(name, n, existing)
	if herr != nil {
		return herr
	}
	for _, e := range existing {
		if e.Key == key && e.Record == n {
			delete(t.dels, key)
			return nil
		}
	}
	t.put(key, b)
	t.planned[key] = n
	return nil
}

func (t *tx) empty() bool { return len(t.puts) == 0 && len(t.dels) == 0 }

// ops returns the operations in key order, so that a retry sends the same
// transaction.
func (t *tx) ops() ([]clientv3.Op, []string) {
	keys := make([]string, 0, len(t.puts)+len(t.dels))
	for k := range t.puts {
		keys = append(keys, k)
	}
	for k := range t.dels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ops := make([]clientv3.Op, 0, len(keys))
	for _, k := range keys {
		if v, ok := t.puts[k]; ok {
			ops = append(ops, clientv3.OpPut(k, string(v)))
		} else {
			ops = append(ops, clientv3.OpDelete(k))
		}
	}
	return ops, keys
}

// minAttempts is how often a request is at least planned again after
// another writer changed what it read; after that it goes on until
// request-timeout has passed. A bound in attempts alone starved a replica
// whose peer kept winning: 24 writers on one name over two replicas saw a
// 409 in a loaded test run.
const minAttempts = 8

// apply plans and commits one write. plan is called once per attempt with a
// fresh tx; it reads through the tx and records its changes there, or
// returns the error to answer. Writes to the names in lock are serialized
// within this process; between replicas the guards do it.
func (a *API) apply(ctx context.Context, lock []string, plan func(t *tx) *httpError) *httpError {
	unlock := a.locks.lock(lock)
	defer unlock()
	if err := a.waitReady(ctx); err != nil {
		return err
	}
	start := time.Now()
	deadline := start.Add(a.cfg.RequestTimeout)
	attempts := 0
	for attempts < minAttempts || time.Now().Before(deadline) {
		attempts++
		t := newTx(a.store)
		if err := plan(t); err != nil {
			return err
		}
		if t.empty() {
			return nil
		}
		ops, keys := t.ops()
		if n := max(len(ops), len(t.cmps)); n > a.cfg.MaxTxnOps {
			return errorf(http.StatusRequestEntityTooLarge,
				"this request needs %d etcd operations, but one transaction takes at most %d (etcd-max-txn-ops), and a request is applied whole or not at all: split it into smaller requests",
				n, a.cfg.MaxTxnOps)
		}
		resp, applied, err := a.commit(ctx, deadline, t, ops, keys, false)
		if err != nil {
			return err
		}
		if applied {
			// Read-your-writes: answer once the mirror shows the change,
			// so the client's next GET (here) sees it. Bounded: the write
			// has happened whatever the mirror does.
			a.recordEvent(actorOf(ctx), lock, t)
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			a.store.Wait(wctx, resp.Header.Revision, keys...)
			cancel()
			return nil
		}
		a.catchUp(ctx, resp)
	}
	return errorf(http.StatusConflict, "the records changed while this request was applied, %d times in %s; nothing was changed, try again",
		attempts, time.Since(start).Round(time.Millisecond))
}

// commit commits one planned transaction, trying it again across a leader
// change or a lost connection until deadline (etcdclient.Retry). It
// returns the response of the last try and whether the transaction is
// applied; a response with applied false is a guard that failed because
// another writer changed what was read (catch up and plan again).
//
// Trying the same transaction again is safe because of its guards: it
// applies only if nothing it read has changed since, so it never applies
// twice (a put changes a guarded key; deletes done twice delete nothing).
// When a try after an unconfirmed one finds its guard failed, the change
// that failed it may be our own first try: if etcd now holds exactly what
// this transaction wrote, it was applied (or an identical write was, which
// is the same to the client). Otherwise it is planned again from the new
// state, as a client's repeat would be. unconfirmed says that an earlier
// try may have been applied already (apply passes false; tests, true).
func (a *API) commit(ctx context.Context, deadline time.Time, t *tx, ops []clientv3.Op, keys []string, unconfirmed bool) (*clientv3.TxnResponse, bool, *httpError) {
	var (
		resp    *clientv3.TxnResponse
		applied bool
	)
	err := etcdclient.Retry(ctx, deadline, func(cctx context.Context) error {
		r, err := a.store.Commit(cctx, t.cmps, ops, t.orElse)
		if err != nil {
			if !unconfirmed && !etcdclient.Permanent(err) { // once per request: an unreachable etcd fails a try every 50 ms
				a.log.Info("etcd did not confirm a change, trying it again", "err", err, "for", time.Until(deadline).Round(time.Millisecond))
			}
			unconfirmed = true
			return err
		}
		if r.Succeeded || !unconfirmed {
			resp, applied = r, r.Succeeded
			return nil
		}
		ok, rev, err := a.holds(ctx, deadline, t, keys)
		if err != nil {
			return err
		}
		if ok {
			r.Header.Revision = rev
		}
		resp, applied = r, ok
		return nil
	})
	switch {
	case err == nil:
		return resp, applied, nil
	case errors.Is(err, rpctypes.ErrTooManyOps):
		return nil, false, errorf(http.StatusRequestEntityTooLarge,
			"etcd refused the transaction as too large (%d operations); lower etcd-max-txn-ops to match etcd's --max-txn-ops, or split the request", len(ops))
	}
	// Only now is it unknown: etcd did not commit within request-timeout,
	// and a try may still be applied after this answer. Say what is known,
	// not more.
	return nil, false, errorf(http.StatusServiceUnavailable,
		"etcd did not confirm the change within %s (%v): it may or may not have been applied; GET the name to see, and repeat the request if it was not",
		a.cfg.RequestTimeout, err)
}

// holds reports whether etcd holds what t writes (every put key with its
// value, every deleted key absent), and at which revision it read that.
// One linearizable transaction of reads per etcd-max-txn-ops keys.
func (a *API) holds(ctx context.Context, deadline time.Time, t *tx, keys []string) (bool, int64, error) {
	cctx, cancel := context.WithTimeout(ctx, max(time.Until(deadline), etcdclient.FirstTry))
	defer cancel()
	var rev int64
	for len(keys) > 0 {
		n := min(len(keys), a.cfg.MaxTxnOps)
		chunk := keys[:n]
		keys = keys[n:]
		gets := make([]clientv3.Op, 0, n)
		for _, k := range chunk {
			gets = append(gets, clientv3.OpGet(k))
		}
		resp, err := a.store.Client().Txn(cctx).Then(gets...).Commit()
		if err != nil {
			return false, 0, err
		}
		rev = max(rev, resp.Header.Revision)
		for i, r := range resp.Responses {
			kvs := r.GetResponseRange().GetKvs()
			want, put := t.puts[chunk[i]]
			switch {
			case put && (len(kvs) != 1 || string(kvs[0].Value) != string(want)):
				return false, rev, nil
			case !put && len(kvs) != 0:
				return false, rev, nil
			}
		}
	}
	return true, rev, nil
}

// catchUp waits until the mirror holds the changes that failed a guard, as
// the transaction's else branch reported them.
func (a *API) catchUp(ctx context.Context, resp *clientv3.TxnResponse) {
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for _, r := range resp.Responses {
		rr := r.GetResponseRange()
		if rr == nil {
			continue
		}
		for _, kv := range rr.Kvs {
			a.store.Wait(wctx, kv.ModRevision, string(kv.Key))
		}
	}
}

// waitReady waits for the first load of the mirror.
func (a *API) waitReady(ctx context.Context) *httpError {
	if a.store.IsReady() {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	defer cancel()
	select {
	case <-a.store.Ready():
		return nil
	case <-wctx.Done():
		return errorf(http.StatusServiceUnavailable, "records are not loaded from etcd yet; try again")
	}
}

// nameLocks serializes writes to the same names within the process, so
// that concurrent requests on one name queue instead of failing each
// other's guards. Names hash onto a fixed set of mutexes.
type nameLocks struct {
	mu [64]sync.Mutex
}

func newNameLocks() *nameLocks { return &nameLocks{} }

func (l *nameLocks) lock(names []string) func() {
	var idx []int
	seen := map[int]bool{}
	for _, n := range names {
		h := fnv.New32a()
		h.Write([]byte(n))
		i := int(h.Sum32() % uint32(len(l.mu)))
		if !seen[i] {
			seen[i] = true
			idx = append(idx, i)
		}
	}
	// Always in the same order, so two requests never wait on each other.
	sort.Ints(idx)
	for _, i := range idx {
		l.mu[i].Lock()
	}
	return func() {
		for j := len(idx) - 1; j >= 0; j-- {
			l.mu[idx[j]].Unlock()
		}
	}
}
