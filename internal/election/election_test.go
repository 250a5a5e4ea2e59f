package election

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/skydns/skydns/internal/etcdtest"
	"github.com/skydns/skydns/internal/record"
)

const prefix = "/election/lock/"

// report is one thing a candidate reported, and when.
type report struct {
	what string // "granted", "standby <leader>", "lead <value>", "stepped down", "lost <err>", "failed"
	at   time.Time
	// lease is the lease of the term, on "lead".
	lease clientv3.LeaseID
}

// candidate runs Run and keeps what it reports.
type candidate struct {
	t       *testing.T
	reports chan report
	// quit makes the current term's Lead return errQuit.
	quit chan struct{}
	stop func()
}

var errQuit = errors.New("quit")

func start(t *testing.T, cli *clientv3.Client, value string, pfx string, ttl time.Duration) *candidate {
	t.Helper()
	return startWith(t, cli, value, pfx, ttl, 500*time.Millisecond)
}

func startWith(t *testing.T, cli *clientv3.Client, value string, pfx string, ttl, requestTimeout time.Duration) *candidate {
	t.Helper()
	c := &candidate{t: t, reports: make(chan report, 100), quit: make(chan struct{}, 1)}
	say := func(what string) { c.reports <- report{what: what, at: time.Now()} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, cli, Config{
			Prefix: pfx, Value: value, TTL: ttl, RequestTimeout: requestTimeout,
			Lead: func(ctx context.Context, el *concurrency.Election) error {
				if !strings.HasPrefix(el.Key(), strings.TrimRight(pfx, "/")+"/") {
					t.Errorf("election key %s, not under %s", el.Key(), pfx)
				}
				lease, err := strconv.ParseInt(path.Base(el.Key()), 16, 64)
				if err != nil {
					t.Errorf("election key %s: %v", el.Key(), err)
				}
				c.reports <- report{what: "lead " + value, at: time.Now(), lease: clientv3.LeaseID(lease)}
				select {
				case <-ctx.Done():
					return nil
				case <-c.quit:
					return errQuit
				}
			},
			Granted:     func() { say("granted") },
			Standby:     func(leader string) { say("standby " + leader) },
			SteppedDown: func() { say("stepped down") },
			Lost:        func(err error) { say("lost " + errString(err)) },
			Failed:      func(error) { say("failed") },
		})
	}()
	c.stop = func() {
		cancel()
		<-done
	}
	t.Cleanup(c.stop)
	return c
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// await waits up to d for the first report that match accepts, passing
// over the others, and returns it.
func (c *candidate) await(match func(what string) bool, d time.Duration) report {
	c.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case r := <-c.reports:
			if match(r.what) {
				return r
			}
		case <-timeout:
			c.t.Fatalf("no such report within %v", d)
		}
	}
}

// is matches the report what.
func is(what string) func(string) bool { return func(w string) bool { return w == what } }

// notGranted matches every report but "granted", which comes before each
// campaign.
func notGranted(what string) bool { return what != "granted" }

// revoked reports whether etcd no longer knows lease.
func revoked(t *testing.T, cli *clientv3.Client, lease clientv3.LeaseID) bool {
	t.Helper()
	resp, err := cli.TimeToLive(context.Background(), lease)
	if err != nil {
		t.Fatal(err)
	}
	return resp.TTL == -1
}

// Two candidates, a leading and b standing by, and the ways a's term can
// end: b leads after it, at once unless a could not resign, and a says
// how its term ended and then campaigns again or returns.
func TestTermEnds(t *testing.T) {
	for _, c := range []struct {
		name string
		ttl  time.Duration
		// end ends a's term; proxy is a's connection to etcd.
		end func(a *candidate, proxy *etcdtest.Proxy)
		// cut: end cut a off from etcd, so its session died.
		cut bool
		// report is what a says when its term has ended.
		report string
		// takeover bounds the time from end to b's term.
		takeover time.Duration
		// revoked: a's lease is gone at once, not after the TTL (an
		// expired one cannot be told from a revoked one).
		revoked bool
		// again: a campaigns again, and stands by; otherwise its Run
		// has returned.
		again bool
	}{
		{
			name: "stopped", ttl: 20 * time.Second,
			end:    func(a *candidate, _ *etcdtest.Proxy) { a.stop() },
			report: "stepped down", takeover: 2 * time.Second, revoked: true,
		},
		{
			name: "lead returns", ttl: 20 * time.Second,
			end:    func(a *candidate, _ *etcdtest.Proxy) { a.quit <- struct{}{} },
			report: "lost quit", takeover: 2 * time.Second, revoked: true, again: true,
		},
		{
			// a cannot resign: b waits for the lease to expire.
			name: "lease lost", ttl: 3 * time.Second,
			end: func(_ *candidate, proxy *etcdtest.Proxy) { proxy.Cut() }, cut: true,
			report: "lost <nil>", takeover: 3*time.Second + 3*time.Second, again: true,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := etcdtest.Start(t)
			cli := e.Client()
			proxy := e.Proxy()
			a := start(t, proxy.Client(t), "a", prefix, c.ttl)
			term := a.await(is("lead a"), 10*time.Second)
			b := start(t, cli, "b", prefix, c.ttl)
			b.await(is("standby a"), 10*time.Second)
			// Time for b to campaign, had it been able to win.
			select {
			case r := <-b.reports:
				t.Fatalf("b reported %q while a leads", r.what)
			case <-time.After(300 * time.Millisecond):
			}

			ended := time.Now()
			c.end(a, proxy)
			took := b.await(is("lead b"), c.takeover).at.Sub(ended)
			t.Logf("b leads %v after a's term ended (lease %v)", took.Round(time.Millisecond), c.ttl)
			ending := a.await(notGranted, c.ttl+5*time.Second)
			if ending.what != c.report {
				t.Fatalf("a reported %q, want %q", ending.what, c.report)
			}
			if c.cut {
				// Its session is dead: it goes on without trying to revoke
				// the lease (which would wait for etcd for up to the TTL),
				// and is refused its next one at once.
				failed := a.await(is("failed"), 2*c.ttl)
				if d := failed.at.Sub(ending.at); d > c.ttl/2 {
					t.Errorf("a's next attempt came %v after its term ended; want it without waiting to revoke a dead lease", d)
				}
				proxy.Restore()
			}
			if c.again {
				a.await(is("standby b"), 10*time.Second)
			}
			if c.revoked && !revoked(t, cli, term.lease) {
				t.Errorf("a's lease %x is still there", term.lease)
			}
			// b keeps the lead.
			select {
			case r := <-b.reports:
				t.Errorf("b reported %q while leading", r.what)
			case r := <-a.reports:
				t.Errorf("a reported %q while b leads", r.what)
			case <-time.After(300 * time.Millisecond):
			}
		})
	}
}

// A candidate that cannot reach etcd says so, keeps trying, and leads once
// etcd is back.
func TestUnreachable(t *testing.T) {
	e := etcdtest.Start(t)
	proxy := e.Proxy()
	proxy.Cut()
	a := start(t, proxy.Client(t), "a", prefix, 5*time.Second)
	if r := a.await(notGranted, 5*time.Second); r.what != "failed" {
		t.Fatalf("a reported %q, want failed", r.what)
	}
	a.await(is("failed"), 5*time.Second) // and again, after a backoff
	proxy.Restore()
	a.await(is("granted"), 10*time.Second)
	a.await(is("lead a"), 5*time.Second)
}

// A candidate that failed to campaign all through an outage longer than
// the longest backoff (5 s) leads within a second of etcd's return, not
// after sleeping out the backoff it grew meanwhile.
func TestLeadsAtOnceAfterLongOutage(t *testing.T) {
	e := etcdtest.Start(t)
	proxy := e.Proxy()
	proxy.Cut()
	a := start(t, proxy.Client(t), "a", prefix, 5*time.Second)
	cut := time.Now()
	for time.Since(cut) < 7*time.Second { // the outage: its length is the point
		a.await(is("failed"), 10*time.Second)
	}
	proxy.Restore()
	back := time.Now()
	r := a.await(is("lead a"), 10*time.Second)
	if took := r.at.Sub(back); took > 1500*time.Millisecond {
		t.Fatalf("led %s after etcd returned, want < 1.5 s", took.Round(time.Millisecond))
	}
}

// A lease grant in flight as etcd's leader dies (or quorum returns) is
// tried again within a second, not after the whole request timeout: the
// chaos suite saw a schedule lead 4 s after quorum's return, its grant
// waiting out 5 s. The candidate reaches a follower, which forwards the
// grant to the dead leader.
func TestGrantInFlightAsLeaderDies(t *testing.T) {
	const requestTimeout = 10 * time.Second
	members := etcdtest.Cluster(t, 3)
	l := members.Leader()
	cli := members.Proxy((l + 1) % 3).Client(t)
	members.Member(l).Kill()
	killed := time.Now()
	a := startWith(t, cli, "a", prefix, 5*time.Second, requestTimeout)
	r := a.await(is("lead a"), 2*requestTimeout)
	if took := r.at.Sub(killed); took > 3*time.Second {
		t.Fatalf("led %s after the etcd leader was killed, want within 3 s (request timeout %s)", took.Round(time.Millisecond), requestTimeout)
	}
}

// Elections whose prefixes differ do not wait on each other, even when
// one prefix is the other's beginning; a trailing slash makes no
// difference.
func TestPrefixes(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	for _, c := range []struct{ value, prefix string }{
		{"a", "/election/c1/"},
		{"b", "/election/c11"},
		{"c", "/election/c"},
	} {
		start(t, cli, c.value, c.prefix, 5*time.Second).await(is("lead "+c.value), 10*time.Second)
	}
	// The same prefix with and without its slash is one election.
	start(t, cli, "d", "/election/c1", 5*time.Second).await(is("standby a"), 10*time.Second)
}

// The election key's value is JSON that a reader of the SkyDNS message
// format reads as a record of nothing, and a standby reads the holder's
// name from it.
func TestKeyValueIsJSON(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	start(t, cli, "sched-1.example", "/skydns/monitor/lock", 5*time.Second).await(is("lead sched-1.example"), 10*time.Second)
	resp, err := cli.Get(context.Background(), "/skydns/monitor/lock/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 {
		t.Fatalf("%d election keys, want 1", len(resp.Kvs))
	}
	v := resp.Kvs[0].Value
	if string(v) != `{"holder":"sched-1.example"}` {
		t.Errorf("value %s, want {\"holder\":\"sched-1.example\"}", v)
	}
	var m record.Foreign
	if err := json.Unmarshal(v, &m); err != nil || m != (record.Foreign{}) {
		t.Errorf("as the SkyDNS message format: %+v, %v; want nothing", m, err)
	}
	start(t, cli, "sched-2.example", "/skydns/monitor/lock", 5*time.Second).await(is("standby sched-1.example"), 10*time.Second)
}

// During an upgrade a candidate of the old version holds a plain-text
// value: the new one reads its name, waits, and takes over when it goes.
func TestOldPlainTextHolder(t *testing.T) {
	e := etcdtest.Start(t)
	cli := e.Client()
	ctx := context.Background()
	g, err := cli.Grant(ctx, 30)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, fmt.Sprintf("/skydns/monitor/lock/%x", g.ID), "old-host", clientv3.WithLease(g.ID)); err != nil {
		t.Fatal(err)
	}
	b := start(t, cli, "new-host", "/skydns/monitor/lock", 5*time.Second)
	b.await(is("standby old-host"), 10*time.Second)
	if _, err := cli.Revoke(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	b.await(is("lead new-host"), 10*time.Second)
}

func TestHolder(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"holder":"h1"}`, "h1"},
		{`{"holder":"h1","more":1}`, "h1"},
		{"h1", "h1"},               // the old plain text
		{"h1\n", "h1"},             // written by hand
		{`{"holder"`, `{"holder"`}, // not JSON: shown as it is
		{"", ""},
	} {
		if got := Holder([]byte(c.in)); got != c.want {
			t.Errorf("Holder(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// A candidate told to stop while etcd is out of its reach returns within
// its RequestTimeout (500 ms here), whatever it was doing: it gives up
// resigning and revoking, and its lease expires with the TTL. The TTL is
// long, so that waiting for it (or for etcd) cannot pass for a stop.
func TestStopWithEtcdGone(t *testing.T) {
	const ttl = 30 * time.Second
	for _, c := range []struct {
		name string
		// leads: a leads when it is cut off; otherwise b leads and a
		// stands by, in the middle of its campaign.
		leads bool
	}{
		{name: "leader", leads: true},
		{name: "standby"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := etcdtest.Start(t)
			proxy := e.Proxy()
			if !c.leads {
				start(t, e.Client(), "b", prefix, ttl).await(is("lead b"), 10*time.Second)
			}
			acli := proxy.Client(t)
			a := start(t, acli, "a", prefix, ttl)
			if c.leads {
				a.await(is("lead a"), 10*time.Second)
			} else {
				a.await(is("standby b"), 10*time.Second)
			}

			proxy.Cut()
			stopped := make(chan struct{})
			begin := time.Now()
			go func() { a.stop(); close(stopped) }()
			select {
			case <-stopped:
				t.Logf("a stopped %v after it was told to", time.Since(begin).Round(time.Millisecond))
			case <-time.After(5 * time.Second):
				acli.Close() // what a daemon does only after Run has returned
				<-stopped
				t.Fatalf("a stopped only when its client closed, %v after it was told to", time.Since(begin).Round(time.Millisecond))
			}
		})
	}
}
