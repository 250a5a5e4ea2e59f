package chaos

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A schedule leader paused (SIGSTOP) past its lease is replaced; when it
// resumes it still believes it leads until its next write, and etcd refuses
// that write: every write of a term is guarded by the creation revision of
// the election key the term was won with, and that key died with the
// lease. So at most one schedule's writes land at any time.
func TestDeposedScheduleLeaderIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-member etcd cluster and the whole stack")
	}
	s := startStack(t, 2, 1, 1)
	var holder, key string
	var rev int64
	waitFor(t, 30*time.Second, "a schedule leader", func() bool { holder, key, rev = s.schedLeader(); return holder != "" })
	old, other := s.scheds[0], s.scheds[1]
	if holder == "sched1" {
		old, other = other, old
	}
	t.Logf("leader %s (election key %s, created at revision %d)", old.name, key, rev)

	if err := old.signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	took := waitFor(t, lockTTL+20*time.Second, "the standby takes over", func() bool {
		h, _, _ := s.schedLeader()
		return h == other.name
	})
	t.Logf("%s paused; %s leads after %v (lock-ttl %v)", old.name, other.name, took.Round(time.Millisecond), lockTTL)

	// The old term's guard, exactly as skydns-schedule builds it, no longer
	// holds in etcd.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := s.etcd.admin.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", rev)).
		Then(clientv3.OpPut("/skydns/monitor/status/127.0.0.1", "deposed")).Commit()
	if err != nil {
		t.Fatal(err)
	}
	if resp.Succeeded {
		t.Fatal("a write guarded by the deposed leader's election key was applied")
	}

	// Resume it: it must find out through a refused write or its dead
	// session, and step down; the new leader keeps the lead.
	if err := old.signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, old.name+" logs that it lost the lead", func() bool {
		b, _ := os.ReadFile(old.log)
		return strings.Contains(string(b), "lost the lead")
	})
	b, _ := os.ReadFile(old.log)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "lost the lead") {
			t.Logf("%s after %v paused: %s", old.name, time.Since(stopped).Round(time.Millisecond), line)
		}
	}
	if h, _, _ := s.schedLeader(); h != other.name {
		t.Errorf("leader after the resume: %q, want %s", h, other.name)
	}
	if e := s.exits(); len(e) > 0 {
		t.Errorf("unexpected exits: %v", e)
	}
}
