package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// qrec is one DNS query of the load: the client tries one replica and, on
// no answer within queryTimeout, the other, as a stub resolver with two
// nameservers does. It failed only if neither answered.
type qrec struct {
	sent time.Time
	name string
	net  string
	ok   bool
	ips  []string
}

const queryTimeout = 700 * time.Millisecond

// dnsLoad sends rate queries a second until ctx ends or max have been
// sent; at most 64 are in flight (a query that finds the generator full is
// counted as failed: the bound must not hide a stall).
func (s *stack) dnsLoad(ctx context.Context, rate, max int) []qrec {
	recs := make([]qrec, max)
	names := make([]string, 0, len(s.names))
	for n := range s.names {
		names = append(names, n)
	}
	slices.Sort(names)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	n := 0
loop:
	for ; n < max; n++ {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
		}
		r := &recs[n]
		r.sent = time.Now()
		r.name = names[n%len(names)]
		r.net = "udp"
		if (n/len(names))%2 == 1 {
			r.net = "tcp"
		}
		select {
		case sem <- struct{}{}:
		default:
			continue // failed: the generator is saturated
		}
		first := n % 2
		wg.Go(func() {
			defer func() { <-sem }()
			for _, i := range []int{first, 1 - first} {
				ips, err := query(s.dnsAddrs[i], r.net, r.name+".skydns.local.", queryTimeout)
				if err == nil {
					r.ok, r.ips = true, ips
					return
				}
			}
		})
	}
	wg.Wait()
	return recs[:n]
}

// wrec is one API write and its answer.
type wrec struct {
	start, end time.Time
	key        string // "name:w3" or "override:127.x.y.z"
	op         string // add, delete, drain, undrain
	arg        string
	code       int
	err        string
}

// class says what the answer promises about the write.
func (w wrec) class() string {
	switch {
	case w.code == 200:
		return "ack"
	case w.code == 503:
		return "ambiguous"
	case w.code == 0 && strings.Contains(w.err, "connection refused"):
		return "not sent"
	case w.code == 0 || w.code >= 500:
		return "ambiguous"
	default:
		return "refused"
	}
}

// apiLoad writes names and overrides, one request at a time, every 100 ms,
// until ctx ends or max requests.
func (s *stack) apiLoad(ctx context.Context, rng *rand.Rand, ips []netip.Addr, max int) []wrec {
	var recs []wrec
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for len(recs) < max {
		select {
		case <-ctx.Done():
			return recs
		case <-tick.C:
		}
		name := fmt.Sprintf("w%d", rng.IntN(6))
		ip := ips[rng.IntN(len(ips))].String()
		var w wrec
		var method, path, body string
		switch p := rng.IntN(10); {
		case p < 4:
			w = wrec{key: "name:" + name, op: "add", arg: ip}
			method, path, body = "POST", "/skydns/api/"+name, fmt.Sprintf(`{"type":"A","ips":[%q]}`, ip)
		case p < 6:
			w = wrec{key: "name:" + name, op: "delete"}
			method, path = "DELETE", "/skydns/api/"+name
		case p < 8:
			w = wrec{key: "override:" + ip, op: "drain"}
			method, path, body = "PUT", "/skydns/overrides/"+ip, `{"status":"DOWN","reason":"chaos"}`
		default:
			w = wrec{key: "override:" + ip, op: "undrain"}
			method, path = "DELETE", "/skydns/overrides/"+ip
		}
		w.start = time.Now()
		code, err := s.call(method, path, body)
		w.end, w.code = time.Now(), code
		if err != nil {
			w.err = err.Error()
			if errors.Is(err, syscall.ECONNREFUSED) {
				w.err = "connection refused"
			}
		}
		recs = append(recs, w)
	}
	return recs
}

// apply is a write's effect on a key's state (a name's sorted IPs joined
// with ","; an override's "DOWN"; "" for absent).
func (w wrec) apply(state string) string {
	switch w.op {
	case "add":
		ips := []string{}
		if state != "" {
			ips = strings.Split(state, ",")
		}
		if !slices.Contains(ips, w.arg) {
			ips = append(ips, w.arg)
		}
		slices.Sort(ips)
		return strings.Join(ips, ",")
	case "drain":
		return "DOWN"
	}
	return ""
}

// possible replays the log: the states each key may be in at the end. An
// acknowledged write fixes the state; an ambiguous one may or may not have
// happened; a refused or unsent one did not.
func possible(log []wrec) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, w := range log {
		ps := out[w.key]
		if ps == nil {
			ps = map[string]bool{"": true}
		}
		switch w.class() {
		case "ack":
			next := map[string]bool{}
			for s := range ps {
				next[w.apply(s)] = true
			}
			ps = next
		case "ambiguous":
			var more []string
			for s := range ps {
				more = append(more, w.apply(s))
			}
			for _, s := range more {
				ps[s] = true
			}
		}
		out[w.key] = ps
	}
	return out
}
