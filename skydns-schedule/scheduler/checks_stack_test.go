package scheduler_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	grpchealth "google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/health"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
	"github.com/skydns/skydns/internal/policy"
)

// Checks that see what users see, from policy to status: a name whose
// policy asks for a text in the body, and one whose policy asks the gRPC
// health service, go DOWN with the reason of their check when the backend
// still accepts connections but says it is sick, and UP again when it
// recovers.
func TestPolicyChecksReachTheStatus(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()

	var body atomic.Value
	body.Store("state: ok")
	webLn, err := net.Listen("tcp", netip.AddrPortFrom(mt.LoopbackIPs(1)[0], 0).String())
	if err != nil {
		t.Fatal(err)
	}
	web := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, body.Load().(string))
	}))
	web.Listener.Close()
	web.Listener = webLn
	web.Start()
	defer web.Close()
	webAddr := netip.MustParseAddrPort(webLn.Addr().String())

	rpcLn, err := net.Listen("tcp", netip.AddrPortFrom(mt.LoopbackIPs(1)[0], 0).String())
	if err != nil {
		t.Fatal(err)
	}
	hs := grpchealth.NewServer()
	rpc := grpc.NewServer()
	healthpb.RegisterHealthServer(rpc, hs)
	go func() { _ = rpc.Serve(rpcLn) }()
	defer rpc.Stop()
	rpcAddr := netip.MustParseAddrPort(rpcLn.Addr().String())

	mt.PutRecord(t, cli, mt.Prefix, "web.skydns.local.", webAddr.Addr())
	mt.PutPolicy(t, cli, mt.Prefix, "web.skydns.local.", policy.Policy{Check: &policy.Check{
		HTTP: &policy.HTTPCheck{Port: int(webAddr.Port()), Match: "state: ok"}}})
	mt.PutRecord(t, cli, mt.Prefix, "rpc.skydns.local.", rpcAddr.Addr())
	mt.PutPolicy(t, cli, mt.Prefix, "rpc.skydns.local.", policy.Policy{Check: &policy.Check{
		GRPC: &policy.GRPCCheck{Port: int(rpcAddr.Port())}}})
	st := mt.WatchStatuses(t, cli, mt.Paths)
	mt.StartSchedule(t, cli, mt.ScheduleConfig(t, "s1"))
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a1")) // no default ports: only the policies' checks
	mt.StartAgent(t, cli, mt.AgentConfig(t, "a2"))

	reason := func(ip netip.Addr) string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := cli.Get(ctx, mt.Paths.Status+ip.String())
		if err != nil || len(resp.Kvs) == 0 {
			t.Fatalf("status of %s: %v", ip, err)
		}
		s, err := health.Decode(resp.Kvs[0].Value)
		if err != nil {
			t.Fatal(err)
		}
		return s.Reason
	}
	for _, tc := range []struct {
		name   string
		ip     netip.Addr
		sick   func()
		well   func()
		reason string
	}{
		{"http match", webAddr.Addr(),
			func() { body.Store("state: degraded") }, func() { body.Store("state: ok") },
			"http/" + strconv.Itoa(int(webAddr.Port())) + ": match"},
		{"grpc health", rpcAddr.Addr(),
			func() { hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING) },
			func() { hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING) },
			"grpc/" + strconv.Itoa(int(rpcAddr.Port())) + ": not-serving (NOT_SERVING)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st.Wait(tc.ip, health.Up, 15*time.Second)
			tc.sick()
			st.Wait(tc.ip, health.Down, 15*time.Second)
			if got := reason(tc.ip); got != tc.reason {
				t.Errorf("reason %q, want %q", got, tc.reason)
			}
			tc.well()
			st.Wait(tc.ip, health.Up, 15*time.Second)
		})
	}
}
