package main

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:53", "127.8.9.1:5353", "[::1]:53"} {
		if err := loopbackOnly(ok); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"192.0.2.1:53", "203.0.113.1:53", "localhost:53", "[2001:db8::1]:53", "127.0.0.1"} {
		if loopbackOnly(bad) == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestQuantile(t *testing.T) {
	h := newHistogram()
	for us := 1; us <= 100; us++ {
		h.add(time.Duration(us)*time.Microsecond + 500*time.Nanosecond)
	}
	h.add(300 * time.Millisecond) // beyond the buckets: kept exactly
	if h.n != 101 {
		t.Fatalf("n = %d", h.n)
	}
	// Bucket upper edges: the 50th of 101 values is 50.5 µs, in bucket 50.
	if got := h.quantile(0.5); got != 52 {
		t.Errorf("p50 = %d µs, want 52 (rank 51 of 101)", got)
	}
	if got := h.quantile(0.99); got != 101 {
		t.Errorf("p99 = %d µs, want 101", got)
	}
	if got := h.quantile(1); got != 300_000 || h.max != 300_000 {
		t.Errorf("p100 = %d, max = %d µs, want 300000", got, h.max)
	}
}

// TestLoadAgainstEcho runs the load generator for a moment against the echo
// mode on loopback: every query must come back and be timed.
func TestLoadAgainstEcho(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	done := make(chan error, 1)
	go func() { done <- serveEcho(addr, time.Second) }()
	time.Sleep(50 * time.Millisecond)

	qf := filepath.Join(t.TempDir(), "q.txt")
	if err := os.WriteFile(qf, []byte("a.bench.skydns.local. A\nb.bench.skydns.local AAAA\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	queries, err := readQueries(qf)
	if err != nil || len(queries) != 2 {
		t.Fatalf("readQueries: %d, %v", len(queries), err)
	}
	res, err := load(addr, queries, 2000, 300*time.Millisecond, 3, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if res.sent != 600 || res.answered != res.sent || res.lost != 0 || res.nodata != res.sent {
		t.Fatalf("sent %d answered %d lost %d nodata %d", res.sent, res.answered, res.lost, res.nodata)
	}
	if res.hist.n != res.sent || res.hist.quantile(0.5) <= 0 {
		t.Fatalf("histogram: n %d p50 %d", res.hist.n, res.hist.quantile(0.5))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
