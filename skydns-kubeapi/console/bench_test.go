package console_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
)

// The names page over 100,000 names: the first page, a page far in, and a
// search that matches few names and so looks through all of them.
func BenchmarkNamesPage100k(b *testing.B) {
	etcd := etcdtest.Start(b)
	cli := etcd.Client()
	const n = 100_000
	for i := 0; i < n; i += 100 {
		ops := make([]clientv3.Op, 0, 100)
		for j := i; j < i+100; j++ {
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("%s/local/skydns/h%06d/%08x", mt.Prefix, j, j),
				fmt.Sprintf(`{"host":"203.0.113.%d"}`, j%250+1)))
		}
		if _, err := cli.Txn(context.Background()).Then(ops...).Commit(); err != nil {
			b.Fatal(err)
		}
	}
	base, st := startAPI(b, cli, true, "")
	mt.Eventually(b, 2*time.Minute, "100,000 names loaded", func() bool {
		names, _ := st.Names("h099998.skydns.local.", 10)
		return len(names) == 1
	})
	for _, c := range []struct{ what, path string }{
		{"first", "/ui/"},
		{"far", "/ui/?after=h090000.skydns.local."},
		{"search", "/ui/?q=h09999"},
	} {
		b.Run(c.what, func(b *testing.B) {
			for b.Loop() {
				resp, err := http.Get(base + c.path)
				if err != nil || resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %v %v", c.path, err, resp)
				}
				resp.Body.Close()
			}
		})
	}
}
