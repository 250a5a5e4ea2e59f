package e2e

import (
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/skydns/skydns/internal/etcdtest"
	mt "github.com/skydns/skydns/internal/monitor/monitortest"
	"github.com/skydns/skydns/internal/policy"
)

// portListener is a TCP listener on one port of a host, that the test
// kills and starts again on the same address.
type portListener struct {
	t    *testing.T
	addr netip.AddrPort
	ln   net.Listener
}

func listenPort(t *testing.T, addr netip.AddrPort) *portListener {
	t.Helper()
	p := &portListener{t: t, addr: addr}
	p.start()
	t.Cleanup(p.kill)
	return p
}

func (p *portListener) start() {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ln, err := net.Listen("tcp", p.addr.String())
		if err == nil {
			p.ln = ln
			break
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("listen %s: %v", p.addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if p.addr.Port() == 0 {
		p.addr = netip.MustParseAddrPort(p.ln.Addr().String())
	}
	go func(ln net.Listener) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}(p.ln)
}

func (p *portListener) kill() {
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
}

// The web/db example of issue 12, end to end: one host behind web (its
// check: port A) and db (its check: port B). When the db port's listener
// dies, a real DNS query shows db losing the host while web keeps it; when
// it comes back, db has it again. Real agents, schedule, etcd and DNS
// server, in one process.
func TestPerCheckVerdictReachesDNSAnswers(t *testing.T) {
	etcd := etcdtest.Start(t)
	cli := etcd.Client()
	host := mt.LoopbackIPs(1)[0]
	webL := listenPort(t, netip.AddrPortFrom(host, 0))
	dbL := listenPort(t, netip.AddrPortFrom(host, 0))
	mt.PutRecord(t, cli, mt.Prefix, "web.skydns.local.", host)
	mt.PutRecord(t, cli, mt.Prefix, "db.skydns.local.", host)
	// all-down none: with its one address DOWN a name answers nothing,
	// rather than every address (the default), so the loss shows.
	mt.PutPolicy(t, cli, mt.Prefix, "web.skydns.local.",
		policy.Policy{AllDown: policy.AllDownNone, Check: &policy.Check{Ports: []int{int(webL.addr.Port())}}})
	mt.PutPolicy(t, cli, mt.Prefix, "db.skydns.local.",
		policy.Policy{AllDown: policy.AllDownNone, Check: &policy.Check{Ports: []int{int(dbL.addr.Port())}}})

	mt.StartSchedule(t, cli, mt.ScheduleConfig(t, "s1"))
	for _, name := range []string{"a1", "a2"} {
		mt.StartAgent(t, cli, mt.AgentConfig(t, name)) // no default port: each name's check decides
	}
	_, web := inProcessDNS(t, cli, "web.skydns.local.")
	_, db := inProcessDNS(t, cli, "db.skydns.local.")
	has := func(answer func() []string) bool { return slices.Contains(answer(), host.String()) }
	bound := time.Duration(mt.Fall)*mt.Interval + time.Second

	for _, step := range []struct {
		what          string
		do            func()
		webHas, dbHas bool
	}{
		{"both checks pass", func() {}, true, true},
		{"db's port dies", dbL.kill, true, false},
		{"db's port is back", dbL.start, true, true},
		{"web's port dies", webL.kill, false, true},
		{"web's port is back", webL.start, true, true},
	} {
		step.do()
		start := time.Now()
		mt.Eventually(t, bound+15*time.Second, step.what, func() bool {
			return has(web) == step.webHas && has(db) == step.dbHas
		})
		t.Logf("%s: web %v, db %v after %v", step.what, step.webHas, step.dbHas, time.Since(start).Round(time.Millisecond))
		// And it holds: the other name is not moved by its neighbour's check.
		for range 5 {
			if has(web) != step.webHas || has(db) != step.dbHas {
				t.Fatalf("%s: answers moved again: web %v db %v", step.what, web(), db())
			}
		}
	}
}
