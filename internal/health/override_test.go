package health

import (
	"strings"
	"testing"
	"time"
)

func TestOverride(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want State
		err  bool
	}{
		{`{"status":"DOWN","reason":"kernel upgrade","user":"alice","since":"2026-01-02T03:04:05Z"}`, Down, false},
		{`{"status":"up","extra":1}`, Up, false},
		{`{"status":"DOWN","until":"2026-01-02T03:04:05Z"}`, Down, false},
		// An until that does not parse must not make the override hold for
		// ever: the value is no override at all.
		{`{"status":"DOWN","until":"tomorrow"}`, Unknown, true},
		{`{"status":"MAYBE"}`, Unknown, true},
		{`{}`, Unknown, true},
		{`not json`, Unknown, true},
	} {
		o, err := DecodeOverride([]byte(tc.in))
		if (err != nil) != tc.err {
			t.Errorf("DecodeOverride(%s) error = %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err == nil {
			if st, _ := o.State(); st != tc.want || o.Status != tc.want.String() {
				t.Errorf("DecodeOverride(%s) = %+v, want %v", tc.in, o, tc.want)
			}
		}
	}
	b, err := EncodeOverride(Override{Status: "down", Reason: "r"})
	if err != nil || !strings.HasPrefix(string(b), `{"status":"DOWN"`) {
		t.Errorf("EncodeOverride = %s, %v; want the status first, upper-case", b, err)
	}
	if _, err := EncodeOverride(Override{Status: "?"}); err == nil {
		t.Error("EncodeOverride accepted a bad status")
	}
}

func TestOverrideActiveAndDescribe(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		until time.Time
		want  bool
	}{
		{time.Time{}, true},
		{now.Add(time.Nanosecond), true},
		{now, false},
		{now.Add(-time.Hour), false},
	} {
		if got := (Override{Status: "DOWN", Until: tc.until}).Active(now); got != tc.want {
			t.Errorf("until %v: Active = %v, want %v", tc.until, got, tc.want)
		}
	}
	for o, want := range map[Override]string{
		{Reason: "kernel upgrade", User: "alice"}: "override: kernel upgrade (by alice)",
		{Reason: "kernel upgrade"}:                "override: kernel upgrade",
		{User: "alice"}:                           "override (by alice)",
		{}:                                        "override",
	} {
		if got := o.Describe(); got != want {
			t.Errorf("Describe(%+v) = %q, want %q", o, got, want)
		}
	}
}
