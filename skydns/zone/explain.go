package zone

import (
	"context"
	"errors"
	"net/netip"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
)

// What an explanation needs beyond what the query path reads. The view
// keeps, per record, only a hash of its etcd key (8 bytes instead of a
// string of some 40 per address, times millions), and, per IP, only the
// status word; the explanation reads the rest from etcd at the revision
// its view is at, so that it describes the very data the answer came from.
// Should etcd have compacted that revision away, the newest data is read
// and the revision returned says so.

// KeyHash identifies the etcd key the record came from (see RecordKeys).
func (a Addr) KeyHash() uint64 { return a.key }

// Dup says an earlier record of the name holds the same IP and port: the
// answers list it once.
func (a Addr) Dup() bool { return a.dup }

// Prefix is the etcd prefix of records and policies, e.g. /skydns.
func (s *Store) Prefix() string { return s.prefix }

// PolicyKey is the etcd key of name's policy.
func (s *Store) PolicyKey(name string) string { return policy.Key(s.prefix, name) }

// RecordKeys returns the etcd keys below the path of name (lower case,
// fully qualified) by the hash a record keeps of its key, read at the
// revision of the zone's view (rev, the revision read). A name's records
// are at its path or below it.
func (s *Store) RecordKeys(ctx context.Context, name string) (keys map[uint64]string, rev int64, err error) {
	z := s.ZoneOf(name)
	if z == nil || s.cli == nil {
		return nil, 0, errors.New("zone: no served zone or no etcd for " + name)
	}
	path := record.NamePath(s.prefix, name)
	resp, rev, err := s.getAt(ctx, z.Revision(), path, clientv3.WithPrefix(), clientv3.WithKeysOnly(), clientv3.WithLimit(maxExplainKeys))
	if err != nil {
		return nil, 0, err
	}
	keys = make(map[uint64]string, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		k := string(kv.Key)
		if len(k) == len(path) || k[len(path)] == '/' {
			keys[keyHash(kv.Key)] = k
		}
	}
	return keys, rev, nil
}

// maxExplainKeys bounds the read of a name with very many records below
// it (a zone apex with descend-zones); keys beyond it are reported unknown.
const maxExplainKeys = 10000

// StatusDetails decodes the whole status value of each IP (the query path
// reads only the status word), at the revision of the health view. An IP
// without a status key is missing from the map.
func (s *Store) StatusDetails(ctx context.Context, ips []netip.Addr) (map[netip.Addr]health.Status, int64, error) {
	if s.cli == nil || s.statusView == nil {
		return nil, 0, errors.New("zone: no etcd")
	}
	want := s.statusView.Status().Revision
	out := make(map[netip.Addr]health.Status, len(ips))
	read := want
	for _, ip := range ips {
		resp, rev, err := s.getAt(ctx, want, health.Key(s.statusPath, ip))
		if err != nil {
			return nil, 0, err
		}
		if rev != want {
			read = rev
		}
		if len(resp.Kvs) == 1 {
			// A value the server ignores as bad shows as it stands.
			st, _ := health.Decode(resp.Kvs[0].Value)
			out[ip] = st
		}
	}
	return out, read, nil
}

// getAt reads at rev, or the newest data when rev is 0 or compacted.
func (s *Store) getAt(ctx context.Context, rev int64, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, int64, error) {
	if rev > 0 {
		resp, err := s.cli.Get(ctx, key, append(opts, clientv3.WithRev(rev))...)
		if err == nil {
			return resp, rev, nil
		}
		if !errors.Is(err, rpctypes.ErrCompacted) {
			return nil, 0, err
		}
	}
	resp, err := s.cli.Get(ctx, key, opts...)
	if err != nil {
		return nil, 0, err
	}
	return resp, resp.Header.Revision, nil
}
