package zone

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/record"
)

// fill writes n names with 3 addresses each, as SkyDNS writes them, and a
// status for one IP in ten.
func fill(b *testing.B, cli *clientv3.Client, n int) {
	b.Helper()
	var wg sync.WaitGroup
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			var ops []clientv3.Op
			for i := w; i < n; i += workers {
				name := fmt.Sprintf("n%d.bench.skydns.local.", i)
				for j := range 3 {
					k := i*3 + j
					r := record.Record{Host: fmt.Sprintf("198.%d.%d.%d", 18+k>>16&1, k>>8&255, k&255)}
					v, _ := r.Encode()
					ops = append(ops, clientv3.OpPut(record.Key("/skydns", name, record.ID(r)), string(v)))
				}
				if len(ops) >= 120 || i+workers >= n {
					if _, err := cli.Txn(context.Background()).Then(ops...).Commit(); err != nil {
						b.Error(err)
						return
					}
					ops = ops[:0]
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkLoad measures a full load of n names x 3 addresses from etcd:
// time per name and live heap per name after the load.
func BenchmarkLoad(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			e := etcdtest.Start(b)
			cli := e.Client()
			fill(b, cli, n)
			b.ResetTimer()
			var heap uint64
			for b.Loop() {
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				s := New(Options{Prefix: "/skydns", Zones: []string{"skydns.local."}, StatusPath: "/skydns/monitor/status/"})
				ctx, cancel := context.WithCancel(context.Background())
				wait := s.Start(ctx, cli)
				for !s.Loaded() {
					time.Sleep(time.Millisecond)
				}
				b.StopTimer()
				runtime.GC()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				heap = after.HeapAlloc - before.HeapAlloc
				if got := s.zones[0].Len(); got != n {
					b.Fatalf("loaded %d names, want %d", got, n)
				}
				runtime.KeepAlive(s)
				cancel()
				wait()
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/name")
			b.ReportMetric(float64(heap)/float64(n), "heapB/name")
		})
	}
}

// BenchmarkBuild is the zone's own share of a load: decoding, key parsing
// and building nodes from key-values already in memory, without etcd.
// It reports time and live heap per name (3 addresses each).
func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{100000, 1000000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			kvs := make([]*mvccpb.KeyValue, 0, 3*n)
			for i := range n {
				name := fmt.Sprintf("n%d.bench.skydns.local.", i)
				for j := range 3 {
					k := i*3 + j
					r := record.Record{Host: fmt.Sprintf("198.%d.%d.%d", 18+k>>16&1, k>>8&255, k&255)}
					v, _ := r.Encode()
					kvs = append(kvs, &mvccpb.KeyValue{Key: []byte(record.Key("/skydns", name, record.ID(r))), Value: v})
				}
			}
			slices.SortFunc(kvs, func(a, b *mvccpb.KeyValue) int { return bytes.Compare(a.Key, b.Key) })
			seq := func(yield func(*mvccpb.KeyValue, error) bool) {
				for _, kv := range kvs {
					if !yield(kv, nil) {
						return
					}
				}
			}
			var heap uint64
			for b.Loop() {
				b.StopTimer()
				s := New(Options{Prefix: "/skydns", Zones: []string{"skydns.local."}, StatusPath: "/skydns/monitor/status/"})
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				b.StartTimer()
				if err := (recordsHandler{z: s.zones[0], log: s.log}).Load(1, seq); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				runtime.GC()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				heap = after.HeapAlloc - before.HeapAlloc
				if s.zones[0].Len() != n {
					b.Fatalf("%d names", s.zones[0].Len())
				}
				runtime.KeepAlive(s)
				b.StartTimer()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/name")
			b.ReportMetric(float64(heap)/float64(n), "heapB/name")
		})
	}
}
