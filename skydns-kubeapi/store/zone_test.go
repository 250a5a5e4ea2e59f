package store

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/record"
)

func keysOf(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Key)
	}
	return out
}

// A name's records come back in key order however they were added, a
// removed record leaves the others, and the listing follows names that
// come and go, including one whose only record is replaced.
func TestZoneIndexApply(t *testing.T) {
	z := newZoneIndex(record.NewRule("/skydns", []string{"skydns.local."}, nil), "skydns.local.", nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	kvs := []*mvccpb.KeyValue{
		{Key: []byte("/skydns/local/skydns/a/0a0b0c0d"), Value: []byte(`{"host":"192.0.2.1"}`)},
		{Key: []byte("/skydns/local/skydns/b/0a0b0c0d"), Value: []byte(`{"host":"192.0.2.2"}`)},
	}
	if err := z.Load(1, func(yield func(*mvccpb.KeyValue, error) bool) {
		for _, kv := range kvs {
			if !yield(kv, nil) {
				return
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	if got := z.names("", 10); !slices.Equal(got, []string{"a.skydns.local.", "b.skydns.local."}) {
		t.Fatalf("names after load %v", got)
	}
	z.Apply(2, []*clientv3.Event{
		put("/skydns/local/skydns/a/0c0c0c0c", `{"host":"192.0.2.3"}`),
		put("/skydns/local/skydns/a/0b0b0b0b", `{"host":"192.0.2.4"}`),
		put("/skydns/local/skydns/a/b/0a0b0c0d", `{"host":"192.0.2.5"}`),
	})
	es, rev := z.snapshot("a.skydns.local.")
	want := []string{"/skydns/local/skydns/a/0a0b0c0d", "/skydns/local/skydns/a/0b0b0b0b", "/skydns/local/skydns/a/0c0c0c0c"}
	if !slices.Equal(keysOf(es), want) || rev != 2 {
		t.Errorf("snapshot %v at %d, want %v at 2", keysOf(es), rev, want)
	}
	if got := z.names("", 10); !slices.Equal(got, []string{"a.skydns.local.", "b.a.skydns.local.", "b.skydns.local."}) {
		t.Errorf("names after adds %v", got)
	}
	z.Apply(3, []*clientv3.Event{
		del("/skydns/local/skydns/a/0b0b0b0b"),
		put("/skydns/local/skydns/b/0a0b0c0d", `{"host":"192.0.2.9"}`), // replaced in place
		del("/skydns/local/skydns/a/b/0a0b0c0d"),
	})
	if es, _ := z.snapshot("a.skydns.local."); !slices.Equal(keysOf(es), []string{want[0], want[2]}) {
		t.Errorf("snapshot after a delete %v", keysOf(es))
	}
	if es, _ := z.snapshot("b.skydns.local."); len(es) != 1 || es[0].Record.Host != "192.0.2.9" {
		t.Errorf("replaced record %+v", es)
	}
	if got := z.names("a.skydns.local.", 10); !slices.Equal(got, []string{"b.skydns.local."}) {
		t.Errorf("names after deletes %v", got)
	}
	if es, _ := z.snapshot("nowhere.skydns.local."); es == nil || len(es) != 0 {
		t.Errorf("snapshot of no name %#v", es)
	}
}

// Listings built while the names change never lose a name that stays, and
// once the changes stop the listing shows them all (run with -race).
func TestZoneIndexNamesWhileChanging(t *testing.T) {
	z := newZoneIndex(record.NewRule("/skydns", []string{"skydns.local."}, nil), "skydns.local.", nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	z.Apply(1, []*clientv3.Event{put("/skydns/local/skydns/stay/0a0b0c0d", `{"host":"192.0.2.1"}`)})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 200 {
			z.Apply(int64(i+2), []*clientv3.Event{put(fmt.Sprintf("/skydns/local/skydns/n%d/0a0b0c0d", i), `{"host":"192.0.2.2"}`)})
		}
	})
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if !slices.Contains(z.names("", 1000), "stay.skydns.local.") {
					t.Error("a listing lost a name")
					return
				}
			}
		})
	}
	wg.Wait()
	if n := len(z.names("", 1000)); n != 201 {
		t.Errorf("%d names, want 201", n)
	}
}
