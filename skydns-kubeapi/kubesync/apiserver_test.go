package kubesync

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Which errors mean the kube-apiserver did not serve a call (tried again
// every 250 ms, the sync marked as having lost it) and which are its
// answer (handed to client-go as they are).
func TestUnreachable(t *testing.T) {
	gr := schema.GroupResource{Resource: "services"}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"no error", nil, false},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"no answer", context.DeadlineExceeded, true},
		{"429 come back later", apierrors.NewTooManyRequests("slow down", 1), true},
		{"503 starting up", apierrors.NewServiceUnavailable("starting"), true},
		{"410 too old resource version: relist", apierrors.NewResourceExpired("too old resource version"), false},
		{"403 forbidden", apierrors.NewForbidden(gr, "x", errors.New("no")), false},
		{"500 internal error", apierrors.NewInternalError(errors.New("bug")), false},
	} {
		if got := unreachable(tc.err); got != tc.want {
			t.Errorf("%s: unreachable = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A call is tried again while the apiserver is unreachable, the gauge is 0
// meanwhile, and 1 again once the apiserver answers.
func TestCallWaitsForAPIServer(t *testing.T) {
	up := prometheus.NewGauge(prometheus.GaugeOpts{Name: "up"})
	a := newAPIServer(slog.New(slog.DiscardHandler), up)
	var calls atomic.Int32
	var sawDown atomic.Bool
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := a.call(ctx, "list services", func(context.Context) error {
		if calls.Add(1) < 3 {
			return &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
		}
		sawDown.Store(gauge(t, up) == 0)
		return nil
	})
	if err != nil || calls.Load() != 3 {
		t.Fatalf("call: %v after %d calls, want nil after 3", err, calls.Load())
	}
	if !sawDown.Load() {
		t.Error("gauge not 0 while the apiserver was unreachable")
	}
	if v := gauge(t, up); v != 1 {
		t.Errorf("gauge %v after the apiserver answered, want 1", v)
	}
	// An answer that is an error is returned at once.
	calls.Store(0)
	gone := apierrors.NewResourceExpired("too old resource version")
	if err := a.call(ctx, "watch services", func(context.Context) error { calls.Add(1); return gone }); err != gone || calls.Load() != 1 {
		t.Errorf("call: %v after %d calls, want the 410 after 1", err, calls.Load())
	}
	// Unreachable until ctx ends: the last error.
	short, scancel := context.WithTimeout(ctx, 600*time.Millisecond)
	defer scancel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	if err := a.call(short, "list services", func(context.Context) error { return refused }); err != refused {
		t.Errorf("call: %v, want the connection error once ctx ended", err)
	}
}

func gauge(t *testing.T, g prometheus.Gauge) float64 {
	t.Helper()
	var m dto.Metric
	if err := g.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
