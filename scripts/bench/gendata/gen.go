package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/skydns/skydns/internal/health"
	"github.com/skydns/skydns/internal/record"
)

// Spec says what to generate. Every output is a pure function of it, so the
// etcd data, the Knot zone and the query file always describe the same names.
type Spec struct {
	Prefix     string // record prefix, e.g. /skydns
	StatusPath string // health status directory, e.g. /skydns/monitor/status/
	Zone       string // e.g. bench.skydns.local.
	Names      int    // n0 .. n<Names-1>
	IPsPerName int    // A records per name
	DownPct    int    // share of IPs (percent) whose status is DOWN
	Seed       uint64 // DOWN choice and query order
	// Spread takes address k of name i from the k-th stretch of the pool
	// (i, Names+i, 2*Names+i, ...) instead of next to each other, so that
	// one name's addresses lie far apart and site networks (Sites) can put
	// them in different sites. Same set of used addresses either way.
	Spread bool
}

// The addresses are served, never contacted: documentation ranges first,
// then the benchmarking range 198.18.0.0/15. Names reuse addresses once the
// pool is exhausted (only at very large N).
var pools = []netip.Prefix{
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
}

// ipPool lists the usable host addresses of pools (network and broadcast
// addresses of each /24 left out), in order.
func ipPool() []netip.Addr {
	var out []netip.Addr
	for _, p := range pools {
		base := binary.BigEndian.Uint32(p.Addr().AsSlice())
		size := uint32(1) << (32 - p.Bits())
		for i := uint32(0); i < size; i++ {
			v := base + i
			if b := v & 0xff; b == 0 || b == 255 {
				continue
			}
			var a [4]byte
			binary.BigEndian.PutUint32(a[:], v)
			out = append(out, netip.AddrFrom4(a))
		}
	}
	return out
}

// Plan is a Spec expanded: the addresses of every name and which are down.
type Plan struct {
	Spec
	pool []netip.Addr
}

// NewPlan validates s and prepares the address pool.
func NewPlan(s Spec) (*Plan, error) {
	if s.Names <= 0 {
		return nil, fmt.Errorf("names must be positive, got %d", s.Names)
	}
	if s.IPsPerName <= 0 || s.IPsPerName > 16 {
		return nil, fmt.Errorf("ips per name must be 1..16, got %d", s.IPsPerName)
	}
	if s.DownPct < 0 || s.DownPct > 100 {
		return nil, fmt.Errorf("down percentage must be 0..100, got %d", s.DownPct)
	}
	zone, err := record.NormalizeName(s.Zone)
	if err != nil {
		return nil, err
	}
	s.Zone = zone
	pool := ipPool()
	if s.Spread {
		// Addresses k1 and k2 of a name coincide when (k2-k1)*Names is a
		// multiple of the pool's size.
		for d := 1; d < s.IPsPerName; d++ {
			if d*s.Names%len(pool) == 0 {
				return nil, fmt.Errorf("spread layout: %d names give a name the same address twice (pool of %d)", s.Names, len(pool))
			}
		}
	}
	return &Plan{Spec: s, pool: pool}, nil
}

// Name is the owner name of name number i.
func (p *Plan) Name(i int) string { return "n" + strconv.Itoa(i) + "." + p.Zone }

// Label is the first label of name number i, as written in the zone file.
func (p *Plan) Label(i int) string { return "n" + strconv.Itoa(i) }

// IP is address k (0 <= k < IPsPerName) of name i: consecutive pool
// entries, or with Spread one from each stretch of Names entries; either
// way the addresses of one name are distinct.
func (p *Plan) IP(i, k int) netip.Addr {
	if p.Spread {
		return p.pool[(k*p.Names+i)%len(p.pool)]
	}
	return p.pool[(i*p.IPsPerName+k)%len(p.pool)]
}

// UsedIPs is how many distinct addresses the names use.
func (p *Plan) UsedIPs() int { return min(p.Names*p.IPsPerName, len(p.pool)) }

// UsedIP is distinct address j, 0 <= j < UsedIPs().
func (p *Plan) UsedIP(j int) netip.Addr { return p.pool[j] }

// Down reports whether ip's status is DOWN: a seeded hash, so about DownPct
// percent of addresses are down, spread over the names.
func (p *Plan) Down(ip netip.Addr) bool {
	b := ip.As4()
	return splitmix(p.Seed^uint64(binary.BigEndian.Uint32(b[:])))%100 < uint64(p.DownPct)
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Record returns the record of address k of name i, its key and its value,
// exactly as SkyDNS writes records.
func (p *Plan) Record(i, k int) (key string, value []byte, err error) {
	r := record.Record{Type: record.TypeA, Host: p.IP(i, k).String()}
	value, err = r.Encode()
	if err != nil {
		return "", nil, err
	}
	return record.Key(p.Prefix, p.Name(i), record.ID(r)), value, nil
}

// Status returns the status key and value of ip.
func (p *Plan) Status(ip netip.Addr) (key string, value []byte, err error) {
	st := health.Status{Status: health.Up.String()}
	if p.Down(ip) {
		st.Status = health.Down.String()
	}
	value, err = health.Encode(st)
	return health.Key(p.StatusPath, ip), value, err
}

// Stats counts what Load wrote.
type Stats struct {
	Records, Statuses, Down, Txns int64
}

// Load writes every record and status key into etcd in transactions of at
// most txnOps puts, workers at a time. Existing keys are overwritten, so a
// second Load of the same plan leaves the same data.
func (p *Plan) Load(ctx context.Context, cli *clientv3.Client, txnOps, workers int, progress func(Stats)) (Stats, error) {
	if txnOps <= 0 || txnOps > 128 {
		return Stats{}, fmt.Errorf("txn ops must be 1..128 (etcd's default limit), got %d", txnOps)
	}
	if workers <= 0 {
		workers = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	batches := make(chan []clientv3.Op, workers*2)
	var st Stats
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}

	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ops := range batches {
				if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
					fail(fmt.Errorf("etcd txn: %w", err))
					continue
				}
				n := atomic.AddInt64(&st.Txns, 1)
				if progress != nil && n%1000 == 0 {
					progress(Stats{Records: atomic.LoadInt64(&st.Records), Statuses: atomic.LoadInt64(&st.Statuses), Txns: n})
				}
			}
		}()
	}

	produce := func() error {
		defer close(batches)
		ops := make([]clientv3.Op, 0, txnOps)
		flush := func() bool {
			if len(ops) == 0 {
				return true
			}
			select {
			case batches <- ops:
			case <-ctx.Done():
				return false
			}
			ops = make([]clientv3.Op, 0, txnOps)
			return true
		}
		put := func(k string, v []byte) bool {
			ops = append(ops, clientv3.OpPut(k, string(v)))
			if len(ops) == txnOps {
				return flush()
			}
			return true
		}
		for j := range p.UsedIPs() {
			k, v, err := p.Status(p.UsedIP(j))
			if err != nil {
				return err
			}
			if !put(k, v) {
				return ctx.Err()
			}
			atomic.AddInt64(&st.Statuses, 1)
			if p.Down(p.UsedIP(j)) {
				st.Down++ // producer only
			}
		}
		for i := range p.Names {
			for k := range p.IPsPerName {
				key, v, err := p.Record(i, k)
				if err != nil {
					return err
				}
				if !put(key, v) {
					return ctx.Err()
				}
			}
			atomic.AddInt64(&st.Records, int64(p.IPsPerName))
		}
		if !flush() {
			return ctx.Err()
		}
		return nil
	}
	if err := produce(); err != nil {
		fail(err)
	}
	wg.Wait()
	if firstErr != nil {
		return st, firstErr
	}
	return st, nil
}

// WriteZone writes a zone file for Knot (or any RFC 1035 server) with the
// same names and addresses, all of them: an authoritative server has no
// notion of health.
func (p *Plan) WriteZone(w io.Writer, ttl uint32) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	fmt.Fprintf(bw, "$ORIGIN %s\n$TTL %d\n", p.Zone, ttl)
	fmt.Fprintf(bw, "@\tIN\tSOA\tns.%s hostmaster.%s 1 3600 600 86400 %d\n", p.Zone, p.Zone, ttl)
	fmt.Fprintf(bw, "@\tIN\tNS\tns.%s\n", p.Zone)
	fmt.Fprintf(bw, "ns\tIN\tA\t192.0.2.53\n")
	for i := range p.Names {
		l := p.Label(i)
		for k := range p.IPsPerName {
			bw.WriteString(l)
			bw.WriteString("\tIN\tA\t")
			bw.WriteString(p.IP(i, k).String())
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

// WriteQueries writes a dnsperf data file of lines A queries ("name A"),
// each name once per pass over the names, in a seeded random order.
func (p *Plan) WriteQueries(w io.Writer, lines int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	rng := rand.New(rand.NewPCG(p.Seed, 0x5eed))
	perm := make([]int32, p.Names)
	for written := 0; written < lines; {
		for i := range perm {
			perm[i] = int32(i)
		}
		rng.Shuffle(len(perm), func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		for _, i := range perm {
			if written == lines {
				break
			}
			bw.WriteString(p.Name(int(i)))
			bw.WriteString(" A\n")
			written++
		}
	}
	return bw.Flush()
}
