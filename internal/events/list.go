package events

import (
	"context"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Query selects events for List.
type Query struct {
	IP    string    // only events about this IP
	Name  string    // only events about this name
	Since time.Time // only events at or after it
	Limit int       // at most this many; 0: DefaultLimit
}

// Limits of a listing.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
	// pageSize is how many events List reads from etcd at a time.
	pageSize = 500
)

// List returns the events q selects, newest first. The keys sort by time,
// so the newest come first from etcd and since is a key range; a filter by
// ip or name reads pages until it has Limit events, at most the events kept
// (events-max).
func List(ctx context.Context, cli *clientv3.Client, prefix string, q Query) ([]Event, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	dir := Dir(prefix)
	from := dir
	if !q.Since.IsZero() {
		from = timeKey(prefix, q.Since)
	}
	end := clientv3.GetPrefixRangeEnd(dir)
	out := []Event{}
	for {
		resp, err := cli.Get(ctx, from, clientv3.WithRange(end),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend), clientv3.WithLimit(pageSize))
		if err != nil {
			return nil, err
		}
		for _, kv := range resp.Kvs {
			id := strings.TrimPrefix(string(kv.Key), dir)
			e, err := Decode(id, kv.Value)
			if err != nil || !e.Matches(q.IP, q.Name) {
				continue
			}
			out = append(out, e)
			if len(out) == limit {
				return out, nil
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return out, nil
		}
		end = string(resp.Kvs[len(resp.Kvs)-1].Key) // exclusive: the next page is older
	}
}
