package server

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/etcdview"
	"github.com/skydns/skydns/internal/policy"
	"github.com/skydns/skydns/internal/record"
	"github.com/skydns/skydns/skydns/zone"
)

// benchStore is a loaded store of n names with 3 addresses each, one in ten
// of them DOWN.
func benchStore(b *testing.B, n int) *zone.Store {
	b.Helper()
	e := etcdtest.Start(b)
	cli := e.Client()
	ctx := context.Background()
	var ops []clientv3Op
	flush := func() {
		if len(ops) == 0 {
			return
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			b.Fatal(err)
		}
		ops = ops[:0]
	}
	for i := range n {
		name := fmt.Sprintf("n%d.skydns.local.", i)
		for j := range 3 {
			r := record.Record{Host: fmt.Sprintf("198.%d.%d.%d", 18+j, (i/250)%250, i%250+1)}
			v, _ := r.Encode()
			ops = append(ops, opPut(record.Key("/skydns", name, record.ID(r)), string(v)))
			if i%10 == 0 && j == 0 {
				ops = append(ops, opPut(statusPath+r.Host, `{"status":"DOWN"}`))
			}
		}
		if len(ops) > 100 {
			flush()
		}
	}
	flush()
	store := zone.New(zone.Options{Prefix: "/skydns", Zones: []string{"skydns.local."}, StatusPath: statusPath,
		View: etcdview.Options{ProgressInterval: time.Second}})
	cctx, cancel := context.WithCancel(ctx)
	wait := store.Start(cctx, cli)
	b.Cleanup(func() { cancel(); wait() })
	if !store.Ready(cctx) {
		b.Fatal("not ready")
	}
	for !store.Loaded() {
		time.Sleep(time.Millisecond)
	}
	return store
}

// discardWriter is a ResponseWriter that packs the response, as the
// network path does, and drops it.
type discardWriter struct {
	fakeWriter
	buf []byte
}

func (w *discardWriter) WriteMsg(m *dns.Msg) error {
	var err error
	w.buf, err = m.PackBuffer(w.buf[:cap(w.buf)])
	return err
}

func benchServe(b *testing.B, mode policy.Mode) {
	store := benchStore(b, 1000)
	cfg := defaultConfig()
	cfg.DefaultMode = mode
	h := NewHandler(cfg, store, nil)
	w := &discardWriter{buf: make([]byte, 0, 512)}
	w.remote = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	reqs := make([]*dns.Msg, 1000)
	for i := range reqs {
		reqs[i] = new(dns.Msg)
		reqs[i].SetQuestion(fmt.Sprintf("n%d.skydns.local.", i), dns.TypeA)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		h.ServeDNS(w, reqs[i%len(reqs)])
	}
}

// BenchmarkServeDNS is the query path from an unpacked request to packed
// response bytes, without the network.
func BenchmarkServeDNS(b *testing.B) {
	for _, mode := range []policy.Mode{policy.ModeAll, policy.ModeHoldOne} {
		b.Run(string(mode), func(b *testing.B) { benchServe(b, mode) })
	}
}

type clientv3Op = clientv3.Op

func opPut(k, v string) clientv3.Op { return clientv3.OpPut(k, v) }

func dnsName(i int) string { return fmt.Sprintf("n%d.skydns.local.", i) }
