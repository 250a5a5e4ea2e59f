package etcdclient

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// Retry's rules, with ops that stand for what etcd answers: a lost try is
// sent again with a growing bound until the deadline, a refusal is not.
func TestRetry(t *testing.T) {
	lost := context.DeadlineExceeded
	for _, tc := range []struct {
		name      string
		answers   []error // per try; past the end: nil
		deadline  time.Duration
		wantTries int
		wantErr   error
	}{
		{"first try succeeds", nil, time.Second, 1, nil},
		{"lost tries are sent again", []error{lost, lost}, time.Hour, 3, nil},
		{"a refusal ends it", []error{rpctypes.ErrTooManyOps}, time.Hour, 1, rpctypes.ErrTooManyOps},
		{"past the deadline: one try only", []error{lost, lost}, -time.Second, 1, lost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tries := 0
			var bounds []time.Duration
			err := Retry(context.Background(), time.Now().Add(tc.deadline), func(ctx context.Context) error {
				d, _ := ctx.Deadline()
				bounds = append(bounds, time.Until(d))
				tries++
				if tries <= len(tc.answers) {
					return tc.answers[tries-1]
				}
				return nil
			})
			if !errors.Is(err, tc.wantErr) || tries != tc.wantTries {
				t.Fatalf("got %v after %d tries, want %v after %d", err, tries, tc.wantErr, tc.wantTries)
			}
			if bounds[0] > FirstTry {
				t.Errorf("first try bounded by %s, want at most %s", bounds[0], FirstTry)
			}
			for i := 1; i < len(bounds); i++ {
				if bounds[i] <= bounds[i-1] {
					t.Errorf("try %d bounded by %s, not more than try %d's %s", i+1, bounds[i], i, bounds[i-1])
				}
			}
		})
	}
}
