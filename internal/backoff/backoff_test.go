package backoff

import (
	"context"
	"testing"
	"time"
)

func TestDoublesUpToCap(t *testing.T) {
	b := New()
	for _, want := range []time.Duration{100, 200, 400, 800, 1600, 3200, 5000, 5000} {
		if b.d != want*time.Millisecond {
			t.Fatalf("delay %v, want %v", b.d, want*time.Millisecond)
		}
		b.d = min(2*b.d, 5*time.Second)
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if New().Wait(ctx) {
		t.Fatal("Wait returned true on a cancelled context")
	}
	start := time.Now()
	if !New().Wait(context.Background()) || time.Since(start) < 90*time.Millisecond {
		t.Fatal("first wait should be about 100 ms")
	}
}
