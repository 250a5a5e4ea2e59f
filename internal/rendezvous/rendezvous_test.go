package rendezvous

import (
	"hash/fnv"
	"testing"
)

// The values are pinned: a change would move every hold-one client and
// every assigned target at once, across a fleet mid-upgrade.
func TestFixedValues(t *testing.T) {
	want := [2]uint64{0x4f51b08e04a60821, 0xa759ea27d4727622}
	got := [2]uint64{FNV64a(Offset, []byte("skydns")), Mix(42)}
	if got != want {
		t.Fatalf("hash values changed: %#x, want %#x", got, want)
	}
	// FNV64a is plain FNV-1a.
	h := fnv.New64a()
	h.Write([]byte("skydns"))
	if h.Sum64() != got[0] {
		t.Fatalf("FNV64a differs from hash/fnv")
	}
}
