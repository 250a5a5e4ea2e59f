package etcdview

import (
	"context"
	"fmt"
	"testing"

	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/skydns/skydns/internal/etcdtest"
)

// The paging fallback, for etcd before 3.7, reads the same snapshot as the
// stream.
func TestReadPagesMatchesStream(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	ctx := context.Background()
	var rev int64
	for i := range 23 {
		resp, err := cli.Put(ctx, fmt.Sprintf("/p/k%02d", i), "v")
		if err != nil {
			t.Fatal(err)
		}
		rev = resp.Header.Revision
	}
	if _, err := cli.Put(ctx, "/p/k00", "later"); err != nil {
		t.Fatal(err)
	}
	v := New(cli, "/p/", nil, Options{PageSize: 4})
	var paged, streamed []string
	v.readPages(ctx, rev, func(kv *mvccpb.KeyValue, err error) bool {
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, string(kv.Key)+"="+string(kv.Value))
		return true
	})
	for kv, err := range v.read(ctx, rev) {
		if err != nil {
			t.Fatal(err)
		}
		streamed = append(streamed, string(kv.Key)+"="+string(kv.Value))
	}
	if len(paged) != 23 || fmt.Sprint(paged) != fmt.Sprint(streamed) || paged[0] != "/p/k00=v" {
		t.Fatalf("paged %v\nstreamed %v", paged, streamed)
	}
}
