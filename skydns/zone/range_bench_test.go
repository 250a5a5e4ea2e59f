package zone

import (
	"context"
	"fmt"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
)

// BenchmarkRangeRead is the raw paginated read of 100k names x 3 keys,
// with nothing done with them: the floor under a load.
func BenchmarkRangeRead(b *testing.B) {
	e := etcdtest.Start(b)
	cli := e.Client()
	fill(b, cli, 100000)
	for _, page := range []int64{1000, 5000, 20000, 100000} {
		b.Run(fmt.Sprint(page), func(b *testing.B) {
			for b.Loop() {
				prefix := "/skydns/local/skydns"
				end := clientv3.GetPrefixRangeEnd(prefix)
				resp, err := cli.Get(context.Background(), prefix, clientv3.WithPrefix(), clientv3.WithLimit(page))
				if err != nil {
					b.Fatal(err)
				}
				rev, n := resp.Header.Revision, len(resp.Kvs)
				for resp.More {
					next := string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
					resp, err = cli.Get(context.Background(), next, clientv3.WithRange(end), clientv3.WithLimit(page), clientv3.WithRev(rev))
					if err != nil {
						b.Fatal(err)
					}
					n += len(resp.Kvs)
				}
				if n != 300000 {
					b.Fatalf("read %d keys", n)
				}
			}
		})
	}
}
