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

func TestWaitUntil(t *testing.T) {
	for _, tc := range []struct {
		name    string
		delay   time.Duration // the grown delay
		backAt  time.Duration // when back starts reporting true; 0: never
		atLeast time.Duration
		atMost  time.Duration // loose: the machine is loaded
	}{
		{"ends when back, not after the full delay", 5 * time.Second, 500 * time.Millisecond, 500 * time.Millisecond, 3 * time.Second},
		{"waits the first 100 ms even if back at once", 5 * time.Second, time.Nanosecond, 100 * time.Millisecond, 3 * time.Second},
		{"the full delay when never back", 500 * time.Millisecond, 0, 500 * time.Millisecond, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &Backoff{d: tc.delay}
			start := time.Now()
			back := func(ctx context.Context) bool {
				if _, ok := ctx.Deadline(); !ok {
					t.Error("probe without a deadline")
				}
				return tc.backAt != 0 && time.Since(start) >= tc.backAt
			}
			if !b.WaitUntil(context.Background(), back) {
				t.Fatal("WaitUntil returned false without a cancelled context")
			}
			took := time.Since(start)
			if took < tc.atLeast || took > tc.atMost {
				t.Fatalf("waited %s, want %s to %s", took, tc.atLeast, tc.atMost)
			}
			if b.d != min(2*tc.delay, limit) {
				t.Fatalf("next delay %s, want it grown to %s", b.d, min(2*tc.delay, limit))
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if New().WaitUntil(ctx, func(context.Context) bool { return true }) {
		t.Fatal("WaitUntil returned true on a cancelled context")
	}
}
